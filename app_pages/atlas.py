"""Corpus atlas: what each head usually does over a whole corpus, the queries and keys of one head in one plane, and
a map of the corpus's sentences. Nothing here runs the model over the corpus again: the build computed it."""

from urllib.parse import urlencode

import streamlit as st

from app_pages import compute
from app_pages.corpora import chosen_corpus
from app_pages.sidebar import current_lens
from app_pages.state import url_choice, url_index, url_slider
from app_pages.text import marked, md
from app_pages.figures import chart
from bertviz_core import InputError
from bertviz_core.attention.views import ViewOptions, view_matrix
from bertviz_core.charts.atlas import COLOURINGS, OPEN_HEAD, corpus_map_scatter, head_grid, query_key_scatter
from bertviz_core.charts.attention import head_view
from bertviz_core.charts.clicks import clicked
from bertviz_core.corpus.atlas import (MAP_SENTENCES, POOLINGS, PROJECTIONS, QUERY_KEY_POINTS, corpus_map, head_atlas,
                                       query_key_space)
from bertviz_core.corpus.heads import STATISTICS

VIEWS = ("Head atlas", "Query/key space", "Corpus map")
MAP_SENTENCES_KEY = "atlas_map_sentences"
model = current_lens().model


def open_clicked_head() -> None:
    cell = clicked(st.session_state["atlas_grid"].selection.points, OPEN_HEAD)
    if cell is not None:
        st.session_state["layer"], st.session_state["head"] = int(cell[0]), int(cell[1])  # 1-based, as the pickers


def clicked_point(key: str) -> list | None:
    points = st.session_state[key].selection.points if key in st.session_state else []
    return points[0].get("customdata") if points else None


def open_clicked_sentence() -> None:
    """A click on the map makes that sentence the sidebar's, so every page opens on it. (A callback runs before the
    page, so the map's sentences are found in the session, where the page left a reference to them.)"""
    point = clicked_point("atlas_map")
    if point is not None:
        st.session_state["text"] = st.session_state[MAP_SENTENCES_KEY][int(point)]


def attention_link(sentence: str, layer: int, head: int) -> str:
    """The Attention page on this sentence at this layer and head (1-based), as a heatmap."""
    return "attention?" + urlencode({"text": sentence, "layer": layer, "head": head, "view": "Heatmap"})


def show_sentence_head(sentence: str, layer: int, head: int) -> None:
    analysis = compute.analysis(model, sentence)
    figure, _, _ = head_view(view_matrix(analysis, analysis.attentions[layer - 1], ViewOptions()), layer - 1,
                             [head - 1], top_k=3, threshold=0.05)
    chart(st, figure, key="atlas_head_view")


def head_atlas_view() -> None:
    st.markdown("For every head, statistics over every sentence of the corpus, computed by the build from the raw "
                "attention (special tokens included): the share each query sends to [CLS], to [SEP], to "
                "punctuation, to the previous, next and same token (Clark et al. 2019), the entropy of its row "
                "divided by log T (so sentences of any length compare) and its mean distance in tokens; each "
                "averaged over a sentence's rows, then over the sentences.")
    atlas = compute.derived(("atlas", str(index.directory)), "Reading the head atlas…", lambda: head_atlas(index))
    statistic = url_choice("atlas_stat", "Statistic", list(STATISTICS), "to_previous", format_func=STATISTICS.get)
    chart(st, compute.figure(("atlas grid", str(index.directory), statistic),
                                   lambda: head_grid(atlas, statistic)),
                    key="atlas_grid", on_select=open_clicked_head, selection_mode="points")
    left, right = st.columns(2)
    layer = url_index("layer", "Layer", model.num_layers, column=left) + 1
    head = url_index("head", "Head", model.num_heads, column=right) + 1
    s = atlas.statistic(statistic)
    st.subheader(md(f"Layer {layer}, head {head}: {STATISTICS[statistic]} "
                    f"{atlas.mean[layer - 1, head - 1, s]:.3f} ± {atlas.std[layer - 1, head - 1, s]:.3f}"))
    top = atlas.top_sentences(layer - 1, head - 1, statistic)
    st.markdown("The sentences where it is highest:")
    for rank, (sentence_id, value) in enumerate(top, start=1):
        sentence = index.sentences[sentence_id]
        st.markdown(f"{rank}\\. `{value:.3f}` {md(sentence)} · [open on the Attention page]"
                    f"({attention_link(sentence, layer, head)})")
    if top:
        st.caption("The first of them, drawn with the Attention page's head view (this draws one sentence through "
                   "the model; the atlas itself was computed by the build):")
        show_sentence_head(index.sentences[top[0][0]], layer, head)


