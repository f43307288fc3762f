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
import shutil
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

from .analysis import InputError
from .loading import ModelLoadError

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


class OverBudget(InputError):
    """What was asked for cannot fit in the server's memory budget, even with every cache emptied."""


class MemoryBudget:
    """One memory budget for a server process. Its caches' entries are shed, least recently used first whichever
    cache holds them, before the process's resident size (read from the system) plus what is about to be made would
    pass ``max_bytes`` less ``headroom``, the room kept for work that is not counted before it runs (a heavy job's
    batches, a page's figures). What would not fit even with every cache empty (beside the models and the work under
    way) is refused with the numbers."""

    def __init__(self, max_bytes: int, resident: Callable[[], int] = resident_bytes,
                 hand_back: Callable[[], None] = lambda: None, headroom: int = 0):
        self.max_bytes = max_bytes
        self.headroom = headroom
        self.caches: list[BoundedCache] = []
        self._resident = resident
        self.hand_back = hand_back
        """Returns freed memory to the system, so that the resident size shows what shedding freed."""
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes the caches hold."""
        return sum(cache.nbytes for cache in self.caches)

    def make_room(self, needed: int, what: str = "This", keep: Any = None, freeable: int = 0) -> int:
        """Shed cached entries (never ``keep``) until ``needed`` more bytes fit, and return how many bytes are still
        missing after every cache is emptied: more than 0 only when they are to come out of ``freeable`` (models
        the caller may send away). Raise ``OverBudget`` when they cannot fit even with ``freeable`` freed."""
        with self._lock:
            resident = max(self._resident(), self.held)
            besides = resident - self.held  # models, libraries, and whatever is being computed right now
            limit = self.max_bytes - self.headroom
            if needed and besides - freeable + needed > limit:
                raise OverBudget(f"{what} needs about {needed / 1e6:,.0f} MB of memory; this server has "
                                 f"{self.max_bytes / 1e6:,.0f} MB in all (BERT_LENS_MEMORY_MB), keeps "
                                 f"{self.headroom / 1e6:,.0f} MB of it for work under way, and its models and that "
                                 f"work hold {besides / 1e6:,.0f} MB.")
            excess = resident + needed - limit
            shed = 0
            while excess > shed and (cache := self._oldest(keep)) is not None:
                shed += cache.drop_oldest(keep)
            if shed:
                self.hand_back()
            return max(0, excess - shed)

    def _oldest(self, keep: Any) -> BoundedCache | None:
        uses = [(used, index) for index, cache in enumerate(self.caches)
                if (used := cache.oldest_use(keep)) is not None]
        return self.caches[min(uses)[1]] if uses else None


class ModelShelf:
    """The models a server keeps loaded: its default ones always, and at most ``visitors`` that visitors chose.

    A visitor's model that does not fit (in number, or in the memory budget) sends away the least recently used
    other visitor model, never one that a page run is using (``run``). A model sent away is not changed: whoever
    still holds it goes on using it, and it is freed when the last of them lets go."""

    def __init__(self, load: Callable[[str], Any], visitors: int = 1, budget: MemoryBudget | None = None,
                 expected_bytes: Callable[[str], int] = lambda spec: 0):
        self.visitors = visitors
        self._load, self._budget, self._expected = load, budget, expected_bytes
        self._defaults: dict[str, Any] = {}
        self._visiting: OrderedDict[str, Any] = OrderedDict()  # least recently used first
        self._in_use: dict[str, int] = {}
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # one load at a time; models already here are found meanwhile
        self._run = threading.local()

    def get(self, spec: str, default: bool = False) -> Any:
        """The model ``spec`` names, loaded first if it is not here (a default one is kept for good)."""
        with self._lock:
            found = self._found(spec)
        if found is not None:
            return found
        with self._loading:
            with self._lock:
                found = self._found(spec)
            if found is not None:
                return found
            if not default:
                self._make_place(spec)
            model = self._load(spec)
            with self._lock:
                (self._defaults if default else self._visiting)[spec] = model
                self._use(spec)
            return model

    def resident(self) -> tuple[str, ...]:
        """The specs of the models kept now: the default ones, then visitors' from least to most recently used."""
        with self._lock:
            return (*self._defaults, *self._visiting)

    @contextmanager
    def run(self) -> Iterator[None]:
        """Models got in this thread within the block are in use until it ends (a page run)."""
        self._run.specs = []
        try:
            yield
        finally:
            with self._lock:
                for spec in self._run.specs:
                    self._in_use[spec] -= 1
            self._run.specs = None

    def _found(self, spec: str) -> Any | None:
        found = self._defaults.get(spec)
        if found is None and spec in self._visiting:
            self._visiting.move_to_end(spec)
            found = self._visiting[spec]
        if found is not None:
            self._use(spec)
        return found

    def _use(self, spec: str) -> None:
        specs = getattr(self._run, "specs", None)
        if specs is not None:
            specs.append(spec)
            self._in_use[spec] = self._in_use.get(spec, 0) + 1

    def _make_place(self, spec: str) -> None:
        """Send visitor models away until one more fits in number and in memory; refuse when none can go."""
        while len(self._visiting) >= self.visitors:
            self._send_away(spec, f"This server keeps {self.visitors} model{'s' * (self.visitors != 1)} chosen by "
                                  "visitors beside its default")
        needed = self._expected(spec) if self._budget is not None else 0
        while self._budget is not None:
            with self._lock:
                idle = [other for other in self._visiting if not self._in_use.get(other)]
            try:  # sizes read outside the lock: reading a config must not hold up other sessions' look-ups
                missing = self._budget.make_room(needed, what=f"'{spec}'", freeable=sum(map(self._expected, idle)))
            except OverBudget as error:
                raise ModelLoadError(f"Cannot load '{spec}' now. {error}") from error
            if not missing:
                return
            self._send_away(spec, "Its memory must come from a model another visitor chose")

    def _send_away(self, spec: str, why: str) -> None:
        with self._lock:
            idle = next((other for other in self._visiting if not self._in_use.get(other)), None)
            if idle is None:
                busy = (f" The models visitors chose are in use ({', '.join(self._visiting)}): try again in a "
                        "minute, or choose the default model." if self._visiting else "")
                raise ModelLoadError(f"Cannot load '{spec}' now. {why}.{busy}")
            del self._visiting[idle]
        if self._budget is not None:
            self._budget.hand_back()


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under ``folder``; links are not followed (the hub cache links snapshots to blobs)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


