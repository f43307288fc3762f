"""An index's files are written whole or not at all, with the same bytes past the page cache as through it."""

from __future__ import annotations

import errno
import os

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bertviz_core.corpus.files import BLOCK, DirectFile, FileImage, write_whole

BUFFER = 4 * BLOCK


def pieces(data: bytes, sizes: list[int]):
    """``data`` cut into pieces of ``sizes`` in turn (the pyarrow and FAISS writers hand over pieces of any size)."""
    start, turn = 0, 0
    while start < len(data):
        yield data[start:start + sizes[turn % len(sizes)]]
        start += sizes[turn % len(sizes)]
        turn += 1


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, BUFFER, BUFFER + 1, 3 * BUFFER + 17])
@pytest.mark.parametrize("sizes", [[1 << 20], [1, 4095, 7, BUFFER + 3]])
def test_a_file_holds_exactly_what_was_written_at_any_size(tmp_path, size, sizes):
    data = np.random.default_rng(size).integers(0, 256, size, np.uint8).tobytes()
    path = tmp_path / "file"
    with DirectFile(path, BUFFER) as file:
        for piece in pieces(data, sizes):
            assert file.write(piece) == len(piece)
        assert file.tell() == size
    assert path.read_bytes() == data


@pytest.mark.parametrize("size_hint", [0, BLOCK, 10 * BUFFER])
def test_a_file_image_saves_exactly_what_was_written_into_memory_it_keeps(tmp_path, size_hint):
    """Each file is at once bigger and smaller than the one before, so the memory both grows and holds stale bytes
    past the new file's end."""
    image = FileImage()
    for number, size in enumerate([BUFFER + 1, 0, 3 * BUFFER + 17, BLOCK - 1, BLOCK, 2 * BUFFER]):
        data = np.random.default_rng(size).integers(0, 256, size, np.uint8).tobytes()
        image.clear(size_hint)
        for piece in pieces(data, [1, 4095, 7, BUFFER + 3]):
            assert image.write(piece) == len(piece)
        assert image.tell() == size
        image.save(tmp_path / f"{number}")
        assert (tmp_path / f"{number}").read_bytes() == data
    image.close()


def test_a_file_image_saves_through_the_page_cache_without_o_direct(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECT", raising=False)
    with FileImage() as image:
        image.write(b"x" * (BLOCK + 5))
        image.save(tmp_path / "file")
    assert (tmp_path / "file").read_bytes() == b"x" * (BLOCK + 5)


def test_a_file_image_that_fails_to_save_leaves_the_name_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "shards" / "00000.parquet"
    with FileImage() as image:
        image.write(b"whole")
        image.save(path)
        image.clear()
        image.write(b"x" * BUFFER)

        def disk_full(fd, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", disk_full)
        with pytest.raises(OSError, match="No space left"):
            image.save(path)
    assert path.read_bytes() == b"whole"


def test_on_linux_the_file_bypasses_the_page_cache(tmp_path):
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("O_DIRECT is Linux's")
    with DirectFile(tmp_path / "file") as file:
        file.write(b"x")
    assert file.direct  # the test folder's file system (ext4 here) takes O_DIRECT


def test_without_o_direct_the_file_goes_through_the_page_cache(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECT", raising=False)  # as on macOS
    data = bytes(range(256)) * 100
    with DirectFile(tmp_path / "file", BUFFER) as file:
        for piece in pieces(data, [1000]):
            file.write(piece)
    assert not file.direct
    assert (tmp_path / "file").read_bytes() == data


def test_a_failed_write_leaves_the_name_as_it_was(tmp_path):
    path = tmp_path / "index" / "layer-1.faiss"
    write_whole(path, lambda file: file.write(b"whole"))

    def broken(file) -> None:
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_whole(path, broken)
    assert path.read_bytes() == b"whole"


def test_faiss_and_parquet_files_equal_those_their_libraries_write(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((1000, 48)).astype(np.float32)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(48))
    index.add_with_ids(vectors, np.arange(1000, dtype=np.int64) * 7)
    faiss.write_index(index, str(tmp_path / "by-faiss.faiss"))
    write_whole(tmp_path / "ours.faiss", lambda file: faiss.write_index(index, faiss.PyCallbackIOWriter(file.write)))
    assert (tmp_path / "ours.faiss").read_bytes() == (tmp_path / "by-faiss.faiss").read_bytes()
    read = faiss.read_index(str(tmp_path / "ours.faiss"))
    assert np.array_equal(faiss.vector_to_array(read.id_map), np.arange(1000) * 7)

    table = pa.table({"id": np.arange(1000), "vector": pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(48 * 4), 1000, [None, pa.py_buffer(vectors)])})
    pq.write_table(table, tmp_path / "by-pyarrow.parquet")
    write_whole(tmp_path / "ours.parquet", lambda file: pq.write_table(table, file))
    with FileImage() as image:
        pq.write_table(table, image)
        image.save(tmp_path / "image.parquet")
    for ours in ("ours.parquet", "image.parquet"):
        assert (tmp_path / ours).read_bytes() == (tmp_path / "by-pyarrow.parquet").read_bytes()

    def npy(file) -> None:  # as a compressed index's exact vectors are written, shard by shard
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False, "shape": vectors.shape})
        for part in np.array_split(vectors, 3):
            file.write(part)

    write_whole(tmp_path / "ours.npy", npy)
    assert np.array_equal(np.load(tmp_path / "ours.npy", mmap_mode="r"), vectors)
