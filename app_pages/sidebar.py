"""The sidebar every page shares: the model picker, the sentence and its pair, the banner; and the lens it hands
the page (the loaded model and the analysis of the sentence)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from bertviz_core import Analysis, InputError, LoadedModel, ModelLoadError
from bertviz_core.loading import EMBEDDED_ALIASES, OFFLINE_MLM_ALIASES, is_local_spec
from bertviz_core.tokenization import unknown_stretches
from app_pages import compute
from app_pages.state import seeded, set_url, url
from app_pages.text import md

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
LENS = "lens"
"""Session key of the lens app.py prepares for the page."""


@dataclass(frozen=True)
class Lens:
    """The loaded model and the current analysis (None when the text cannot be analysed)."""

    model: LoadedModel
    analysis: Analysis | None


def sidebar() -> Lens | None:
    """Model picker, sentence, banner. Returns None only when no model could be loaded at all."""
    with st.sidebar:
        st.header("BERT Lens")
        model = _model_picker()
        text = st.text_area("Sentence", key=seeded("text", url("text", DEFAULT_TEXT)), height=90,
                            help="Shared by every page. Write [MASK] where a word should be guessed.")
        pair = st.text_input("Second sentence (optional)", key=seeded("pair", url("pair", "")),
                             help="BERT reads two texts as [CLS] A [SEP] B [SEP], with segment embeddings A and B.")
    set_url(text=text, pair=pair)
    if model is None:
        return None
    st.sidebar.info(model.banner)
    try:
        analysis = compute.analysis(model, text, pair)
    except InputError as error:
        st.info(md(str(error)))
        return Lens(model, None)
    if analysis.truncated:
        st.warning(f"The text has {analysis.original_length} tokens; {model.name} reads at most "
                   f"{analysis.max_length}, so everything shown covers the first {analysis.max_length}.")
    _say_unknown(model, analysis)
    return Lens(model, analysis)


def _say_unknown(model: LoadedModel, analysis: Analysis) -> None:
    unknown = unknown_stretches(analysis, model.tokenizer.unk_token)
    if unknown:
        quoted = ", ".join(f"“{stretch}”" for stretch in dict.fromkeys(unknown))
        st.warning(md(f"{model.name}'s vocabulary has no piece for {quoted}: the model reads "
                      f"{'it' if len(unknown) == 1 else f'these {len(unknown)} stretches'} as "
                      f"{model.tokenizer.unk_token}."))


def _model_picker() -> LoadedModel | None:
    spec_in_url = url("model", "")
    preset_of = {spec: label for label, spec in PRESETS.items()}
    label = st.selectbox("Model", [*PRESETS, OTHER], key=seeded("model_choice", preset_of.get(spec_in_url, OTHER)))
    spec = PRESETS.get(label)
    if spec is None:
        spec = st.text_input("Hub id or local folder", key=seeded("model_custom", spec_in_url),
                             placeholder="e.g. bert-large-uncased").strip()
    try:
        model = compute.model_for(allowed(spec))
    except ModelLoadError as error:
        st.error(md(str(error)))
        model = _previous_model()
        if model is not None:
            st.caption(md(f"Still showing {model.name}."))
        return model
    st.session_state["last_good_model_spec"] = spec
    set_url(model=spec)
    return model


def local_paths_allowed() -> bool:
    """Loading models from this server's folders is for the operator to switch on (scripts/run_app.sh does, for a
    local run); on a shared server it stays off, so visitors cannot make the app read arbitrary paths."""
    return os.environ.get("BERT_LENS_ALLOW_LOCAL_PATHS") == "1"


def allowed(spec: str) -> str:
    """``spec``, if this server lets visitors load it: folders where the operator allows them, hub ids named in
    BERT_LENS_MODELS (a comma-separated list, or ``any``; by default the presets and the shipped models)."""
    if is_local_spec(spec):
        if not local_paths_allowed():
            raise ModelLoadError("Loading models from this server's folders is switched off here. The person running "
                                 "the app can allow it with BERT_LENS_ALLOW_LOCAL_PATHS=1.")
        return spec
    listed = os.environ.get("BERT_LENS_MODELS", "").strip()
    if not spec or listed.lower() == "any":  # "Automatic" is the operator's own default
        return spec
    names = [name.strip() for name in listed.split(",") if name.strip()] or [*PRESETS.values()]
    if spec.lower() in {name.lower() for name in names} | _aliases_of(names):
        return spec
    choices = ", ".join(name for name in names if name)
    raise ModelLoadError(f"This server lets visitors choose among {choices}. The person running the app can allow "
                         "other models with BERT_LENS_MODELS.")


def _aliases_of(names: list[str]) -> set[str]:
    """Every name the shipped models go by, for those of them that ``names`` lists by any of their names."""
    lowered = {name.lower() for name in names}
    return set().union(*(aliases for aliases in (EMBEDDED_ALIASES, OFFLINE_MLM_ALIASES) if aliases & lowered))


def _previous_model() -> LoadedModel | None:
    spec = st.session_state.get("last_good_model_spec")
    try:
        return compute.model_for(spec or "")
    except ModelLoadError:
        return None


def current_lens() -> Lens:
    """The lens app.py prepared for this run; stops the page when there is no model."""
    lens = st.session_state.get(LENS)
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
