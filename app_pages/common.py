"""What every page shares: the cached model and analysis, the sidebar, and the URL that reproduces a view."""

from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass, replace

import streamlit as st

from bertviz_core import Analysis, InputError, LoadedModel, ModelLoadError, analyze, load_model
from bertviz_core.attention import NormMaps, norm_maps
from bertviz_core.cache import BoundedCache
from bertviz_core.charts import token_labels
from bertviz_core.loading import default_choice, is_local_spec

DEFAULT_TEXT = "The bank of the river was flooded."
AUTOMATIC = "Automatic"
OTHER = "Other (hub id or local folder)"
PRESETS = {
    AUTOMATIC: "",
    "bert-base-uncased": "bert-base-uncased",
    "distilbert-base-uncased": "distilbert-base-uncased",
    "roberta-base": "roberta-base",
    "albert-base-v2": "albert-base-v2",
    "electra-small-generator": "google/electra-small-generator",
    "bert-lens-minilm-mlm (offline, with masked-LM head)": "offline",
    "all-MiniLM-L6-v2 (embedded, offline)": "embedded",
}
ANALYSIS_CACHE_ENTRIES = 16
ANALYSIS_CACHE_MB = int(os.environ.get("BERT_LENS_CACHE_MB", "400"))
RESULTS_CACHE_ENTRIES = 64
RESULTS_CACHE_MB = 100


@dataclass(frozen=True)
class Lens:
    """The loaded model and the current analysis (None when the text cannot be analysed)."""

    model: LoadedModel
    analysis: Analysis | None


@st.cache_resource(max_entries=3, show_spinner="Loading the model (first time only)…")
def cached_model(spec: str) -> LoadedModel:
    """One model object per spec for the whole server process, shared by every session."""
    return load_model(spec, max_bytes=max_model_bytes())


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


def max_model_bytes() -> int:
    """Bigger models are refused before loading. The default, 1,500 MB, admits BERT-large (1.3 GB of weights);
    the operator sets another with BERT_LENS_MAX_MODEL_MB."""
    return int(os.environ.get("BERT_LENS_MAX_MODEL_MB", "1500")) * 1_000_000


@st.cache_resource
def analysis_cache() -> BoundedCache:
    """One cache for all sessions; analyses are frozen, so sessions share them without copying."""
    return BoundedCache(max_entries=ANALYSIS_CACHE_ENTRIES, max_bytes=ANALYSIS_CACHE_MB * 1_000_000)


@st.cache_resource
def results_cache() -> BoundedCache:
    """Smaller results derived from an analysis (masked runs, recipe draws), shared by all sessions; kept apart so
    that many of them never push the analyses themselves out."""
    return BoundedCache(max_entries=RESULTS_CACHE_ENTRIES, max_bytes=RESULTS_CACHE_MB * 1_000_000)


def cached_analysis(model: LoadedModel, text: str, pair: str | None) -> Analysis:
    return _cached(analysis_cache(), (model.location, text, pair), "Running the model…",
                   lambda: analyze(model, text, pair))


def cached_norms(model: LoadedModel, analysis: Analysis) -> NormMaps:
    """Value-norm maps cost a few seconds at 512 tokens: computed once per analysis, in the same bounded cache."""
    return _cached(analysis_cache(), ("norms", model.location, analysis.text, analysis.text_pair),
                   "Weighting attention by value norms…", lambda: norm_maps(model, analysis))


def cached_result(key: tuple, message: str, compute):
    """A derived result (its ``key`` must name the model and the text it came from), computed once for everyone."""
    return _cached(results_cache(), key, message, compute)


def _cached(cache: BoundedCache, key: tuple, message: str, compute):
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


def sidebar() -> Lens | None:
    """Model picker, sentence, banner. Returns None only when no model could be loaded at all."""
    with st.sidebar:
        st.header("BERT Lens")
        model = _model_picker()
        text = st.text_area("Sentence", key=_seeded("text", _url("text", DEFAULT_TEXT)), height=90,
                            help="Shared by every page. Write [MASK] where a word should be guessed.")
        pair = st.text_input("Second sentence (optional)", key=_seeded("pair", _url("pair", "")),
                             help="BERT reads two texts as [CLS] A [SEP] B [SEP], with segment embeddings A and B.")
    _set_url(text=text, pair=pair)
    if model is None:
        return None
    st.sidebar.info(model.banner)
    try:
        analysis = cached_analysis(model, text, pair or None)
    except InputError as error:
        st.info(md(str(error)))
        return Lens(model, None)
    if analysis.truncated:
        st.warning(f"The text has {analysis.original_length} tokens; {model.name} reads at most "
                   f"{analysis.max_length}, so everything shown covers the first {analysis.max_length}.")
    return Lens(model, analysis)


def _model_picker() -> LoadedModel | None:
    spec_in_url = _url("model", "")
    preset_of = {spec: label for label, spec in PRESETS.items()}
    label = st.selectbox("Model", [*PRESETS, OTHER], key=_seeded("model_choice", preset_of.get(spec_in_url, OTHER)))
    spec = PRESETS.get(label)
    if spec is None:
        spec = st.text_input("Hub id or local folder", key=_seeded("model_custom", spec_in_url),
                             placeholder="e.g. bert-large-uncased").strip()
    try:
        model = model_for(_allowed(spec))
    except ModelLoadError as error:
        st.error(md(str(error)))
        model = _previous_model()
        if model is not None:
            st.caption(md(f"Still showing {model.name}."))
        return model
    st.session_state["last_good_model_spec"] = spec
    _set_url(model=spec)
    return model


