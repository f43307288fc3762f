"""Building the input: token + position + segment embeddings, summed and normalised, for the user's sentence."""

import streamlit as st

from bertviz_core import model_summary
from bertviz_core.anatomy import PRETRAINING
from bertviz_core.charts.inputs import input_heatmaps, input_norms, order_changes
from bertviz_core.positions import compare_orders, input_vectors, reorder_words
from app_pages import compute
from app_pages.sidebar import current_analysis, current_lens
from app_pages.figures import chart

EXAMPLE = "She loves cats"


def use_example() -> None:
    st.session_state["text"] = EXAMPLE


model = current_lens().model
analysis = current_analysis()
vectors = input_vectors(model, analysis)

st.title("Building the input: token + position + segment")
st.markdown(
    """
Before the first layer sees anything, each token becomes one vector, built from three learned tables:
- the **token embedding**: the row for this vocabulary entry (the same for "cats" wherever it appears);
- the **position embedding**: the row for its place in the input (see the Positions page);
- the **segment embedding**: sentence A or sentence B, for inputs made of two texts.

They are **added** (not concatenated), and the sum goes through a **LayerNorm**, which rescales each vector to a
mean of 0 and a spread of 1 before applying learned weights. That result is what enters layer 1.
"""
)
segments = model_summary(model).segments
sentence_task = PRETRAINING[model.family].sentence_task
if sentence_task:
    why = (f"{model.name}'s family was pre-trained on pairs of sentences ({sentence_task}) and is fine-tuned on "
           "tasks that read two texts (a question and a passage, a claim and its evidence). Attention alone cannot "
           "tell which text a token came from, so each token gets the row of its segment: A for the first text, B "
           "for the second.")
else:
    kept = {0: "It has no segment table at all; that part is zero below.",
            1: "It keeps a single segment row, the same for every token: it shifts all tokens alike and marks no "
               "sentence."}.get(segments, f"It keeps {segments} segment rows, which fine-tuning on pairs of texts "
                                          "can put to use.")
    why = (f"BERT learned them for next sentence prediction, which reads sentence pairs; {model.name}'s family has "
           f"no sentence-pair task in pre-training. {kept}")
st.markdown(f"**Why segments?** {why}")
if segments >= 2:
    st.caption("Segments here: " + ", ".join(sorted({"A" if s == 0 else "B" for s in analysis.segment_ids})) + ".")
if model.layout.projection(model.encoder) is not None:
    st.caption(f"{model.name} embeds in a smaller width and then projects to the hidden size; the bars show "
               "the embedding width, before that projection.")
st.button(f"Use the example “{EXAMPLE}”", on_click=use_example)

chart(st, input_heatmaps(analysis, vectors))
chart(st, input_norms(analysis, vectors))

st.subheader("Change the word order")
order = st.radio("New order", ["reverse", "shuffle"], horizontal=True)
seed = st.number_input("Shuffle seed", 0, 10_000, 0) if order == "shuffle" else 0
reordered = reorder_words(analysis.text, order, seed)
st.text(f"Original:  {analysis.text}\nReordered: {reordered}")  # st.text: user text is never read as markup
comparison = compare_orders(analysis, compute.analysis(model, reordered))
chart(st, order_changes(comparison))
st.markdown("A word's **token vector does not change** when it moves: it is the same table row. Its **position "
            "vector changes** with its place, so the **input to layer 1 changes** too. That sum is the only way the "
            "model learns the order of the words.")
if any(token.startswith("Ġ") for token in analysis.tokens):
    st.caption("Byte-level BPE (this model's tokenizer) writes a word's leading space into its pieces: “She” at "
               "the start and “ĠShe” after a space are different table rows, so a word moved to or from the "
               "start does get another token vector. Words are matched here by their letters.")
