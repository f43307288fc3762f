"""Thread-safe LRU caches for analyses and results derived from them, bounded in bytes, and one memory budget that
a server's caches share.

One 512-token analysis of a BERT-base-sized model holds about 170 MB of arrays while a short sentence's holds a few
hundred kB, so the limit is on bytes: a page that needs fourteen short analyses at once gets them all, and two long
ones cannot fill a small server's memory. A key that several threads ask for at once is computed once: the others
wait for that result (a class opening the teacher's link runs the model once, not thirty times).

On a server every cache answers to one ``MemoryBudget``: the process's resident size, read from the system, stays
within it, the least recently used entries of any cache going first.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

_uses = itertools.count()
"""One clock for every cache: which entry, in any cache, was used least recently."""


def nbytes_of(entry: Any) -> int:
    """The memory an entry holds: its ``nbytes`` where it reports one (analyses and results count their arrays),
    the sum over a tuple's or list's items, otherwise the object's own size."""
    if hasattr(entry, "nbytes"):
        return int(entry.nbytes)
    if isinstance(entry, (tuple, list)):
        return sys.getsizeof(entry) + sum(nbytes_of(item) for item in entry)
    return sys.getsizeof(entry)


class BoundedCache:
    """Least recently used entries go first; each entry's size is ``size(entry)`` (``nbytes_of`` by default). Bounded
    by ``max_bytes``, or, with a ``budget``, by the memory the whole process may hold."""

    def __init__(self, max_bytes: int | None = 600_000_000, size: Callable[[Any], int] = nbytes_of,
                 budget: MemoryBudget | None = None):
        self.max_bytes = max_bytes
        self._size = size
        self._budget = budget
        self._entries: OrderedDict[Hashable, tuple[Any, int, int]] = OrderedDict()  # key -> (entry, size, last use)
        self._computing: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        if budget is not None:
            budget.caches.append(self)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(size for _, size, _ in self._entries.values())

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            return self._found(key)

    def _found(self, key: Hashable) -> Any | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries[key] = (found[0], found[1], next(_uses))
        self._entries.move_to_end(key)
        return found[0]

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached entry, or ``compute()``'s, run outside the lock so other keys are not held up. While one thread
        computes a key, others asking for it wait and share the result; should it fail, the next one tries."""
        while True:
            with self._lock:
                found = self._found(key)
                if found is not None:
                    return found
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
            self._entries[key] = (entry, size, next(_uses))
            self._entries.move_to_end(key)
            total = sum(size for _, size, _ in self._entries.values())
            # The newest entry always stays, even if it alone exceeds the byte limit: the page needs it.
            while self.max_bytes is not None and len(self._entries) > 1 and total > self.max_bytes:
                _, (_, evicted, _) = self._entries.popitem(last=False)
                total -= evicted
        if self._budget is not None:
            self._budget.make_room(0, keep=entry)

    def oldest_use(self, keep: Any = None) -> int | None:
        """When this cache's least recently used entry was last used (None: nothing it may give up but ``keep``)."""
        with self._lock:
            for entry, _, used in self._entries.values():
                if entry is not keep:
                    return used
            return None

    def drop_oldest(self, keep: Any = None) -> int:
        """Give up the least recently used entry other than ``keep``; returns its size."""
        with self._lock:
            key = next(key for key, (entry, _, _) in self._entries.items() if entry is not keep)
            return self._entries.pop(key)[1]


def resident_bytes() -> int:
    """This process's resident memory as the system counts it (Linux's /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class OverBudget(ValueError):
    """What was asked for cannot fit in the server's memory budget, even with every cache emptied."""


class MemoryBudget:
    """One memory budget for a server process. Its caches' entries are shed, least recently used first whichever
    cache holds them, before the process's resident size (read from the system) plus what is about to be made would
    pass ``max_bytes``. What would not fit even with every cache empty (beside the models and the work under way)
    is refused with the numbers."""

    def __init__(self, max_bytes: int, resident: Callable[[], int] = resident_bytes,
                 hand_back: Callable[[], None] = lambda: None):
        self.max_bytes = max_bytes
        self.caches: list[BoundedCache] = []
        self._resident = resident
        self._hand_back = hand_back
        """Returns freed memory to the system, so that the resident size shows what shedding freed."""
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes the caches hold."""
        return sum(cache.nbytes for cache in self.caches)

    def make_room(self, needed: int, what: str = "This", keep: Any = None) -> None:
        """Shed cached entries (never ``keep``) until ``needed`` more bytes fit; raise ``OverBudget`` if they cannot."""
        with self._lock:
            resident = max(self._resident(), self.held)
            besides = resident - self.held  # models, libraries, and whatever is being computed right now
            if needed and besides + needed > self.max_bytes:
                raise OverBudget(f"{what} needs about {needed / 1e6:,.0f} MB of memory; this server has "
                                 f"{self.max_bytes / 1e6:,.0f} MB in all (BERT_LENS_MEMORY_MB), and its models and "
                                 f"the work under way hold {besides / 1e6:,.0f} MB of it.")
            excess = resident + needed - self.max_bytes
            shed = 0
            while excess > shed and (cache := self._oldest(keep)) is not None:
                shed += cache.drop_oldest(keep)
            if shed:
                self._hand_back()

    def _oldest(self, keep: Any) -> BoundedCache | None:
        uses = [(used, index) for index, cache in enumerate(self.caches)
                if (used := cache.oldest_use(keep)) is not None]
        return self.caches[min(uses)[1]] if uses else None
