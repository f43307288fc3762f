"""The one path to every computation the app makes: models, analyses and the results derived from them, each found
again instead of run again and shared by every session; and the memory each computation frees, handed back.

No page calls ``analyze()`` or loads a model itself: an analysis is keyed by ``analysis_key`` (model, normalised
text, pair), a derived result by a name and the key of the analysis it comes from, so re-reading a layer, a head or
a view never runs the model again.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import plotly.graph_objects as go
import streamlit as st

from bertviz_core import Analysis, LoadedModel, ModelLoadError, analysis_key, analyze, analyze_many, load_model
from bertviz_core.analysis import analysis_bytes
from bertviz_core.attention.rollout import NormMaps, norm_maps
from bertviz_core.admission import Admission
from bertviz_core.cache import BoundedCache, DiskBudget, MemoryBudget, ModelShelf, OverBudget
from bertviz_core.charts import figure_bytes
from bertviz_core.facts import ModelFacts, model_facts
from bertviz_core.loading import check_size, default_choice, expected_bytes, hub_folder, weight_bytes, will_download

if TYPE_CHECKING:  # the corpus modules (Parquet readers, index builds) are imported when the Corpus page first runs
    from bertviz_core.corpus import CorpusIndex, Sentences

CORPUS_LAYERS = 1

Result = TypeVar("Result")


def setting(name: str, default: int) -> int:
    """A number the operator may set in the environment (BERT_LENS_...)."""
    return int(os.environ.get(name, default))


HEADROOM_MB = 500
"""Kept free of caches and models for work that is not counted before it runs: a heavy job on a BERT-base-sized model
(attributions, an index build) with the pages drawn beside it took up to about 500 MB above the rest
(bench/class_load.py)."""


@st.cache_resource
def budget() -> MemoryBudget:
    """The server's one memory budget (BERT_LENS_MEMORY_MB, default 2,200 MB: Community Cloud restarts an app that
    passes about 2.7 GB). Models, libraries and work under way take what they need; every cache below shares the
    rest, the least recently used entry of any of them shed first."""
    return MemoryBudget(setting("BERT_LENS_MEMORY_MB", 2200) * 1_000_000, hand_back=return_freed_memory,
                        headroom=HEADROOM_MB * 1_000_000)


@st.cache_resource
def shelf() -> ModelShelf:
    """The models this server keeps loaded, shared by every session: the default, and at most
    BERT_LENS_VISITOR_MODELS (default 1) that visitors chose, within the memory budget."""
    return ModelShelf(lambda spec: load_model(spec, max_bytes=max_model_bytes()),
                      visitors=setting("BERT_LENS_VISITOR_MODELS", 1), budget=budget(), expected_bytes=expected_bytes)


@st.cache_resource(ttl=600, show_spinner="Looking for bert-base-uncased…")
def automatic_choice() -> tuple[str, str]:
    """What "Automatic" means on this server, re-checked every ten minutes (a probe may wait seconds for the hub)."""
    return default_choice()


def model_for(spec: str) -> LoadedModel:
    """The model a picker spec names. "Automatic" is resolved first, so it shares the copy loaded by name rather
    than holding a second one (440 MB for BERT-base)."""
    if spec:
        return _shelved(spec)
    choice, reason = automatic_choice()
    try:
        return replace(_shelved(choice, default=True), reason=reason)
    except ModelLoadError:
        return _shelved("", default=True)  # the engine's own fallbacks


def _shelved(spec: str, default: bool = False) -> LoadedModel:
    """From the shelf; a model not loaded yet is loaded under a message that says for whom and what it costs."""
    if spec in shelf().resident():
        return shelf().get(spec, default)
    size = expected_bytes(spec)
    check_size(spec, size, max_model_bytes())  # the operator's per-model limit speaks before the memory budget
    downloading = bool(size) and will_download(spec)
    if downloading:
        try:
            disk().make_room(size, f"Downloading '{spec}'")
        except OverBudget as error:  # the sidebar says why, and the model the visitor had stays
            raise ModelLoadError(str(error)) from error
    cost = f", about {size / 1e6:,.0f} MB" if size else ""
    with st.spinner(f"Loading {spec or 'the default model'} for you{cost} (first time only)…"):
        model = shelf().get(spec, default)
    if downloading and model.source == "hub":
        _record_download(spec)
    return model


def second_model(first: LoadedModel, spec: str) -> LoadedModel:
    """The other model of a comparison. The two models' weights together stay within the limit the operator sets:
    a pair over it is refused with the sizes, before the second is loaded."""
    limit, first_bytes = max_model_bytes(), weight_bytes(first)
    needed = expected_bytes(spec)
    if first_bytes + needed <= limit:
        return _shelved(spec)
    raise ModelLoadError(f"{first.name} needs {first_bytes / 1e6:,.0f} MB and '{spec}' {needed / 1e6:,.0f} MB for "
                         f"their weights, {(first_bytes + needed) / 1e6:,.0f} MB together; this server holds at most "
                         f"{limit / 1e6:,.0f} MB of models for a comparison (BERT_LENS_MAX_MODEL_MB).")


def max_model_bytes() -> int:
    """Bigger models are refused before loading. The default, 1,500 MB, admits BERT-large (1.3 GB of weights);
    the operator sets another with BERT_LENS_MAX_MODEL_MB."""
    return setting("BERT_LENS_MAX_MODEL_MB", 1500) * 1_000_000


@st.cache_resource
def analysis_cache() -> BoundedCache:
    """One cache for all sessions, within the memory budget: analyses are frozen, so sessions share them without
    copying, and a page that needs many short ones (Applications reads fourteen) gets them all."""
    return BoundedCache(None, budget=budget())


@st.cache_resource
def results_cache() -> BoundedCache:
    """Results derived from analyses (masked runs, recipe draws, norm maps, readings), shared by all sessions."""
    return BoundedCache(None, budget=budget())


def analysis(model: LoadedModel, text: str, pair: str | None = None) -> Analysis:
    """The analysis of ``text`` (and ``pair``): found, or run once for everyone under a spinner."""
    return _cached(analysis_cache(), analysis_key(model, text, pair), "Running the model…",
                   lambda: _analysed(model, text, pair))


def _analysed(model: LoadedModel, text: str, pair: str | None = None) -> Analysis:
    """A new analysis, once the memory it will keep has room (or refused with the numbers, as bad input is)."""
    budget().make_room(analysis_bytes(model, text, pair), what="The analysis of this text")
    return analyze(model, text, pair)


def analyses(model: LoadedModel, texts: list[str]) -> list[Analysis]:
    """One analysis per text, in order, through the same cache; a single spinner names how many must run."""
    missing = sum(analysis_cache().get(analysis_key(model, text)) is None for text in texts)
    message = f"Running the model on {missing} sentence{'s' * (missing != 1)}…"
    with st.spinner(message) if missing else nullcontext():
        found = analyze_many(model, texts, run=_found_or_run)
    if missing:
        return_freed_memory()
    return found


def _found_or_run(model: LoadedModel, text: str) -> Analysis:
    return analysis_cache().get_or_compute(analysis_key(model, text), lambda: _analysed(model, text))


def derived(key: tuple, message: str, compute: Callable[[], Result]) -> Result:
    """A result computed from analyses or the model, once for everyone. ``key`` starts with the result's name and
    holds the ``Analysis.key`` of what it was computed from, then its own settings."""
    return _cached(results_cache(), key, message, compute)


def facts(model: LoadedModel) -> ModelFacts:
    """What the loaded model's checkpoint says about it (pooler, heads, tables, tokenizer), read once per model."""
    return derived(("facts", model.location, model.source), "Reading the checkpoint…", lambda: model_facts(model))


