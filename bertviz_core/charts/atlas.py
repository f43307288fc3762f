"""Corpus atlas figures: every head's statistic as a clickable L x H grid, one head's queries and keys in a shared
plane, and a map of the corpus's sentences. Points go to the browser as float32 arrays and are drawn in WebGL; no
figure is built point by point in Python."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..corpus.atlas import CorpusMap, QueryKeySpace
from ..corpus.heads import STATISTICS, HeadAtlas
from .clicks import head_cells

OPEN_HEAD = "open head"
QUERY, KEY = "#d62728", "#1f77b4"
COLOURINGS = ("query or key", "position in the sentence", "token")
TOKEN_COLOURS = 10
"""Tokens told apart by colour in the query/key picture (the most frequent); the rest are grey."""
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def head_grid(atlas: HeadAtlas, statistic: str) -> go.Figure:
    """One cell per head coloured by the mean of ``statistic`` over the corpus; a transparent marker over each cell
    makes it clickable (a heatmap's own clicks are not reported)."""
    s = atlas.statistic(statistic)
    mean, std = atlas.mean[..., s], atlas.std[..., s]  # [L, H]
    L, H = mean.shape
    figure = go.Figure([
        go.Heatmap(z=mean.astype(np.float32), x=np.arange(H) + 1, y=np.arange(L) + 1, colorscale="Blues",
                   colorbar=dict(title=dict(text="mean", side="right")), hoverinfo="skip"),
        head_cells(np.stack([mean, std], axis=-1), OPEN_HEAD,
                   "layer %{customdata[1]}, head %{customdata[2]}: %{customdata[3]:.3f} ± %{customdata[4]:.3f}"
                   "<extra>click for its sentences</extra>"),
    ])
    figure.update_layout(
        title=f"{STATISTICS[statistic]}: mean over {atlas.sentences:,} sentences; click a head",
        xaxis=dict(title="head", tickmode="array", tickvals=np.arange(H) + 1, side="top", showgrid=False),
        yaxis=dict(title="layer", tickmode="array", tickvals=np.arange(L) + 1, autorange="reversed", showgrid=False),
        height=int(min(700, max(300, 120 + 32 * L))), margin=dict(l=20, r=20, t=90, b=20), plot_bgcolor="white",
        dragmode=False)
    return figure


def query_key_scatter(space: QueryKeySpace, colouring: str) -> go.Figure:
    """Queries and keys of one head in one plane (Scattergl, queries as circles and keys as crosses); each point's
    ``customdata`` is its row in ``space`` (one number: a browser reports a row of a 2-D typed array as an object),
    for a click to open."""
    points = np.arange(len(space.tokens), dtype=np.int32)
    tokens = np.array(space.tokens, dtype=object)
    if colouring == "token":
        words, counts = np.unique(tokens, return_counts=True)
        common = words[np.argsort(-counts, kind="stable")[:TOKEN_COLOURS]]
        groups = [(~np.isin(tokens, common), "other tokens", dict(color="#cccccc", size=3))]
        groups += [(tokens == word, str(word), dict(color=colour, size=5)) for word, colour in zip(common, PALETTE)]
    else:
        by_position = colouring == "position in the sentence"
        groups = [(space.is_query == is_query, name, dict(
            symbol=symbol, size=4, opacity=0.7,
            **(dict(color=space.positions[space.is_query == is_query], colorscale="Viridis", cmin=0, cmax=1,
                    colorbar=dict(title="position") if is_query else None) if by_position else dict(color=colour))))
            for is_query, name, colour, symbol in ((True, "queries", QUERY, "circle"), (False, "keys", KEY, "x"))]
    figure = go.Figure([go.Scattergl(
        x=space.coords[chosen, 0], y=space.coords[chosen, 1], mode="markers", name=name, marker=marker,
        text=tokens[chosen].tolist(), customdata=points[chosen],
        hovertemplate=f"%{{text}}<extra>{name}</extra>")
        for chosen, name, marker in groups])
    pca = space.projection == "PCA"
    figure.update_layout(
        title=f"Layer {space.layer + 1}, head {space.head + 1}: {int(space.is_query.sum()):,} queries and as many "
              f"keys ({'PCA: {:.0%} and {:.0%} of the variance'.format(*space.explained) if pca else 'UMAP'})",
        xaxis=dict(title="first principal component" if pca else "UMAP 1", zeroline=False),
        yaxis=dict(title="second principal component" if pca else "UMAP 2", zeroline=False, scaleanchor="x"),
        height=660, margin=dict(l=20, r=20, t=60, b=20),
        legend=dict(itemsizing="constant", orientation="h", yanchor="top", y=-0.12, x=0))  # clear of a colour bar
    return figure


def corpus_map_scatter(found: CorpusMap, sentences: list[str]) -> go.Figure:
    """One point per sentence, coloured by its label; hover shows the sentence, a click makes it the sidebar's."""
    labels = np.array(found.labels, dtype=object)
    texts = pd.Series(sentences).iloc[found.sentence_ids].str.slice(0, 120).to_numpy()
    traces = []
    for n, label in enumerate(np.unique(labels)):
        chosen = labels == label
        traces.append(go.Scattergl(
            x=found.coords[chosen, 0], y=found.coords[chosen, 1], mode="markers", name=str(label) or "sentences",
            marker=dict(color=PALETTE[n % len(PALETTE)], size=6, opacity=0.8), text=texts[chosen],
            customdata=found.sentence_ids[chosen].astype(np.int32),
            hovertemplate="%{text}<extra>sentence %{customdata}</extra>"))
    figure = go.Figure(traces)
    figure.update_layout(
        title=f"{len(found.sentence_ids):,} sentences, {found.pooling} vector at layer {found.layer} "
              f"(PCA: {found.explained[0]:.0%} and {found.explained[1]:.0%} of the variance); click one to open it",
        xaxis=dict(title="first principal component", zeroline=False),
        yaxis=dict(title="second principal component", zeroline=False, scaleanchor="x"),
        height=560, margin=dict(l=20, r=20, t=60, b=20), showlegend=bool(labels.any()))
    return figure
