"""Heavy work takes turns in arrival order; light work gets the model's lock before a heavy job's next batch."""

import threading
import time

import pytest

from bertviz_core.admission import Admission, ModelLock, in_heavy_job


def _wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_heavy_jobs_run_one_at_a_time_in_arrival_order_and_see_their_place():
    admission = Admission(slots=1)
    release, started, places = threading.Event(), [], {}

    def job(name: str) -> None:
        seen = places.setdefault(name, [])
        with admission.turn("sweep", waiting=lambda ahead, seconds: seen.append(ahead), poll=0.01):
            started.append(name)
            assert admission.line()[0] == 1 and in_heavy_job()
            release.wait()
        assert not in_heavy_job()

    threads = [threading.Thread(target=job, args=(name,)) for name in "abc"]
    for count, thread in enumerate(threads, 1):
        thread.start()
        _wait_until(lambda: sum(admission.line()) == count)  # each is in line before the next arrives
    _wait_until(lambda: len(places["c"]) > 0)
    release.set()
    for thread in threads:
        thread.join()
    assert started == ["a", "b", "c"]
    assert places["a"] == [] and set(places["b"]) == {1} and places["c"][0] == 2 and places["c"][-1] in (1, 2)
    assert admission.line() == (0, 0)


def test_the_estimate_is_what_the_kind_took_last():
    admission = Admission(slots=1)
    with admission.turn("patching"):
        time.sleep(1.0)
    hold, estimates = threading.Event(), []
    runner = threading.Thread(target=lambda: _hold(admission, hold))
    runner.start()
    _wait_until(lambda: admission.line() == (1, 0))
    waiter = threading.Thread(target=lambda: _hold(admission, hold, estimates.append, kind="umap"))
    waiter.start()
    _wait_until(lambda: len(estimates) >= 1)
    hold.set()
    runner.join()
    waiter.join()
    # One patching job ahead, which took 1 s last time (not the 10 s default), minus what it has run since.
    assert 0.5 < estimates[0] <= 1.0


def _hold(admission: Admission, release: threading.Event, report=None, kind: str = "patching") -> None:
    waiting = (lambda ahead, seconds: report(seconds)) if report else (lambda ahead, seconds: None)
    with admission.turn(kind, waiting=waiting, poll=0.01):
        release.wait(5)


def test_a_visitor_who_leaves_the_line_costs_nothing():
    admission = Admission(slots=1)
    hold = threading.Event()
    runner = threading.Thread(target=lambda: _hold(admission, hold))
    runner.start()
    _wait_until(lambda: admission.line() == (1, 0))

    def gone(ahead: int, seconds: float) -> None:
        raise KeyboardInterrupt  # what Streamlit raises in a script whose visitor has left, at its next draw

    with pytest.raises(KeyboardInterrupt):
        with admission.turn("cka", waiting=gone, poll=0.01):
            pytest.fail("a visitor who left must not run")
    assert admission.line() == (1, 0)
    hold.set()
    runner.join()
    with admission.turn("cka"):  # the line is free again
        assert admission.line() == (1, 0)


def test_light_work_takes_the_model_lock_before_a_heavy_jobs_next_batch():
    lock, order = ModelLock(), []
    admission = Admission(slots=2)
    holding, done = threading.Event(), threading.Event()

    def heavy(name: str, first: bool) -> None:
        with admission.turn("sweep"):
            with lock:
                order.append(name)
                if first:
                    holding.set()
                    done.wait(5)

    def light() -> None:
        with lock:
            order.append("light")

    first = threading.Thread(target=heavy, args=("heavy batch 1", True))
    first.start()
    holding.wait(5)
    second = threading.Thread(target=heavy, args=("heavy batch 2", False))
    second.start()
    _wait_until(lambda: admission.line() == (2, 0))
    reader = threading.Thread(target=light)
    reader.start()
    _wait_until(lambda: lock._light_waiting == 1)
    done.set()
    for thread in (first, second, reader):
        thread.join(5)
    assert order == ["heavy batch 1", "light", "heavy batch 2"]
