"""Home: what BERT is and is not, how it was pre-trained, the loaded model's key numbers, and a guide to the pages."""

import streamlit as st

from bertviz_core import model_summary
from bertviz_core.anatomy import pretraining_story
from bertviz_core.facts import facts_about
from app_pages import compute
from app_pages.catalog import HOME, SECTIONS, in_section
from app_pages.sidebar import current_lens

lens = current_lens()
summary = model_summary(lens.model)

st.title("BERT Lens: see inside BERT")
st.markdown(
    """
BERT is a stack of **Transformer encoder** layers. It reads a whole sentence at once, and every token can look
**both left and right** (bidirectional self-attention), which makes it good at *understanding* text: classifying
it, finding answers in it, comparing meanings.

BERT-base was **pre-trained on two tasks** at once, on unlabelled text: **masked language modelling** (15% of the
tokens are selected, most of them, 80%, replaced by `[MASK]`, and the model guesses the originals from both sides)
and **next sentence prediction** (given sentences A and B, is B the sentence that followed A?). Its descendants
changed the second task: RoBERTa dropped it, ALBERT replaced it with sentence-order prediction (are A and B in their
original order?).

BERT is **not** a text generator. GPT-style models are decoders: each token sees only the tokens to its left, so
they can write text one word after another. BERT has no such left-to-right order, so it fills gaps instead.
"""
)

st.subheader(f"The loaded model: {summary.name}")
st.caption(lens.model.reason)
facts = compute.facts(lens.model)
st.markdown(pretraining_story(facts, lens.model.family))
numbers = [
    ("Layers", summary.layers), ("Heads per layer", summary.heads), ("Hidden size", summary.hidden_size),
    ("Head size", summary.head_size), ("Feed-forward size", summary.intermediate_size),
    ("Vocabulary", f"{summary.vocab_size:,}"), ("Max tokens", summary.max_positions),
    ("Parameters", f"{summary.total_parameters / 1e6:.1f} M"),
]
for column, (label, value) in zip(st.columns(4) * 2, numbers):
    column.metric(label, value)
st.caption(f"Read from the model's own configuration, weights and tokenizer. Positions: {summary.positions_phrase}. "
           + facts_about(facts, ("positions", "segments", "sentence_head", "vocabulary", "casing")) + " "
           + ("It has a trained masked-LM head." if summary.has_mlm_head
              else "It has no trained masked-LM head, so it cannot guess masked words."))

st.subheader("The pages")
for section in SECTIONS:
    st.markdown(f"**{section}**")
    for info in in_section(section):
        if info != HOME:
            st.page_link(info.path, label=f"{info.title}: {info.blurb}", icon=info.icon)
st.caption("Layers and heads are numbered from 1 in the app (the code and the arrays count from 0).")