class DiskBudget:
    """One disk budget over what a server writes: each of ``units()`` is a folder it may remove (an index, an
    upload's index, a model it downloaded), the least recently modified first. A new folder counts its expected size
    before it is made, and what cannot fit even with every other folder removed is refused with the numbers."""

    def __init__(self, max_bytes: int, units: Callable[[], list[Path]]):
        self.max_bytes = max_bytes
        self._units = units
        self._lock = threading.Lock()

    def make_room(self, needed: int, what: str, keep: Path | None = None) -> list[Path]:
        """Remove least recently used folders (never ``keep``) until ``needed`` more bytes fit; returns them."""
        with self._lock:
            folders = sorted((f for f in self._units() if f.is_dir() and f != keep), key=lambda f: f.stat().st_mtime)
            sizes = {folder: folder_bytes(folder) for folder in folders}
            kept = folder_bytes(keep) if keep is not None and keep.is_dir() else 0
            if kept + needed > self.max_bytes:
                raise OverBudget(f"{what} needs about {needed / 1e6:,.0f} MB of disk; this server keeps "
                                 f"{self.max_bytes / 1e6:,.0f} MB in all for indexes, uploads and models "
                                 f"(BERT_LENS_DISK_MB).")
            total, removed = kept + needed + sum(sizes.values()), []
            for folder in folders:
                if total <= self.max_bytes:
                    break
                shutil.rmtree(folder, ignore_errors=True)
                total -= sizes[folder]
                removed.append(folder)
            return removed
