"""Positions: why order must be injected, the sinusoidal formula, and the loaded model's own table side by side."""

import streamlit as st

from bertviz_core import model_summary
from bertviz_core.charts.positions import dimension_curves, pca_path, similarity_heatmap, table_heatmap
from bertviz_core.positions import model_positions, sinusoidal
from bertviz_core.vectors import cosine_similarity, pca
from app_pages import compute
from app_pages.sidebar import current_analysis, current_lens
from app_pages.state import url_slider
from app_pages.figures import chart

model = current_lens().model
analysis = current_analysis()
positions = model_positions(model, analysis)
own = f"{positions.kind.capitalize()} ({model.name})"  # the right-hand charts' titles

st.title("Positions: learned versus sinusoidal")
st.markdown(
    """
**Why order must be injected.** Self-attention compares every token with every other token, and nothing in that
comparison knows where a token stands: without extra information, *dog bites man* and *man bites dog* would give
each word the same result. So before the first layer, each token's vector gets a **position vector** added to it.

**Two ways to make position vectors.**
- *Sinusoidal* (Vaswani et al., 2017, the original Transformer): a fixed formula, no training.
  PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)). Each pair of dimensions is a
  wave of its own wavelength, from short to very long, so every position gets a distinct pattern, and shifting by a
  fixed offset is the same rotation everywhere.
- *Learned* (BERT and most of its family): a table with one trainable row per position, learned during
  pre-training like the word embeddings. It holds only as many rows as the model was trained for, which is why
  BERT reads at most its table's length of tokens.
"""
)
table_size = (f"{model_summary(model).positions_phrase}, {positions.table.shape[1]} dimensions each, "
              "read from its weights")
if compute.facts(model).positions == "learned":
    st.info(f"{model.name} uses **learned** position embeddings: {table_size}. They differ from the formula, so "
            "they were trained. Calling BERT's positions sinusoidal is a common mistake: that was the original "
            "Transformer.")
else:
    st.info(f"{model.name} uses **sinusoidal** position embeddings: {table_size}. They equal the formula, so the "
            "two sides below show the same numbers (some DistilBERT checkpoints are built this way).")
first = positions.first_row
if first:
    unused = "row 0 is never used" if first == 2 else f"rows 0 to {first - 2} are never used"
    st.caption(f"This model numbers positions from row {first} (RoBERTa-style: row {first - 1} is the padding "
               f"token's position and {unused}), so the first token uses row {first} and rows {first} to "
               f"{first + len(positions.table) - 1} are shown here as positions 0 onwards.")

left, right = st.columns(2)
length = url_slider("length", "Positions to show", 2, len(positions.table), min(128, len(positions.table)),
                    column=left)
width = url_slider("width", "Sinusoidal width (dimensions)", 2, 1024, positions.table.shape[1], column=right,
                   help="Defaults to the model's embedding width, so the two tables have the same shape.")
formula_table = sinusoidal(length, width)  # [length, width]
model_table = positions.table[:length]  # [length, E]
shared_dimensions = min(width, model_table.shape[1])
dimensions = st.multiselect("Dimensions to plot as curves", list(range(shared_dimensions)),
                            default=[d for d in (0, 1, 6, 7) if d < shared_dimensions], max_selections=8)

formula_key, model_key = ("sinusoid", length, width), ("positions", model.location, length)  # what each side shows
for title, (sin_figure, model_figure) in {
    "Positions x dimensions": (
        compute.figure((*formula_key, "table"), lambda: table_heatmap(formula_table, "Sinusoidal")),
        compute.figure((*model_key, "table"), lambda: table_heatmap(model_table, own))),
    "Chosen dimensions across positions": (
        compute.figure((*formula_key, "curves", *dimensions),
                       lambda: dimension_curves(formula_table, dimensions, "Sinusoidal")),
        compute.figure((*model_key, "curves", *dimensions), lambda: dimension_curves(model_table, dimensions, own))),
    "Similarity between positions (cosine)": (
        compute.figure((*formula_key, "similarity"),
                       lambda: similarity_heatmap(cosine_similarity(formula_table), "Sinusoidal")),
        compute.figure((*model_key, "similarity"),
                       lambda: similarity_heatmap(cosine_similarity(model_table), own))),
}.items():
    st.subheader(title)
    left, right = st.columns(2)
    chart(left, sin_figure)
    chart(right, model_figure)
st.caption("In the sinusoidal similarity matrix, similarity depends only on the distance between two positions "
           "(a band along the diagonal)."
           + (" The learned table is smooth too, because training made neighbouring positions alike, but nothing "
              "forced that pattern." if positions.kind == "learned" else ""))

st.subheader("The path the positions trace")
dims = 3 if st.toggle("3D", value=False) else 2
left, right = st.columns(2)
chart(left, compute.figure((*formula_key, "path", dims),
                                 lambda: pca_path(pca(formula_table, dims), "Sinusoidal, principal components")))
chart(right, compute.figure((*model_key, "path", dims),
                                  lambda: pca_path(pca(model_table, dims), f"{own}, principal components")))
st.caption("Each point is one position's vector, projected on the directions of greatest variance; the line joins "
           "positions in order and the colour gives the position.")
