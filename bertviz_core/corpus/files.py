"""Writing an index's files: each whole under its name or not at all, on disk before it is renamed, and past the page
cache.

On this kind of machine (a virtual disk under ext4) copying into the page cache is what costs: a build writes as much
as it computes while its forward passes keep every core busy, so that CPU comes straight off its throughput. The
BERT-base-sized build of 20,000 tokens (800 MB of shards) took 12% longer through the page cache than past it (best
of 5, in alternation with it, 2026-12-06); writing each shard in a background thread, or into memory kept from one
shard to the next, saved 2% and 0.2%, and are gone.
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
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
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
