"""Heavy work takes turns; light work goes first.

A class on one server asks for heavy computations (attributions with their deletion curves, sweeps, patching, index
builds, UMAP, CKA: seconds to a minute each) while most visitors only read a page. Heavy jobs are admitted a few at
a time (``Admission``), in the order they arrived; a waiting visitor is told their place and an estimate, and leaves
the line at no cost. Light work (one sentence's analysis, a page's figures) never waits behind a heavy job: heavy
jobs hold the model's lock one batch at a time, and ``ModelLock`` gives it to light work first between batches.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

DEFAULT_SECONDS = 10.0
"""What a kind of job is expected to take before one of its kind has finished here."""

_heavy = threading.local()


def in_heavy_job() -> bool:
    """Is this thread running an admitted heavy job (whose model-lock turns come after light work's)?"""
    return getattr(_heavy, "running", False)


class ModelLock:
    """A model's lock, held for each forward pass or batch. Light work waiting for it goes before a heavy job's next
    batch; among themselves, light and heavy work each take it as a plain lock would."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._light_waiting = 0

    def __enter__(self) -> ModelLock:
        light = not in_heavy_job()
        with self._changed:
            self._light_waiting += light
            try:
                self._changed.wait_for(lambda: not self._held and (light or not self._light_waiting))
            finally:
                self._light_waiting -= light
            self._held = True
        return self

    def __exit__(self, *exc) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()


@dataclass(eq=False)
class _Ticket:
    kind: str
    started: float = field(default=0.0)


Waiting = Callable[[int, float], None]
"""(jobs ahead, estimated seconds until this one starts) -> None; called while in line. Raising leaves the line."""


class Admission:
    """At most ``slots`` heavy jobs run at once; the others wait in arrival order."""

    def __init__(self, slots: int = 1):
        self.slots = slots
        self._changed = threading.Condition()
        self._line: list[_Ticket] = []
        self._running: list[_Ticket] = []
        self._seconds: dict[str, float] = {}  # kind -> how long its last job took

    @contextmanager
    def turn(self, kind: str, waiting: Waiting = lambda ahead, seconds: None, poll: float = 0.5) -> Iterator[None]:
        """Wait in line (calling ``waiting`` every ``poll`` seconds), then run the block as a heavy job."""
        ticket = _Ticket(kind)
        with self._changed:
            self._line.append(ticket)
        try:
            self._wait(ticket, waiting, poll)
            _heavy.running = True
            yield
        finally:
            _heavy.running = False
            self._leave(ticket)

    def _wait(self, ticket: _Ticket, waiting: Waiting, poll: float) -> None:
        while True:
            with self._changed:
                if self._changed.wait_for(lambda: self._may_start(ticket), timeout=poll):
                    self._line.remove(ticket)
                    ticket.started = time.monotonic()
                    self._running.append(ticket)
                    return
                ahead, seconds = self._ahead(ticket)
            waiting(ahead, seconds)  # outside the lock: it draws, and may raise when the visitor has gone

    def _may_start(self, ticket: _Ticket) -> bool:
        return self._line[0] is ticket and len(self._running) < self.slots

    def _ahead(self, ticket: _Ticket) -> tuple[int, float]:
        """Jobs before this one, and the seconds until it starts if each takes what its kind took last."""
        now = time.monotonic()
        remaining = [max(0.0, self._expected(job.kind) - (now - job.started)) for job in self._running]
        waiting = [self._expected(job.kind) for job in self._line[:self._line.index(ticket)]]
        return len(remaining) + len(waiting), (sum(remaining) + sum(waiting)) / self.slots

    def _expected(self, kind: str) -> float:
        return self._seconds.get(kind, DEFAULT_SECONDS)

    def _leave(self, ticket: _Ticket) -> None:
        with self._changed:
            if ticket in self._running:
                self._running.remove(ticket)
                self._seconds[ticket.kind] = time.monotonic() - ticket.started
            else:
                self._line.remove(ticket)
            self._changed.notify_all()

    def line(self) -> tuple[int, int]:
        """(jobs running, jobs waiting) now."""
        with self._changed:
            return len(self._running), len(self._line)
