from bertviz_core import analyze
from bertviz_core.cache import BoundedCache


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
