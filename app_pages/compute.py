"""The one path to every computation the app makes: models, analyses and the results derived from them, each found
again instead of run again and shared by every session; and the memory each computation frees, handed back.

No page calls ``analyze()`` or loads a model itself: an analysis is keyed by ``analysis_key`` (model, normalised
text, pair), a derived result by a name and the key of the analysis it comes from, so re-reading a layer, a head or
a view never runs the model again.
"""

from __future__ import annotations

import ctypes
import gc
import os
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import plotly.graph_objects as go
import streamlit as st

from bertviz_core import Analysis, LoadedModel, ModelLoadError, analysis_key, analyze, analyze_many, load_model
from bertviz_core.attention import NormMaps, norm_maps
from bertviz_core.cache import BoundedCache
from bertviz_core.charts import figure_bytes
from bertviz_core.loading import ModelTooLarge, default_choice, weight_bytes
from bertviz_core.facts import ModelFacts, model_facts

if TYPE_CHECKING:  # FAISS and Parquet cost a server 33 MB: imported when the Corpus page first runs
    from bertviz_core.corpus import CorpusIndex, Sentences

ANALYSIS_CACHE_MB = int(os.environ.get("BERT_LENS_CACHE_MB", "400"))
RESULTS_CACHE_MB = 100
FIGURES_CACHE_MB = 30  # two dozen 512-token heatmaps or hundreds of short ones, within the server's 1.5 GB
CORPUS_CACHE_MB = 150  # open corpus indexes: each holds its metadata and at most CORPUS_LAYERS layers' FAISS index
CORPUS_LAYERS = 1

Result = TypeVar("Result")


@st.cache_resource(max_entries=3, show_spinner="Loading the model (first time only)…")
def cached_model(spec: str, _max_bytes: int | None = None) -> LoadedModel:
    """One model object per spec for the whole server process, shared by every session. A model not loaded yet is
    refused, before loading, above ``_max_bytes`` (default: the per-model limit); a loaded one is found whatever
    the limit (callers that pass one check the size themselves)."""
    model = load_model(spec, max_bytes=max_model_bytes() if _max_bytes is None else _max_bytes)
    settle_long_lived_objects()
    return model


@st.cache_resource(ttl=600, show_spinner="Looking for bert-base-uncased…")
def automatic_choice() -> tuple[str, str]:
    """What "Automatic" means on this server, re-checked every ten minutes (a probe may wait seconds for the hub)."""
    return default_choice()


def model_for(spec: str) -> LoadedModel:
    """The model a picker spec names. "Automatic" is resolved first, so it shares the copy loaded by name rather
    than holding a second one (440 MB for BERT-base)."""
    if spec:
        return cached_model(spec)
    choice, reason = automatic_choice()
    try:
        return replace(cached_model(choice), reason=reason)
    except ModelLoadError:
        return cached_model("")  # the engine's own fallbacks


def second_model(first: LoadedModel, spec: str) -> LoadedModel:
    """The other model of a comparison. The two models' weights together stay within the limit the operator sets:
    a pair over it is refused with the sizes, before the second is loaded."""
    limit, first_bytes = max_model_bytes(), weight_bytes(first)
    try:
        second = cached_model(spec, _max_bytes=max(0, limit - first_bytes))
    except ModelTooLarge as error:
        needed = error.needed
    else:
        needed = weight_bytes(second)
        if first_bytes + needed <= limit:
            return second
    raise ModelLoadError(f"{first.name} needs {first_bytes / 1e6:,.0f} MB and '{spec}' {needed / 1e6:,.0f} MB for "
                         f"their weights, {(first_bytes + needed) / 1e6:,.0f} MB together; this server holds at most "
                         f"{limit / 1e6:,.0f} MB of models for a comparison (BERT_LENS_MAX_MODEL_MB).")


def max_model_bytes() -> int:
    """Bigger models are refused before loading. The default, 1,500 MB, admits BERT-large (1.3 GB of weights);
    the operator sets another with BERT_LENS_MAX_MODEL_MB."""
    return int(os.environ.get("BERT_LENS_MAX_MODEL_MB", "1500")) * 1_000_000