def query_key_view() -> None:
    st.markdown(f"Every token of a sample of the corpus (whole sentences, up to {QUERY_KEY_POINTS:,} points) as this "
                "head's query and as its key, in one plane (AttentionViz, Yeh et al. 2023), where a query tends to lie "
                "near the keys it scores highest. Queries and keys are scaled to the same spread, then the keys are "
                "shifted so that their centre is the queries' centre: neither changes any query's softmax. They come "
                "from the index's stored layer inputs through the head's own weights, so nothing is run again. The "
                "special tokens ([CLS] and [SEP]) are not in the index, so they are not in the picture.")
    left, middle, right, last = st.columns(4)
    layer = url_index("layer", "Layer", model.num_layers, column=left)
    head = url_index("head", "Head", model.num_heads, column=middle)
    colouring = url_choice("atlas_color", "Colour by", list(COLOURINGS), COLOURINGS[0], column=right)
    projection = url_choice("atlas_projection", "Projection", list(PROJECTIONS), "PCA", column=last)
    key = ("query/key space", str(index.directory), layer, head, projection)
    if projection == "UMAP":  # up to a minute, once per layer, head and corpus: heavy work, with a bar
        space = compute.progressing(key, "UMAP: laying out the points, epoch", lambda progress: query_key_space(
            model, index, layer, head, projection="UMAP", progress=progress))
    else:
        space = compute.derived(key, "Projecting queries and keys…",
                                lambda: query_key_space(model, index, layer, head))
    chart(st, compute.figure(("atlas qk", str(index.directory), layer, head, colouring, projection),
                                   lambda: query_key_scatter(space, colouring)),
                    key="atlas_qk", on_select="rerun", selection_mode="points")
    point = clicked_point("atlas_qk")
    if point is not None:
        sentence_id, token = int(space.sentence_ids[int(point)]), int(space.token_indexes[int(point)])
        row = index.token_row(sentence_id, token)
        sentence = index.sentences[sentence_id]
        st.markdown(f"{marked(sentence, row['start'], row['end'])} · [open on the Attention page]"
                    f"({attention_link(sentence, layer + 1, head + 1)})")
    else:
        st.caption("Click a point to see its token in its sentence.")


def corpus_map_view() -> None:
    st.markdown(f"One point per sentence (up to {MAP_SENTENCES:,}): its vector at the chosen layer, the mean of its "
                "tokens or its [CLS] as on the Applications page, on the two directions along which the sentences "
                "differ most (PCA). Colours are the labels the corpus was indexed with. Click a sentence to make it "
                "the sidebar's sentence: every page then opens on it.")
    left, right = st.columns(2)
    layer = url_slider("atlas_map_layer", "Layer (0 = the embedding output)", index.layers[0], index.layers[-1],
                       index.layers[-1], column=left)
    pooling = url_choice("atlas_pooling", "Sentence vector", list(POOLINGS), "mean", column=right, horizontal=True)
    found = compute.derived(("corpus map", str(index.directory), layer, pooling), "Projecting the sentences…",
                            lambda: corpus_map(index, layer, pooling))
    st.session_state[MAP_SENTENCES_KEY] = index.sentences
    chart(st, compute.figure(("atlas map", str(index.directory), layer, pooling),
                                   lambda: corpus_map_scatter(found, index.sentences)),
                    key="atlas_map", on_select=open_clicked_sentence, selection_mode="points")


st.title("Corpus atlas")
st.markdown("One sentence shows what a head did once; a corpus shows what it usually does. These views read the "
            "corpus index (the same as Corpus search), so they work for any model and any text.")
try:
    index = chosen_corpus(model, "atlas_corpus", "atlas_folder")
    view = url_choice("atlas_view", "View", list(VIEWS), VIEWS[0], horizontal=True)
    {"Head atlas": head_atlas_view, "Query/key space": query_key_view, "Corpus map": corpus_map_view}[view]()
except InputError as error:
    st.error(md(str(error)))
