"""Home: what BERT is and is not, the loaded model's key numbers, and a guide to the pages."""

import streamlit as st

from bertviz_core import model_summary
from app_pages.catalog import PAGES
from app_pages.common import current_lens

lens = current_lens()
summary = model_summary(lens.model)

st.title("BERT Lens: see inside BERT")
st.markdown(
    """
BERT is a stack of **Transformer encoder** layers. It reads a whole sentence at once, and every token can look
**both left and right** (bidirectional self-attention). It was pre-trained by hiding words (`[MASK]`) and
guessing them from both sides, which makes it good at *understanding* text: classifying it, finding answers in
it, comparing meanings.

BERT is **not** a text generator. GPT-style models are decoders: each token sees only the tokens to its left, so
they can write text one word after another. BERT has no such left-to-right order, so it fills gaps instead.
"""
)

st.subheader(f"The loaded model: {summary.name}")
st.caption(lens.model.reason)
numbers = [
    ("Layers", summary.layers), ("Heads per layer", summary.heads), ("Hidden size", summary.hidden_size),
    ("Head size", summary.head_size), ("Feed-forward size", summary.intermediate_size),
    ("Vocabulary", f"{summary.vocab_size:,}"), ("Max tokens", summary.max_positions),
    ("Parameters", f"{summary.total_parameters / 1e6:.1f} M"),
]
for column, (label, value) in zip(st.columns(4) * 2, numbers):
    column.metric(label, value)
st.caption("Read from the model's own configuration and weights. "
           + ("It has a trained masked-LM head." if summary.has_mlm_head
              else "It has no trained masked-LM head, so it cannot guess masked words."))

st.subheader("The pages")
for info in PAGES:
    st.page_link(info.script, label=f"{info.title}: {info.blurb}", icon=info.icon)
st.caption("Layers and heads are numbered from 1 in the app (the code and the arrays count from 0).")