def progressing(key: tuple, message: str, compute: Callable[[Callable[[int, int], None]], Result]) -> Result:
    """Like ``derived``, for heavy work (seconds to a minute): a miss waits for its turn (``in_turn``), then shows
    a progress bar, which ``compute`` moves by calling its argument with (done, total)."""
    found = results_cache().get(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text=message)

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"{message} {done:,} of {total:,}")

    result = results_cache().get_or_compute(key, lambda: in_turn(key[0], bar, lambda: compute(progress)))
    bar.empty()
    return_freed_memory()
    return result


@st.cache_resource
def admission() -> Admission:
    """Heavy work runs BERT_LENS_HEAVY_JOBS at a time (default 1: on two cores a second job only slows the first)."""
    return Admission(setting("BERT_LENS_HEAVY_JOBS", 1))


def in_turn(kind: str, bar, run: Callable[[], Result]) -> Result:
    """``run()`` once heavy work ahead of it has finished, telling the visitor their place on ``bar`` meanwhile. A
    visitor who leaves (or changes the page) leaves the line at the next update: nothing runs for them."""

    def waiting(ahead: int, seconds: float) -> None:
        bar.progress(0.0, text=f"Waiting for a turn: {ahead} heavy job{'s' * (ahead != 1)} ahead, about "
                               f"{seconds:,.0f} s. Other pages keep working meanwhile.")

    with admission().turn(kind, waiting):
        return run()


