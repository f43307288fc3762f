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
from pathlib import Path
from typing import BinaryIO, Callable

BLOCK = 4096
"""O_DIRECT writes whole blocks from aligned memory at aligned offsets: 4096 covers every common disk."""
BUFFER_BYTES = 8 << 20
"""The buffer a file is written through: big enough for few system calls, small enough to stay in the CPU's cache."""


def write_whole(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """``write`` the file at ``path`` through a temporary name, on disk before the rename: a reader or a restarted
    build sees the whole file or none, and a crash never leaves a whole name with lost contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    with DirectFile(temporary) as file:
        write(file)
    os.replace(temporary, path)


class DirectFile(io.RawIOBase):
    """A new file, written through one page-aligned buffer past the page cache (O_DIRECT) where the system and the
    file system allow it (elsewhere, such as on macOS, through the page cache), and on disk once closed."""

    def __init__(self, path: Path, buffer_bytes: int = BUFFER_BYTES) -> None:
        super().__init__()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self.direct = hasattr(os, "O_DIRECT")
        try:
            self._fd = os.open(path, flags | (os.O_DIRECT if self.direct else 0), 0o644)
        except OSError as error:
            if not self.direct or error.errno != errno.EINVAL:
                raise
            self.direct = False
            self._fd = os.open(path, flags, 0o644)
        self._buffer = mmap.mmap(-1, -(-buffer_bytes // BLOCK) * BLOCK)  # whole blocks: only the last one is cut
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
        """Write out the buffer: when direct, up to a whole block (the file is cut to its size when closed)."""
        end = -(-self._filled // BLOCK) * BLOCK if self.direct else self._filled
        with memoryview(self._buffer) as view:
            written = 0
            while written < end:
                written += os.write(self._fd, view[written:end])
        self._filled = 0

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._drain()
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._buffer.close()
            super().close()