@st.cache_resource
def analysis_cache() -> BoundedCache:
    """One cache for all sessions, bounded by bytes only: analyses are frozen, so sessions share them without
    copying, and a page that needs many short ones (Applications reads fourteen) gets them all."""
    return BoundedCache(max_bytes=ANALYSIS_CACHE_MB * 1_000_000)


@st.cache_resource
def results_cache() -> BoundedCache:
    """Results derived from analyses (masked runs, recipe draws, norm maps, readings), shared by all sessions; kept
    apart so that many of them never push the analyses themselves out."""
    return BoundedCache(max_bytes=RESULTS_CACHE_MB * 1_000_000)


def analysis(model: LoadedModel, text: str, pair: str | None = None) -> Analysis:
    """The analysis of ``text`` (and ``pair``): found, or run once for everyone under a spinner."""
    return _cached(analysis_cache(), analysis_key(model, text, pair), "Running the model…",
                   lambda: analyze(model, text, pair))


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
    return analysis_cache().get_or_compute(analysis_key(model, text), lambda: analyze(model, text))


def derived(key: tuple, message: str, compute: Callable[[], Result]) -> Result:
    """A result computed from analyses or the model, once for everyone. ``key`` starts with the result's name and
    holds the ``Analysis.key`` of what it was computed from, then its own settings."""
    return _cached(results_cache(), key, message, compute)


def facts(model: LoadedModel) -> ModelFacts:
    """What the loaded model's checkpoint says about it (pooler, heads, tables, tokenizer), read once per model."""
    return derived(("facts", model.location, model.source), "Reading the checkpoint…", lambda: model_facts(model))


def progressing(key: tuple, message: str, compute: Callable[[Callable[[int, int], None]], Result]) -> Result:
    """Like ``derived``, for a computation that takes seconds: a miss shows a progress bar, which ``compute`` moves
    by calling its argument with (done, total)."""
    found = results_cache().get(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text=message)

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{message} {done:,} of {total:,}")

    result = results_cache().get_or_compute(key, lambda: compute(progress))
    bar.empty()
    return_freed_memory()
    return result


@st.cache_resource
def figures_cache() -> BoundedCache:
    """Figures shared by every session that shows the same thing, each counted by the arrays it holds."""
    return BoundedCache(max_bytes=FIGURES_CACHE_MB * 1_000_000, size=figure_bytes)


def figure(key: tuple, build: Callable[[], go.Figure]) -> go.Figure:
    """A figure built once for everyone who asks with the same ``key`` (a name, what it was drawn from, and its
    settings): building a Plotly figure costs more server time than sending it. Never changed once built."""
    return figures_cache().get_or_compute(key, build)


@st.cache_resource
def corpus_indexes() -> BoundedCache:
    """Corpus indexes opened for searching, shared by every session; a build under way is found here too, so a
    second visitor waits for it instead of starting another."""
    import faiss
    import pyarrow

    faiss.omp_set_num_threads(1)  # each session searches one query at a time: a second thread only adds overhead
    # Arrow's own allocator keeps what a build freed (130 MB after indexing the shipped corpus with BERT-base);
    # on the system allocator, return_freed_memory hands it back.
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    return BoundedCache(max_bytes=CORPUS_CACHE_MB * 1_000_000)


def corpus_index(model: LoadedModel, sentences: Sentences, folder: Path) -> CorpusIndex:
    """The index of ``sentences`` in ``folder``: open, opened from disk, or built there first with a progress bar
    (the build holds the model's lock one batch at a time, so other visitors' pages keep working)."""
    from bertviz_core.corpus.library import opened

    key = ("corpus", model.location, str(folder))
    found = corpus_indexes().get(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text="Opening the corpus index…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(done / total, text=f"Indexing the corpus (first time only): {done:,} of {total:,} {what}")

    index = corpus_indexes().get_or_compute(key, lambda: opened(model, sentences, folder, progress, CORPUS_LAYERS))
    bar.empty()
    return_freed_memory()
    return index


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


@st.cache_resource(show_spinner=False)
def settled_after_first_run(url_path: str) -> bool:
    """Once per page and process, after its first run: what the page imported on first use (Plotly's validators,
    scikit-learn) joins the long-lived objects."""
    settle_long_lived_objects()
    return True
