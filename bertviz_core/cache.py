"""A small thread-safe LRU for analyses and results derived from them, bounded in entries and in bytes.

One 512-token analysis of a BERT-base-sized model holds about 170 MB of arrays, so a count limit alone
could fill a small server's memory; the byte limit keeps the cache to a known size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, Protocol


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


class BoundedCache:
    """Least recently used entries go first; every entry reports its size as ``nbytes``."""

    def __init__(self, max_entries: int = 16, max_bytes: int = 600_000_000):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Sized] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def get(self, key: Hashable) -> Sized | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def get_or_compute(self, key: Hashable, compute: Callable[[], Sized]) -> Sized:
        """The cached analysis, or ``compute()``'s (run outside the lock, so other keys are not held up)."""
        entry = self.get(key)
        if entry is None:
            entry = compute()
            self._put(key, entry)
        return entry

    def _put(self, key: Hashable, entry: Sized) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            total = sum(e.nbytes for e in self._entries.values())
            # The newest entry always stays, even if it alone exceeds the byte limit: the page needs it.
            while len(self._entries) > 1 and (len(self._entries) > self.max_entries or total > self.max_bytes):
                _, evicted = self._entries.popitem(last=False)
                total -= evicted.nbytes
