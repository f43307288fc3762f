"""Charts of exact decompositions: the logit's part from each input token, from each head and feed-forward, and the
routes from the input to the prediction."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..explain.decompose import ComponentDecomposition, RouteGraph, TokenDecomposition
from .clicks import head_cells
from .labels import safe_text, token_labels

OPEN_ABLATION = "open-ablation"
"""A component grid's click: (1-based layer, 1-based head) to switch off on the Explain page."""
ROUTE_WIDTHS = (1.0, 2.5, 4.5, 7.0)
"""Line widths of a route's edges, by share: one trace per width."""


def _target_name(found: TokenDecomposition | ComponentDecomposition) -> str:
    return f"logit of “{safe_text(found.target.name)}”"


def token_parts(found: TokenDecomposition) -> go.Figure:
    """One bar per input token: what it adds to the target's logit (signed); the bias term last."""
    labels = [*token_labels(found.tokens), "bias"]
    values = np.append(found.parts, found.bias).astype(np.float32)  # [T + 1]
    colours = ["#1f5fa8" if value >= 0 else "#d62728" for value in values[:-1]] + ["#9e9e9e"]
    figure = go.Figure(go.Bar(x=labels, y=values, marker_color=colours,
                              hovertemplate="%{x}: %{y:+.3f}<extra></extra>"))
    figure.update_layout(title=f"Each input token's part of the {_target_name(found)}, and the bias term",
                         xaxis=dict(type="category", tickangle=-60), yaxis_title="part of the logit", height=380,
                         margin=dict(l=20, r=20, t=60, b=20), plot_bgcolor="white")
    return figure


def component_grid(found: ComponentDecomposition) -> go.Figure:
    """Layers down, heads then the feed-forward across: each place's direct part of the logit. A head's cell opens
    its ablation."""
    grid = found.grid.astype(np.float32)  # [L, H + 1]
    L, columns = grid.shape
    limit = float(np.abs(grid).max()) or 1.0
    names = [f"head {h}" for h in range(1, columns)] + ["FFN"]
    figure = go.Figure([
        go.Heatmap(z=grid, x=np.arange(columns) + 1, y=np.arange(L) + 1, colorscale="RdBu", zmid=0.0, zmin=-limit,
                   zmax=limit, colorbar=dict(title=dict(text="part", side="right")), customdata=[names] * L,
                   hovertemplate="layer %{y}, %{customdata}: %{z:+.3f}<extra></extra>"),
        head_cells(grid[:, :-1], OPEN_ABLATION, "layer %{customdata[1]}, head %{customdata[2]}: "
                   "%{customdata[3]:+.3f}<extra>click to switch it off on the Explain page</extra>"),
    ])
    figure.update_layout(
        title=dict(text=f"What each head and feed-forward wrote into the {_target_name(found)}; click a head",
                   y=0.98, yanchor="top"),
        xaxis=dict(tickmode="array", tickvals=np.arange(columns) + 1, ticktext=names, side="top", showgrid=False),
        yaxis=dict(title="layer", tickmode="array", tickvals=np.arange(L) + 1, autorange="reversed", showgrid=False),
        height=int(min(720, max(320, 140 + 32 * L))), margin=dict(l=20, r=20, t=110, b=20), plot_bgcolor="white",
        dragmode=False)
    return figure


def route_figure(graph: RouteGraph, tokens) -> go.Figure:
    """The route graph over layers (up) x tokens (across): a node per (hidden state, token) reached, an edge per
    share kept, wider for a larger share."""
    labels = token_labels(tokens)
    traces = []
    levels = np.minimum((np.array([share for *_, share in graph.edges]) * len(ROUTE_WIDTHS)).astype(int),
                        len(ROUTE_WIDTHS) - 1)  # [E] a width per edge
    for level, width in enumerate(ROUTE_WIDTHS):
        x, y = [], []
        for (below, above, _), chosen in zip(graph.edges, levels == level):
            if chosen:
                x += [below[1], above[1], None]
                y += [below[0], above[0], None]
        if x:
            traces.append(go.Scatter(x=x, y=y, mode="lines", line=dict(width=width, color="#1f5fa8"), opacity=0.6,
                                     hoverinfo="skip", showlegend=False))
    layers, positions = zip(*graph.nodes)
    traces.append(go.Scatter(
        x=positions, y=layers, mode="markers", marker=dict(size=9, color="#08306b"), showlegend=False,
        text=[labels[p] for p in positions], hovertemplate="%{text}, after layer %{y}<extra></extra>"))
    L = max(layers)
    figure = go.Figure(traces)
    figure.update_layout(
        title=f"Routes into {safe_text(labels[graph.position])} at the top: each step keeps at least "
              f"{graph.threshold:.0%} of the token above",
        xaxis=dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels, tickangle=-60,
                   range=[-0.5, len(labels) - 0.5], showgrid=False),
        yaxis=dict(tickmode="array", tickvals=list(range(L + 1)),
                   ticktext=["embeddings"] + [f"layer {n}" for n in range(1, L + 1)], range=[-0.5, L + 0.5]),
        height=int(max(360, 120 + 40 * L)), margin=dict(l=20, r=20, t=60, b=20), plot_bgcolor="white",
        dragmode=False)
    return figure
