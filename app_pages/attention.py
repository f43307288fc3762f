"""Attention: every way people look at it (heatmap, head view, model view), and views that read it more honestly."""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import streamlit as st

from bertviz_core.attention.comparison import compare
from bertviz_core.attention.heads import head_roles, head_statistics
from bertviz_core.attention.rollout import rollout, token_views
from bertviz_core.attention.views import PAIR_BLOCKS, ViewOptions, view_matrix
from bertviz_core.charts import token_labels
from bertviz_core.charts.attention import (ISOLATE, OPEN_HEAD, difference_heatmap, head_grid, head_title, head_view,
                                           model_view, token_comparison, view_heatmap)
from bertviz_core.charts.clicks import clicked
from bertviz_core.export import matrix_csv, npz_bytes
from app_pages import compute
from app_pages.sidebar import current_analysis, current_lens
from app_pages.state import url_choice, url_flag, url_index, url_slider, url_text, url_token
from app_pages.text import md
from app_pages.figures import chart

STATISTICS = {"entropy": "entropy (nats)", "to_cls": "share to [CLS]", "to_sep": "share to [SEP]",
              "to_punctuation": "share to punctuation", "to_previous": "share to the previous token",
              "to_next": "share to the next token", "to_self": "share to itself"}

model = current_lens().model
analysis = current_analysis()


@dataclass(frozen=True)
class View:
    """One way of looking at attention: what it says first, and what draws it (layer and head are 0-based)."""

    intro: str
    draw: Callable[[int, int], None]


def open_clicked_head() -> None:
    """Model view click: open that head as a heatmap (a callback, so it may set the pickers' state)."""
    cell = clicked(st.session_state["model_view"].selection.points, OPEN_HEAD)
    if cell is not None:
        st.session_state["layer"], st.session_state["head"] = cell  # 1-based, as the pickers count
        st.session_state["view"] = "Heatmap"


def isolate_clicked_token() -> None:
    row = clicked(st.session_state["head_view"].selection.points, ISOLATE)
    if row is not None:
        st.session_state["focus"] = row[0] + 1  # the picker's 0 means "every token"


def shown(key: tuple, matrix: np.ndarray, title: str) -> None:
    """Draw a [T, T] matrix with the options applied; ``key`` names the matrix, so sessions looking at the same one
    share its figure."""
    def build():
        return view_heatmap(view_matrix(analysis, matrix, options), title)

    chart(st, compute.figure((*key, *analysis.key, options), build), config=config, width="content")


def heatmap(layer: int, head: int) -> None:
    shown(("heatmap", layer, head), analysis.attentions[layer, head], head_title(layer, head))


def lines(layer: int, head: int) -> None:
    heads = st.multiselect("Heads", range(analysis.num_heads), default=[head], format_func=lambda h: f"head {h + 1}")
    left, right = st.columns(2)
    top_k = url_slider("top_k", "Strongest links per token", 1, max(2, min(20, analysis.num_tokens)),
                       min(5, analysis.num_tokens), column=left)
    threshold = left.slider("Hide links below", 0.0, 0.5, 0.02, 0.01)
    layer_view = view_matrix(analysis, analysis.attentions[layer], options)  # [H, R, C]
    focus = url_token("focus", "Isolate one token", layer_view.row_names, 0, column=right, first="(every token)")
    figure, drawn, omitted = head_view(layer_view, layer, heads, top_k, threshold, focus - 1 if focus else None)
    chart(st, figure, key="head_view", on_select=isolate_clicked_token, selection_mode="points",
                    config=config)
    st.caption(f"{drawn:,} lines drawn; {omitted:,} weaker links left out (at most {top_k} per token, none below "
               f"{threshold:.2f}).")


def every_head(layer: int, head: int) -> None:
    figure = compute.figure(("model view", *analysis.key, options),
                            lambda: model_view(view_matrix(analysis, analysis.attentions, options)))
    chart(st, figure, key="model_view", on_select=open_clicked_head, selection_mode="points", config=config)


def rollout_and_norms(layer: int, head: int) -> None:
    norms = compute.norms(model, analysis)
    rollouts = compute.derived(("rollout", *analysis.key), "Rolling attention out through the layers…",
                               lambda: rollout(analysis.attentions))
    left, right = st.columns(2)
    with left:
        shown(("rollout", layer), rollouts[layer], f"Rollout through layer {layer + 1}")
    with right:
        per_head = url_flag("norm_per_head", "Norms of the chosen head only")
        matrix = norms.per_head[layer, head] if per_head else norms.summed[layer]
        title = f"‖α f(x)‖, layer {layer + 1}" + (f", head {head + 1}" if per_head else ", all heads")
        shown(("norms", layer, head if per_head else None), matrix / max(float(matrix.max()), 1e-12),
              title + " (scaled to its maximum)")
    rows = view_matrix(analysis, analysis.attentions[layer, head], options).row_names
    token = url_token("token", "Compare the three views for one token", rows, min(1, len(rows) - 1))
    views = token_views(analysis, rollouts, norms, layer, token, options)
    chart(st, token_comparison(views), config=config)
    agreement = views.agreement
    st.markdown(f"Rank agreement (Spearman): raw vs rollout **{agreement.raw_rollout:.2f}**, raw vs norms "
                f"**{agreement.raw_norm:.2f}**, rollout vs norms **{agreement.rollout_norm:.2f}** (1 = same order).")
    st.caption("They differ because each answers another question: raw attention is one layer's weights; rollout "
               "mixes all layers up to this one and counts the residual path, so each token's own information (the "
               "diagonal) stays large; norms discount tokens whose value vectors are short, which is why heavy "
               "attention to [SEP] or punctuation often carries almost nothing.")


