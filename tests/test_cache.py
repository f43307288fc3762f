import pytest

from bertviz_core import analyze
from bertviz_core.cache import BoundedCache, MemoryBudget, OverBudget


def test_repeated_key_is_computed_once(embedded):
    cache, runs = BoundedCache(), []

    def compute():
        runs.append(1)
        return analyze(embedded, "Cats sleep.")

    first = cache.get_or_compute("a", compute)
    assert cache.get_or_compute("a", compute) is first and len(runs) == 1


def test_bounded_by_bytes(embedded):
    small = [analyze(embedded, f"Sentence number {n}.") for n in range(4)]
    by_bytes = BoundedCache(max_bytes=2 * small[0].nbytes + 1)
    for n, result in enumerate(small):
        by_bytes.get_or_compute(n, lambda result=result: result)
    assert by_bytes.nbytes <= by_bytes.max_bytes and by_bytes.get(3) is small[3] and by_bytes.get(0) is None


def test_an_entry_larger_than_the_limit_is_still_served(embedded):
    cache = BoundedCache(max_bytes=1)
    result = cache.get_or_compute("big", lambda: analyze(embedded, "Cats sleep."))
    assert cache.get("big") is result and len(cache) == 1


class FakeProcess:
    """A process whose resident size is what its caches hold plus a fixed rest (models, libraries)."""

    def __init__(self, rest: int):
        self.rest, self.budget = rest, None

    def resident(self) -> int:
        return self.rest + self.budget.held


def _budgeted(max_bytes: int, rest: int) -> tuple[MemoryBudget, BoundedCache, BoundedCache]:
    process = FakeProcess(rest)
    process.budget = MemoryBudget(max_bytes, resident=process.resident)
    return (process.budget, BoundedCache(None, size=len, budget=process.budget),
            BoundedCache(None, size=len, budget=process.budget))


def test_the_budget_sheds_the_least_recently_used_entry_of_any_cache_before_it_is_passed():
    budget, analyses, figures = _budgeted(max_bytes=1000, rest=600)
    analyses.get_or_compute("a1", lambda: b"x" * 150)
    figures.get_or_compute("f1", lambda: b"y" * 100)
    analyses.get_or_compute("a2", lambda: b"z" * 100)
    assert budget.held == 350
    analyses.get("a1")  # used again: f1 is now the oldest, in the other cache
    figures.get_or_compute("f2", lambda: b"w" * 100)  # 450 > 400 left beside the rest: one entry goes
    assert figures.get("f1") is None and analyses.get("a1") is not None and budget.held == 350
    assert 600 + budget.held <= budget.max_bytes


def test_what_cannot_fit_beside_the_models_is_refused_with_the_numbers_and_nothing_is_lost():
    budget, analyses, _ = _budgeted(max_bytes=2_000_000_000, rest=1_500_000_000)
    analyses.get_or_compute("a", lambda: b"x" * 1000)
    with pytest.raises(OverBudget, match=r"The analysis needs about 600 MB of memory; this server has 2,000 MB in "
                                         r"all \(BERT_LENS_MEMORY_MB\), and its models and the work under way hold "
                                         r"1,500 MB of it"):
        budget.make_room(600_000_000, what="The analysis")
    assert analyses.get("a") == b"x" * 1000
    budget.make_room(499_999_990)  # fits only once the cache is emptied
    assert budget.held == 0


def test_the_entry_just_made_stays_even_alone_over_the_budget():
    budget, analyses, _ = _budgeted(max_bytes=1000, rest=900)
    analyses.get_or_compute("old", lambda: b"o" * 50)
    big = analyses.get_or_compute("big", lambda: b"b" * 500)
    assert analyses.get("big") is big and analyses.get("old") is None
