"""Home: what BERT is and is not, the loaded model's key numbers, and a guide to the pages."""

import streamlit as st

from bertviz_core import model_summary
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
st.page_link("app_pages/tokenization.py", label="Tokenization: WordPiece step by step, from text to ids",
             icon=":material/text_fields:")
st.page_link("app_pages/positions.py", label="Positions: why order must be injected, learned versus sinusoidal",
             icon=":material/timeline:")
st.page_link("app_pages/inputs.py", label="Building the input: token + position + segment, then LayerNorm",
             icon=":material/add_circle:")
st.page_link("app_pages/architecture.py", label="Architecture: the model's blocks and where its parameters are",
             icon=":material/account_tree:")
st.page_link("app_pages/attention.py", label="Attention: where each token looks, for every layer and head",
             icon=":material/grid_on:")
st.page_link("app_pages/qkv.py", label="Query, key, value: how one head computes where a token looks",
             icon=":material/calculate:")
st.page_link("app_pages/context.py", label="Contextual meaning: “bank” of a river versus a bank that lends",
             icon=":material/compare_arrows:")
st.page_link("app_pages/applications.py", label="Applications: train a classification head, compare sentences",
             icon=":material/school:")
st.caption("Layers and heads are numbered from 1 in the app (the code and the arrays count from 0).")