@st.cache_resource
def figures_cache() -> BoundedCache:
    """Figures shared by every session that shows the same thing, each counted by the arrays it holds."""
    return BoundedCache(None, size=figure_bytes, budget=budget())


def figure(key: tuple, build: Callable[[], go.Figure]) -> go.Figure:
    """A figure built once for everyone who asks with the same ``key`` (a name, what it was drawn from, and its
    settings): building a Plotly figure costs more server time than sending it. Never changed once built."""
    return figures_cache().get_or_compute(key, build)


@st.cache_resource
def corpus_indexes() -> BoundedCache:
    """Corpus indexes opened for searching, shared by every session; a build under way is found here too, so a
    second visitor waits for it instead of starting another."""
    return BoundedCache(None, budget=budget())


def corpus_index(model: LoadedModel, sentences: Sentences, folder: Path) -> CorpusIndex:
    """The index of ``sentences`` in ``folder``: open, opened from disk, or built there first (heavy work: in turn,
    with a progress bar, once the disk budget has room for it; the build holds the model's lock one batch at a
    time, so other visitors' pages keep working)."""
    key = ("corpus", model.location, str(folder))
    found = corpus_indexes().get(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text="Opening the corpus index…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(done / total, text=f"Indexing the corpus (first time only): {done:,} of {total:,} {what}")

    index = corpus_indexes().get_or_compute(key, lambda: _opened_or_built(model, sentences, folder, bar, progress))
    bar.empty()
    return_freed_memory()
    return index


def _opened_or_built(model: LoadedModel, sentences: Sentences, folder: Path, bar, progress) -> CorpusIndex:
    from bertviz_core.corpus.library import is_built, opened, token_count
    from bertviz_core.corpus.store import build_bytes

    if is_built(folder):
        return opened(model, sentences, folder, keep_layers=CORPUS_LAYERS)
    disk().make_room(build_bytes(model, sentences, token_count(model, sentences)), "Indexing this corpus", keep=folder)
    return in_turn("index build", bar, lambda: opened(model, sentences, folder, progress, CORPUS_LAYERS))


@st.cache_resource
def disk() -> DiskBudget:
    """The server's one disk budget (BERT_LENS_DISK_MB, default 2,000 MB) over the corpus indexes it builds, the
    visitors' uploaded corpora and the hub models it downloads, the least recently used removed first."""
    return DiskBudget(setting("BERT_LENS_DISK_MB", 2000) * 1_000_000, _written_folders)


def _written_folders() -> list[Path]:
    from bertviz_core.corpus.library import index_folders, index_root

    return index_folders(index_root()) + [hub_folder(repo) for repo in _downloaded()]


DOWNLOADED = "models-downloaded-by-the-app.txt"
"""In the index root: the hub models this app downloaded, whose cache folders its disk budget may remove (never a
model that was in the cache before the app asked for it)."""


def _downloaded() -> list[str]:
    from bertviz_core.corpus.library import index_root

    record = index_root() / DOWNLOADED
    return record.read_text().split() if record.is_file() else []


def _record_download(repo: str) -> None:
    from bertviz_core.corpus.library import index_root

    record = index_root() / DOWNLOADED
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("\n".join(dict.fromkeys([*_downloaded(), repo])) + "\n")


def opened_corpus_index(model: LoadedModel, folder: Path) -> CorpusIndex:
    """A finished index in an operator's folder (built by the command line or on Ray), opened once."""
    from bertviz_core.corpus import CorpusIndex

    return _cached(corpus_indexes(), ("corpus", model.location, str(folder)), "Opening the corpus index…",
                   lambda: CorpusIndex(folder, model, keep_layers=CORPUS_LAYERS))


def norms(model: LoadedModel, of: Analysis) -> NormMaps:
    """Value-norm maps cost a few seconds at 512 tokens: computed once per analysis."""
    return _cached(analysis_cache(), ("norms", *of.key), "Weighting attention by value norms…",
                   lambda: norm_maps(model, of))


def _cached(cache: BoundedCache, key: tuple, message: str, compute: Callable[[], Result]) -> Result:
    """From ``cache``, or computed under a spinner (only a miss shows one)."""
    found = cache.get(key)
    if found is not None:
        return found
    with st.spinner(message):
        result = cache.get_or_compute(key, compute)
    return_freed_memory()
    return result


# glibc's malloc_trim, found among the symbols the process already has; absent on macOS, and Windows has no such
# handle at all, so there the allocator is left alone.
_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None) if os.name == "posix" else None


