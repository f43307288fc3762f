"""An index's files: written whole or not at all, with the bytes written and the bytes FAISS, Parquet and numpy
write themselves, past the page cache or through it; and FAISS over the shards' vectors finds what a brute-force numpy
search finds."""

from __future__ import annotations

import os

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bertviz_core.corpus import store
from bertviz_core.corpus.encode import float32_column, float32_field, vector_column
from bertviz_core.corpus.files import BLOCK, DirectFile, write_whole

LAYER, D = 3, 48
BUFFER = 4 * BLOCK


def pieces(data: bytes, sizes: list[int]):
    """``data`` cut into pieces of ``sizes`` in turn (the pyarrow and FAISS writers hand over pieces of any size)."""
    start, turn = 0, 0
    while start < len(data):
        yield data[start:start + sizes[turn % len(sizes)]]
        start += sizes[turn % len(sizes)]
        turn += 1


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, BUFFER, BUFFER + 1, 3 * BUFFER + 17])
@pytest.mark.parametrize("direct", [True, False])
def test_a_file_holds_exactly_what_was_written_at_any_size(tmp_path, monkeypatch, size, direct):
    if not direct:
        monkeypatch.delattr(os, "O_DIRECT", raising=False)  # as on macOS: through the page cache
    data = np.random.default_rng(size).integers(0, 256, size, np.uint8).tobytes()
    with DirectFile(tmp_path / "file", BUFFER) as file:
        for piece in pieces(data, [1, 4095, 7, BUFFER + 3]):
            assert file.write(piece) == len(piece)
        assert file.tell() == size
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
    assert [p.name for p in path.parent.iterdir()] == ["layer-1.faiss"]  # nor is a half-written file left beside it


def test_faiss_parquet_and_npy_files_equal_those_their_libraries_write(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((1000, D)).astype(np.float32)
    index = faiss.IndexFlatIP(D)
    index.add(vectors)
    faiss.write_index(index, str(tmp_path / "by-faiss.faiss"))
    write_whole(tmp_path / "ours.faiss",
                      lambda file: faiss.write_index(index, faiss.PyCallbackIOWriter(file.write)))
    assert (tmp_path / "ours.faiss").read_bytes() == (tmp_path / "by-faiss.faiss").read_bytes()

    table = pa.table({"id": np.arange(1000)}).append_column(float32_field(vector_column(LAYER), D),
                                                            float32_column(vectors))
    pq.write_table(table, tmp_path / "by-pyarrow.parquet")
    write_whole(tmp_path / "ours.parquet", lambda file: pq.write_table(table, file))
    assert (tmp_path / "ours.parquet").read_bytes() == (tmp_path / "by-pyarrow.parquet").read_bytes()

    def npy(file) -> None:  # as a compressed index's vectors are written, shard by shard
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False, "shape": vectors.shape})
        for part in np.array_split(vectors, 3):
            file.write(part)

    write_whole(tmp_path / "ours.npy", npy)
    np.save(tmp_path / "by-numpy.npy", vectors)
    assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "by-numpy.npy").read_bytes()


def shards_of(tmp_path, vectors: np.ndarray, parts: int) -> list:
    """Token shards holding ``vectors`` at LAYER, in row order, as the build writes them."""
    shards = []
    for number, part in enumerate(np.array_split(vectors, parts)):
        table = pa.table({"id": np.arange(len(part))}).append_column(float32_field(vector_column(LAYER), D),
                                                                     float32_column(part))
        shards.append(store.shard_path(tmp_path, number))
        write_whole(shards[-1], lambda file, table=table: store._write_rows(table, file))
    return shards


def cosines(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """[Q, N] by numpy alone."""
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ units.T


def test_an_exact_index_built_from_the_shards_finds_what_numpy_finds(tmp_path):
    generator = np.random.default_rng(1)
    vectors = (generator.standard_normal((2000, D)) * generator.uniform(0.1, 10, (2000, 1))).astype(np.float32)
    queries = generator.standard_normal((20, D)).astype(np.float32)
    index = store.exact_index(shards_of(tmp_path, vectors, 3), LAYER, D)
    units = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores, rows = index.search(units, 10)
    expected = cosines(vectors, queries)
    assert np.array_equal(rows, np.argsort(-expected, axis=1, kind="stable")[:, :10])
    np.testing.assert_allclose(scores, np.take_along_axis(expected, rows, axis=1), atol=1e-5)


def test_a_compressed_index_labels_rows_and_stores_each_vector_once_in_its_npy(tmp_path):
    generator = np.random.default_rng(2)
    vectors = generator.standard_normal((3000, D)).astype(np.float32)
    queries = vectors[generator.choice(len(vectors), 20)] + 0.3 * generator.standard_normal((20, D)).astype(np.float32)
    index = store._compressed_index(shards_of(tmp_path, vectors, 2), LAYER, len(vectors), tmp_path / "stored.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "stored.npy"), vectors)
    faiss.extract_index_ivf(index).nprobe = 16
    _, rows = index.search(queries / np.linalg.norm(queries, axis=1, keepdims=True), 200)
    best = np.argmax(cosines(vectors, queries), axis=1)
    assert np.mean([best[q] in rows[q] for q in range(len(queries))]) >= 0.9  # the true best among the candidates
