"""A small thread-safe LRU for analyses and results derived from them, bounded in bytes.

One 512-token analysis of a BERT-base-sized model holds about 170 MB of arrays while a short sentence's holds a few
hundred kB, so the limit is on bytes: a page that needs fourteen short analyses at once gets them all, and two long
ones cannot fill a small server's memory. A key that several threads ask for at once is computed once: the others
wait for that result (a class opening the teacher's link runs the model once, not thirty times).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


def nbytes_of(entry: Any) -> int:
    """The memory an entry holds: its ``nbytes`` where it reports one (analyses and results count their arrays),
    the sum over a tuple's or list's items, otherwise the object's own size."""
    if hasattr(entry, "nbytes"):
        return int(entry.nbytes)
    if isinstance(entry, (tuple, list)):
        return sys.getsizeof(entry) + sum(nbytes_of(item) for item in entry)
    return sys.getsizeof(entry)


class BoundedCache:
    """Least recently used entries go first; each entry's size is ``size(entry)`` (``nbytes_of`` by default)."""

    def __init__(self, max_bytes: int = 600_000_000, size: Callable[[Any], int] = nbytes_of):
        self.max_bytes = max_bytes
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()  # key -> (entry, its size)
        self._computing: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached entry, or ``compute()``'s, run outside the lock so other keys are not held up. While one thread
        computes a key, others asking for it wait and share the result; should it fail, the next one tries."""
        while True:
            with self._lock:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    return found[0]
                running = self._computing.get(key)
                if running is None:
                    self._computing[key] = threading.Event()
            if running is None:
                return self._compute(key, compute)
            running.wait()

    def _compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        try:
            entry = compute()
            self._put(key, entry)
            return entry
        finally:
            with self._lock:
                self._computing.pop(key).set()

    def _put(self, key: Hashable, entry: Any) -> None:
        size = self._size(entry)
        with self._lock:
            self._entries[key] = (entry, size)
            self._entries.move_to_end(key)
            total = sum(size for _, size in self._entries.values())
            # The newest entry always stays, even if it alone exceeds the byte limit: the page needs it.
            while len(self._entries) > 1 and total > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                total -= evicted