def local_paths_allowed() -> bool:
    """Loading models from this server's folders is for the operator to switch on (scripts/run_app.sh does, for a
    local run); on a shared server it stays off, so visitors cannot make the app read arbitrary paths."""
    return os.environ.get("BERT_LENS_ALLOW_LOCAL_PATHS") == "1"


def _allowed(spec: str) -> str:
    if is_local_spec(spec) and not local_paths_allowed():
        raise ModelLoadError("Loading models from this server's folders is switched off here. The person running "
                             "the app can allow it with BERT_LENS_ALLOW_LOCAL_PATHS=1.")
    return spec


def _previous_model() -> LoadedModel | None:
    spec = st.session_state.get("last_good_model_spec")
    try:
        return model_for(spec or "")
    except ModelLoadError:
        return None


def url_index(name: str, label: str, count: int, *, column=st) -> int:
    """A 1-based number picker kept in the URL (``?layer=3``); returns the 0-based index."""
    if name in st.session_state and st.session_state[name] > count:
        del st.session_state[name]  # a smaller model was loaded
    value = column.selectbox(label, range(1, count + 1), key=_seeded(name, min(max(_url_int(name, 1), 1), count)))
    _set_url(**{name: str(value)})
    return value - 1


def url_slider(name: str, label: str, low: int, high: int, default: int, *, column=st, **options) -> int:
    """An integer slider kept in the URL (``?length=128``)."""
    if name in st.session_state and not low <= st.session_state[name] <= high:
        del st.session_state[name]  # the model changed and the old value no longer fits
    value = column.slider(label, low, high, key=_seeded(name, min(max(_url_int(name, default), low), high)), **options)
    _set_url(**{name: str(value)})
    return value


def url_token(name: str, label: str, tokens, default: int, *, column=st, first: str | None = None) -> int:
    """A token picker kept in the URL by position (``?query=2``), labelled like the charts ('2 bank'). With
    ``first``, that entry comes before the tokens (as 0) and token i is entry i + 1, still labelled 'i ...'."""
    labels = ([first] if first is not None else []) + token_labels(tokens)
    if name in st.session_state and st.session_state[name] >= len(labels):
        del st.session_state[name]  # a shorter sentence was typed
    initial = _url_int(name, default)
    value = column.selectbox(label, range(len(labels)), format_func=labels.__getitem__,
                             key=_seeded(name, initial if 0 <= initial < len(labels) else default))
    _set_url(**{name: str(value)})
    return value


def url_choice(name: str, label: str, options: list[str], default: str, *, column=st, **kwargs) -> str:
    """A radio choice kept in the URL by its text (``?view=Model+view``)."""
    initial = _url(name, default)
    value = column.radio(label, options, key=_seeded(name, initial if initial in options else default), **kwargs)
    _set_url(**{name: value})
    return value


def url_flag(name: str, label: str, *, column=st, **kwargs) -> bool:
    """A checkbox kept in the URL as ``?name=1`` (absent when off)."""
    value = column.checkbox(label, key=_seeded(name, _url(name, "") == "1"), **kwargs)
    _set_url(**{name: "1" if value else ""})
    return value


def url_pills(name: str, label: str, options: list[int], labels: list[str], **kwargs) -> int | None:
    """Token chips to click, one at a time, kept in the URL by position (``?masked=5``); None when none is chosen."""
    initial = _url_int(name, -1)
    if name in st.session_state and st.session_state[name] not in options:
        del st.session_state[name]  # the sentence changed under the choice
    value = st.pills(label, options, format_func=labels.__getitem__, selection_mode="single",
                     key=_seeded(name, initial if initial in options else None), **kwargs)
    _set_url(**{name: "" if value is None else str(value)})
    return value


def url_text(name: str, label: str, default: str, *, lines: int = 1, **options) -> str:
    """A text box kept in the URL; ``lines`` > 1 makes it a text area."""
    widget = st.text_area if lines > 1 else st.text_input
    if lines > 1:
        options["height"] = 34 * lines
    value = widget(label, key=_seeded(name, _url(name, default)), **options)
    _set_url(**{name: value})
    return value


def _seeded(key: str, initial):
    """Give a widget its first value (from the URL) once per session, and keep it across page switches.

    Streamlit forgets the state of widgets a page does not draw; the kept copy brings it back.
    """
    kept = f"kept_{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, initial)
    st.session_state[kept] = st.session_state[key]
    return key


def md(text: str) -> str:
    """User text made literal inside st.markdown: no emphasis, links, LaTeX ($) or HTML from what was typed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$&:])", r"\\\1", text)


def _url(name: str, default: str) -> str:
    return st.query_params.get(name, default)


def _url_int(name: str, default: int) -> int:
    try:
        return int(_url(name, str(default)))
    except ValueError:
        return default


def _set_url(**values: str) -> None:
    """Write the current choices back so the address bar always reproduces the view."""
    for name, value in values.items():
        if value:
            if st.query_params.get(name) != value:
                st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]


def current_lens() -> Lens:
    """The lens app.py prepared for this run; stops the page when there is no model."""
    lens = st.session_state.get("lens")
    if lens is None:
        st.error("No model could be loaded. Choose another model in the sidebar.")
        st.stop()
    return lens


def current_analysis() -> Analysis:
    """The current analysis; stops the page with a hint when the text cannot be analysed."""
    analysis = current_lens().analysis
    if analysis is None:
        st.info("Type a sentence in the sidebar to see this page.")
        st.stop()
    return analysis
