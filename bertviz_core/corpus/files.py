"""Writing an index's files: each whole under its name or not at all, on disk before it is renamed, and the big ones
past the page cache.

On this kind of machine (a virtual disk under ext4) copying into the page cache is what costs: writing 800 MB
through it took 1.6 to 2.5 s of CPU, and O_DIRECT from one reused aligned buffer 0.4 s (bench/corpus.py's build,
BERT-base-sized: its shards and FAISS indexes are 1.6 GB). A build writes as much as it computes, while its forward
passes keep every core busy, so that CPU comes straight off its throughput.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

BLOCK = 4096
"""O_DIRECT writes whole blocks from aligned memory at aligned offsets: 4096 covers every common disk."""
BUFFER_BYTES = 8 << 20
"""The buffer a file is written through: big enough for few system calls, small enough to stay in the CPU's cache."""


def write_whole(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """``write`` the file at ``path`` past the page cache, whole or not at all (``replaced``)."""
    with replaced(path) as temporary, DirectFile(temporary) as file:
        write(file)


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A temporary name to write ``path`` under, renamed to it once written: a reader or a restarted build sees the
    whole file or none, and a crash never leaves a whole name with lost contents (files are on disk when closed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    yield temporary
    os.replace(temporary, path)


class DirectFile(io.RawIOBase):
    """A new file, written through one page-aligned buffer past the page cache (O_DIRECT) where the system and the
    file system allow it (elsewhere, such as on macOS, through the page cache), and on disk once closed."""

    def __init__(self, path: Path, buffer_bytes: int = BUFFER_BYTES) -> None:
        super().__init__()
        self._fd, self.direct = _open(path)
        self._buffer = mmap.mmap(-1, _blocks(buffer_bytes))  # whole blocks: only the file's last one is cut
        self._filled = self._size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        done = 0
        while done < len(data):
            count = min(len(data) - done, len(self._buffer) - self._filled)
            self._buffer[self._filled:self._filled + count] = data[done:done + count]
            self._filled += count
            done += count
            if self._filled == len(self._buffer):
                self._drain()
        self._size += len(data)
        return len(data)

    def _drain(self) -> None:
        _write_out(self._fd, self._buffer, self._filled, self.direct)
        self._filled = 0

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._drain()
            _on_disk(self._fd, self._size)
        finally:
            os.close(self._fd)
            self._buffer.close()
            super().close()


class FileImage(io.RawIOBase):
    """A file's bytes, written into page-aligned memory that is kept from one file to the next, then saved to disk
    whole and past the page cache: making the bytes costs CPU and saving them mostly waits for the disk, so a build
    makes each shard's file between its forward passes and saves it in the background. Writing the same shard
    through a ``DirectFile`` in the background slowed the forward passes beside it by its CPU and more, since a
    forward pass waits for the slower of its threads: made here, a BERT-base-sized build of 20,000 tokens (17 s)
    took 0.5 s less on average, in alternation with the other way. Saving a 256 MB file takes 5 ms of CPU."""

    def __init__(self, size_hint: int = BLOCK) -> None:
        super().__init__()
        self._memory = mmap.mmap(-1, _blocks(size_hint))
        self._size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def clear(self, size_hint: int = 0) -> None:
        """Start another file in the same memory, grown now if it holds less than ``size_hint`` bytes."""
        self._size = 0
        self._grow(size_hint)

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        self._grow(self._size + len(data))
        self._memory[self._size:self._size + len(data)] = data
        self._size += len(data)
        return len(data)

    def _grow(self, size: int) -> None:
        """Memory for ``size`` bytes, with room to spare: a build's shards differ in size by some percent, and filling
        fresh memory costs 0.1 s per 256 MB here (only the pages written to are ever taken)."""
        if size > len(self._memory):
            grown = mmap.mmap(-1, _blocks(max(size + size // 4, 2 * len(self._memory))))
            grown[:self._size] = self._memory[:self._size]
            self._memory.close()
            self._memory = grown

    def save(self, path: Path) -> None:
        """Write the file's bytes to ``path``, whole or not at all (``replaced``)."""
        with replaced(path) as temporary:
            fd, direct = _open(temporary)
            try:
                _write_out(fd, self._memory, self._size, direct)
                _on_disk(fd, self._size)
            finally:
                os.close(fd)

    def close(self) -> None:
        if not self.closed:
            self._memory.close()
            super().close()


def _blocks(size: int) -> int:
    return max(1, -(-size // BLOCK)) * BLOCK


def _open(path: Path) -> tuple[int, bool]:
    """(descriptor, direct) of a new file: past the page cache unless the system or file system refuses it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    if hasattr(os, "O_DIRECT"):
        try:
            return os.open(path, flags | os.O_DIRECT, 0o644), True
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
    return os.open(path, flags, 0o644), False


def _write_out(fd: int, memory: mmap.mmap, count: int, direct: bool) -> None:
    """Write the first ``count`` bytes of ``memory``: when direct, up to a whole block (``_on_disk`` cuts the file
    to its size)."""
    end = _blocks(count) if direct and count else count
    with memoryview(memory) as view:
        written = 0
        while written < end:
            written += os.write(fd, view[written:end])


def _on_disk(fd: int, size: int) -> None:
    os.ftruncate(fd, size)
    os.fsync(fd)