def roles(layer: int, head: int) -> None:
    stats = head_statistics(analysis, options)
    statistic = st.selectbox("Colour by", list(STATISTICS), format_func=STATISTICS.get)
    chart(st, head_grid(getattr(stats, statistic), STATISTICS[statistic], statistic,
                              [list(row) for row in head_roles(stats)]), config=config)
    st.caption("A head is labelled with a role when at least half its attention goes one way (\"broad\" when its "
               "entropy is at least 80% of the maximum); these are roles on this sentence, not fixed properties.")


def two_versions(layer: int, head: int) -> None:
    other = url_text("compare_text", "Second version of the sentence", analysis.text)
    if other.strip() == analysis.text:
        st.info("Edit the second version (change a word) to compare.")
        return
    comparison = compare(analysis, compute.analysis(model, other, analysis.text_pair), options)
    chart(st, head_grid(comparison.change, "How much each head's attention changed", "change"),
                    config=config)
    top_layer, top_head, top_change = comparison.ranked[0]
    st.markdown(md(f"Most changed: layer {top_layer + 1}, head {top_head + 1} (mean change {top_change:.3f}). "
                   "Its difference, B − A, on the shared tokens:"))
    rows = token_labels(comparison.row_names, comparison.row_positions)
    columns = token_labels(comparison.column_names, comparison.column_positions)
    chart(st, difference_heatmap(comparison.difference[top_layer, top_head], rows, columns,
                                       f"Layer {top_layer + 1}, head {top_head + 1}: B − A"), config=config,
                    width="content")


VIEWS = {
    "Heatmap": View("Each row is one token asking *where should I look?*; the row's weights sum to 1. Hover a cell "
                    "to read the weight.", heatmap),
    "Head view": View("Every token on the left is joined to the tokens it attends to on the right; a stronger "
                      "weight draws a darker line, and each head has its colour. Click a token on the left to "
                      "isolate its lines.", lines),
    "Model view": View(f"All {analysis.num_layers} x {analysis.num_heads} heads at once, each a small picture of its "
                       "matrix (long inputs are shrunk by keeping each block's strongest weight). Click a cell to "
                       "open that head.", every_head),
    "Rollout and norms": View(
        """
Raw attention says how much a token *looks at* another in one head, but it is not the whole story:
- **Attention rollout** (Abnar and Zuidema, 2020) follows information through the layers. Each layer's
  head-averaged attention gets the identity added (the residual connection carries every token's own vector
  forward), rows are rescaled to sum to 1, and the layers are multiplied together.
- **Value-norm weighting** (Kobayashi et al., 2020) asks how much a token actually *moves* another:
  ‖α f(x)‖, the weight times the length of the value vector after the output matrix. A token can receive a lot of
  attention and still pass on little, when its value vector is short ([CLS] and [SEP] often are).
""", rollout_and_norms),
    "Head roles": View("What each head does *on this text*, after Clark et al. (2019), “What does BERT look at?”: "
                       "the share of attention each head gives to [CLS], [SEP], punctuation, the previous or next "
                       "token, and how spread out it is (entropy).", roles),
    "Compare sentences": View("Change one word and see which heads react. Each head's change is the mean absolute "
                              "difference of its attention between the tokens the two sentences share.",
                              two_versions),
}

st.title("Attention")
view = url_choice("view", "View", list(VIEWS), "Heatmap", horizontal=True)
layer_column, head_column = st.columns(2)
layer = url_index("layer", "Layer", analysis.num_layers, column=layer_column)
head = url_index("head", "Head", analysis.num_heads, column=head_column)

with st.expander("Options for every view: hide tokens, pair blocks, words, downloads"):
    left, middle, right = st.columns(3)
    hide_special = url_flag("hide_special", "Hide special tokens ([CLS], [SEP])", column=left)
    hide_punctuation = url_flag("hide_punct", "Hide punctuation", column=left)
    words = url_flag("words", "Merge word pieces into words", column=middle,
                     help="A word receives the sum of what its pieces receive, and sends the mean of what its "
                          "pieces send, so every row still sums to 1.")
    pair = url_choice("pair_block", "Sentence pair", PAIR_BLOCKS if analysis.text_pair else ["all"], "all",
                      column=right, horizontal=True, help="For two sentences: A->B is sentence A looking at B.")
    image_format = right.radio("Chart toolbar's camera saves", ["png", "svg"], horizontal=True)
    if hide_special or hide_punctuation:
        st.caption("Hidden tokens' share is given back to the others: each row is rescaled to sum to 1 over the "
                   "tokens still shown.")
options = ViewOptions(words=words, hide_special=hide_special, hide_punctuation=hide_punctuation, pair=pair)
if options.describe():
    st.caption(md(f"Every view below shows: {options.describe()} (set in Options)."))
if not view_matrix(analysis, analysis.attentions[0, 0], options).row_names:
    st.info("The options hide every token of this text: show special tokens or punctuation again to see attention.")
    st.stop()
config = {"toImageButtonOptions": {"format": image_format, "filename": f"bert-lens-{view.lower().replace(' ', '-')}"}}

st.markdown(VIEWS[view].intro)
VIEWS[view].draw(layer, head)

st.divider()
left, right = st.columns(2)
left.download_button("This head's matrix, as shown (CSV)",
                     lambda: matrix_csv(view_matrix(analysis, analysis.attentions[layer, head], options)),
                     file_name=f"attention-layer{layer + 1}-head{head + 1}.csv", mime="text/csv")
right.download_button("The whole analysis (NPZ: attentions [layers, heads, T, T], hidden states, ...)",
                      lambda: npz_bytes(analysis), file_name="bert-lens-analysis.npz",
                      mime="application/octet-stream")
