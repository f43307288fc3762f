import os
import threading
import pytest

from bertviz_core import analyze
from bertviz_core.cache import BoundedCache, DiskBudget, MemoryBudget, ModelShelf, OverBudget
from bertviz_core.loading import ModelLoadError


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


def _budgeted(max_bytes: int, rest: int, headroom: int = 0) -> tuple[MemoryBudget, BoundedCache, BoundedCache]:
    process = FakeProcess(rest)
    process.budget = MemoryBudget(max_bytes, resident=process.resident, headroom=headroom)
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
    budget, analyses, _ = _budgeted(max_bytes=2_000_000_000, rest=1_500_000_000, headroom=100_000_000)
    analyses.get_or_compute("a", lambda: b"x" * 1000)
    with pytest.raises(OverBudget, match=r"The analysis needs about 450 MB of memory; this server has 2,000 MB in "
                                         r"all \(BERT_LENS_MEMORY_MB\), keeps 100 MB of it for work under way, and its "
                                         r"models and that work hold 1,500 MB"):
        budget.make_room(450_000_000, what="The analysis")  # 1,500 + 450 MB passes 2,000 less the headroom
    assert analyses.get("a") == b"x" * 1000
    budget.make_room(399_999_990)  # fits only once the cache is emptied
    assert budget.held == 0


def test_the_entry_just_made_stays_even_alone_over_the_budget():
    budget, analyses, _ = _budgeted(max_bytes=1000, rest=900)
    analyses.get_or_compute("old", lambda: b"o" * 50)
    big = analyses.get_or_compute("big", lambda: b"b" * 500)
    assert analyses.get("big") is big and analyses.get("old") is None


class Model:
    """Stands in for a loaded model: its spec and the bytes it would hold."""

    def __init__(self, spec: str, nbytes: int = 0):
        self.spec, self.nbytes = spec, nbytes


def _shelf(visitors: int = 1, **options) -> tuple[ModelShelf, list[str]]:
    loads: list[str] = []

    def load(spec: str) -> Model:
        loads.append(spec)
        return Model(spec)

    return ModelShelf(load, visitors=visitors, **options), loads


def test_the_default_stays_and_the_least_recently_used_visitor_model_goes():
    shelf, loads = _shelf(visitors=2)
    default = shelf.get("bert-base-uncased", default=True)
    shelf.get("roberta-base")
    shelf.get("albert-base-v2")
    shelf.get("roberta-base")  # used again: albert is now the least recently used
    shelf.get("distilbert-base-uncased")
    assert shelf.resident() == ("bert-base-uncased", "roberta-base", "distilbert-base-uncased")
    assert shelf.get("bert-base-uncased", default=True) is default
    assert loads == ["bert-base-uncased", "roberta-base", "albert-base-v2", "distilbert-base-uncased"]


def test_a_model_in_use_is_not_sent_away_and_one_sent_away_stays_whole_for_its_holder():
    shelf, _ = _shelf(visitors=1)
    held = threading.Event()
    finished = threading.Event()

    def page_run() -> None:  # another session's page, using roberta-base until told to finish
        with shelf.run():
            model = shelf.get("roberta-base")
            held.set()
            finished.wait(5)
            assert model.spec == "roberta-base"

    other = threading.Thread(target=page_run)
    other.start()
    held.wait(5)
    with pytest.raises(ModelLoadError, match=r"Cannot load 'albert-base-v2' now\. This server keeps 1 model chosen "
                                             r"by visitors beside its default\. The models visitors chose are in use "
                                             r"\(roberta-base\)"):
        shelf.get("albert-base-v2")
    finished.set()
    other.join()
    kept = shelf.get("roberta-base")  # outside a page run: in use by nobody
    shelf.get("albert-base-v2")
    assert shelf.resident() == ("albert-base-v2",) and kept.spec == "roberta-base"


def test_a_visitor_model_over_the_memory_budget_sends_another_away_or_is_refused_with_the_numbers():
    process = FakeProcess(rest=1_000_000_000)
    budget = MemoryBudget(2_000_000_000, resident=process.resident)
    process.budget = budget
    sizes = {"bert-base-uncased": 440_000_000, "bert-large-uncased": 1_340_000_000}
    shelf, _ = _shelf(visitors=3, budget=budget, expected_bytes=sizes.get)

    def resident() -> int:  # the rest, plus what the models on the shelf hold
        return process.rest + sum(sizes.get(spec, 0) for spec in shelf.resident()) + budget.held

    budget._resident = resident
    shelf.get("bert-base-uncased")
    with pytest.raises(ModelLoadError, match=r"'bert-large-uncased' needs about 1,340 MB of memory; this server has "
                                             r"2,000 MB in all \(BERT_LENS_MEMORY_MB\), keeps 0 MB of it for work "
                                             r"under way, and its models and that work hold 1,440 MB"):
        shelf.get("bert-large-uncased")
    assert shelf.resident() == ("bert-base-uncased",)  # it could not have fitted even without bert-base: kept
    sizes["bert-large-uncased"] = 900_000_000
    shelf.get("bert-large-uncased")  # fits once bert-base goes
    assert shelf.resident() == ("bert-large-uncased",)


def _folder(root, name: str, size: int, age: int):
    folder = root / name
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "data.bin").write_bytes(b"x" * size)
    os.utime(folder, (1_000_000 + age, 1_000_000 + age))
    return folder


def test_the_disk_budget_removes_the_least_recently_used_folders_to_make_room(tmp_path):
    old, mid, new = (_folder(tmp_path, name, 300, age) for name, age in (("old", 1), ("mid", 2), ("new", 3)))
    budget = DiskBudget(1000, lambda: [old, mid, new])
    assert budget.make_room(100, "This index") == []  # 900 + 100 fits
    assert budget.make_room(450, "This index") == [old, mid]  # 900 + 450: the two oldest go
    assert new.is_dir() and not old.exists() and not mid.exists()


def test_the_disk_budget_refuses_what_cannot_fit_and_keeps_what_was_there(tmp_path):
    kept = _folder(tmp_path, "kept", 400, 1)
    other = _folder(tmp_path, "other", 300, 2)
    budget = DiskBudget(1000, lambda: [kept, other])
    with pytest.raises(OverBudget, match=r"This upload's index needs about \d+ MB of disk; this server keeps \d+ MB "
                                         r"in all for indexes, uploads and models \(BERT_LENS_DISK_MB\)"):
        budget.make_room(700, "This upload's index", keep=kept)  # 400 kept + 700 > 1000
    assert kept.is_dir() and other.is_dir()