def return_freed_memory() -> None:
    """Hand the memory a computation freed back to the system. glibc keeps it for reuse, spread over one arena per
    thread, so without this the server's resident size only ratchets up from one computation to the next (by
    hundreds of MB at 512 tokens), and a small hosted machine runs out."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def settle_long_lived_objects() -> None:
    """Move every object alive now (the imported libraries, the loaded model) out of the garbage collector's sight.

    Streamlit runs a full collection after every script run, and with torch, transformers and plotly loaded that
    walks some 460,000 objects: 0.2 s of CPU per page, over half of what a page load costs the server. None of
    these objects will ever be cyclic garbage (a model dropped from the cache is freed by reference counting
    alone), so the collection after each page is left with what the page itself made. What other sessions hold
    at that moment is frozen too and, should it become cyclic garbage, never collected: a few MB at most, once.
    """
    gc.collect()
    gc.freeze()


def settled_after_first_run(url_path: str) -> bool:
    """Once per page, model and process, after the page's first run with that model: what the page imported on first
    use (Plotly's validators, scikit-learn) and the model the run loaded join the long-lived objects."""
    from app_pages.sidebar import LENS  # the sidebar imports this module

    lens = st.session_state.get(LENS)
    return _settled(url_path, lens.model.location if lens else "")


@st.cache_resource(show_spinner=False)
def _settled(url_path: str, model_location: str) -> bool:
    settle_long_lived_objects()
    return True


@functools.cache
def configure_server_process() -> None:
    """The process-wide settings of the shared server, made once at start-up (app.py calls it before any page runs).

    Every OpenBLAS (NumPy's, SciPy's, FAISS's) runs on one thread: the server's parallelism is its sessions, and
    OpenBLAS threads called from many sessions at once spin against each other (twenty sessions' Contextual meaning
    pages each making one small SVD took 75 s on two cores, against 0.09 s with one thread each).
    FAISS searches on one thread: each session searches one query at a time, so a second thread only adds overhead
    (importing FAISS here costs the server 12 MB before anyone opens the Corpus page). Arrow allocates from the
    system allocator: its own keeps what a build freed (130 MB after indexing the shipped corpus with BERT-base),
    where return_freed_memory hands it back. And the libraries imported so far leave the garbage collector's sight
    (``settle_long_lived_objects``), as each page's first run and each model do later (``settled_after_first_run``).
    """
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read by each OpenBLAS loaded from now on
    import faiss
    import pyarrow
    import threadpoolctl

    threadpoolctl.threadpool_limits(1, user_api="blas")  # the OpenBLAS NumPy loaded before
    faiss.omp_set_num_threads(1)
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    settle_long_lived_objects()
