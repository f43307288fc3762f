"""Where the answer was written: the masked word's logit taken apart exactly, by input token and by head and
feed-forward, and the routes from the input to the prediction."""

import numpy as np
import streamlit as st
from scipy.stats import spearmanr

from bertviz_core import InputError
from bertviz_core.charts.clicks import clicked
from bertviz_core.charts.decompose import OPEN_ABLATION, component_grid, route_figure, token_parts
from bertviz_core.explain.decompose import decompose_components, decompose_tokens, route_graph, routes
from bertviz_core.explain.interventions import head_sweep
from bertviz_core.explain.target import mask_target
from app_pages import compute
from app_pages.catalog import PAGES
from app_pages.figures import chart
from app_pages.sidebar import current_analysis, current_lens
from app_pages.state import url_choice, url_slider
from app_pages.text import md

EXAMPLE = "The nurse said that [MASK] was tired."
# By token, the parts of one layer are T x T x D numbers: at 128 tokens on BERT-base, 101 MB in float64 (bench/explain.py).
MAX_TOKENS = 128
BY_TOKEN, BY_COMPONENT, ROUTES = "By input token", "By head and feed-forward", "Routes"
EXPLAIN = next(page for page in PAGES if page.url_path == "explain")


def use_example() -> None:
    st.session_state["text"] = EXAMPLE


def identity(found) -> str:
    """The check every decomposition passes, in words."""
    return (f"Parts plus bias: {found.total:.4f}; the model's own logit: {found.logit:.4f} (relative difference "
            f"{found.logit_error:.1e}). Every hidden state on the way matched the model's to within "
            f"{np.nanmax(found.errors):.1e}.")


model = current_lens().model
st.title("Where the answer was written")
st.markdown("The Explain page estimates what a prediction owes each token. This page takes it apart **exactly**. "
            "Fix every non-linear step at the value the model actually computed (the attention weights, each "
            "LayerNorm's mean and spread, each activation's ratio act(z) / z): what remains is linear, so every "
            "vector the model makes, and the logit of the masked word, is a sum of one part per source plus a bias "
            "term (DecompX, Modarressi et al. 2023). The sources are the input tokens, or the places that wrote into "
            "the residual stream: the embeddings, each head, each feed-forward. Up to "
            f"{MAX_TOKENS} tokens: one layer's parts by token are tokens x tokens x hidden size numbers.")
analysis = current_analysis()
try:
    target = mask_target(model, analysis)
except InputError as error:
    st.info(md(str(error)))
    if model.has_mlm_head:  # else the message names what is missing: a model with a head, not a mask
        st.button(f"Use the example “{EXAMPLE}”", on_click=use_example, type="primary")
    st.stop()
if analysis.num_tokens > MAX_TOKENS:
    st.info(f"This page takes inputs of up to {MAX_TOKENS} tokens (the parts of one layer are tokens x tokens x "
            f"{analysis.hidden_states.shape[-1]} numbers); this one has {analysis.num_tokens}. Shorten the sentence, "
            "or use the command line (`python -m bertviz_core decompose`).")
    st.stop()
key = (*analysis.key, target.key)
st.markdown(md(f"The prediction: “{target.name}”, the top guess at token {target.mask_index}."))
view = url_choice("decomp_view", "Take it apart", [BY_TOKEN, BY_COMPONENT, ROUTES], BY_TOKEN, horizontal=True)

if view == BY_TOKEN:
    found = compute.progressing(("decompose tokens", *key), "Carrying every token's part through layer",
                                lambda progress: decompose_tokens(model, analysis, target, progress=progress))
    chart(st, token_parts(found))
    st.caption(identity(found) + " A part is signed: a negative one pulls the logit down. The Explain page ranks "
                                 "this method (DecompX) against the other eight by deleting tokens.")
elif view == BY_COMPONENT:
    found = compute.progressing(("decompose components", *key), "Carrying every component through layer",
                                lambda progress: decompose_components(model, analysis, target, progress=progress))
    event = chart(st, component_grid(found), on_select="rerun", selection_mode="points")
    st.caption(identity(found) + f" The embeddings' part: {found.embeddings:+.3f}. A head's part is what its own "
                                 "output, carried to the top by the residual path alone, adds to the logit.")
    cell = clicked(event.selection.points, OPEN_ABLATION) if event else None
    if cell is not None:
        st.switch_page(EXPLAIN.path, query_params={
            **{name: st.query_params[name] for name in ("text", "pair", "model") if name in st.query_params},
            "ablate": f"{int(cell[0])}:{int(cell[1])}"})
    sweep = compute.progressing(("sweep", *key), "Ablating every head in turn:",
                                lambda progress: head_sweep(model, analysis, target, progress=progress))
    heads = found.grid[:, :-1]  # [L, H]
    rho = spearmanr(heads.ravel(), -sweep.change.ravel()).statistic
    st.markdown(f"**Wrote it versus needed for it.** Across the {heads.size} heads, the rank correlation between a "
                f"head's part of the logit and how much switching it off lowers log p(“{md(target.name)}”) is "
                f"**{rho:+.2f}** (Spearman). A head can write the answer and still not be needed (another head "
                "writes it too once it is gone), or be needed without writing it (it moves what a later head reads).")
else:
    threshold = url_slider("route_threshold", "Keep a step that carries at least this share (%)", 1, 50, 10) / 100
    found = compute.progressing(("routes", *analysis.key), "Decomposing layer",
                                lambda progress: routes(model, analysis, progress=progress))
    graph = route_graph(found, target.mask_index, threshold)
    chart(st, route_figure(graph, analysis.tokens))
    st.caption(f"ALTI (Ferrando et al. 2022): at each layer, the share of a token's output that came from each token's "
               f"input, ‖x‖₁ − ‖x − part‖₁ kept when positive and normalised per token. From the mask at the top, "
               f"each step keeps the tokens below that gave at least {threshold:.0%}; {len(graph.edges)} steps "
               "survive. Most of a token's output comes from its own input (the residual path): the sideways steps "
               "are where information moved between words.")
