"""How the first layer's input is built: token + position + segment, summed, then LayerNorm'd."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis import Analysis
from ..positions import InputVectors, OrderComparison
from .labels import safe_text, token_labels

PART_NAMES = ("token", "position", "segment", "sum", "after LayerNorm")


def _parts(analysis: Analysis, vectors: InputVectors) -> list[np.ndarray]:
    return [analysis.token_embeddings, analysis.position_embeddings, analysis.segment_embeddings, vectors.summed,
            vectors.normalized]


def input_heatmaps(analysis: Analysis, vectors: InputVectors, dimensions: int = 32) -> go.Figure:
    """Five small heatmaps (tokens x first dimensions), one per stage, each with its own colour scale."""
    parts = [part[:, :dimensions] for part in _parts(analysis, vectors)]  # 5 x [T, dims]
    labels = token_labels(analysis.tokens)
    figure = make_subplots(rows=1, cols=5, shared_yaxes=True, horizontal_spacing=0.02,
                           subplot_titles=[name if n < 3 else ("= " if n == 3 else "→ ") + name
                                           for n, name in enumerate(PART_NAMES)])
    for column, (name, part) in enumerate(zip(PART_NAMES, parts), start=1):
        # One scale for all would wash out the small embeddings next to the LayerNorm output (about 10x larger).
        limit = float(np.abs(part).max()) or 1.0
        figure.add_trace(go.Heatmap(z=part, y=labels, colorscale="RdBu", zmid=0.0, zmin=-limit, zmax=limit,
                                    showscale=False, name=name,
                                    hovertemplate=f"{name} embedding of %{{y}}, dim %{{x}}: %{{z:.3f}}<extra></extra>"),
                         row=1, col=column)
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_layout(height=max(300, 90 + 24 * analysis.num_tokens), margin=dict(l=20, r=20, t=60, b=20),
                         title=f"First {min(dimensions, parts[0].shape[1])} dimensions of each stage, per token "
                               "(red negative, blue positive; each panel on its own scale)")
    return figure


def input_norms(analysis: Analysis, vectors: InputVectors) -> go.Figure:
    """The length (L2 norm) of each stage's vector, per token."""
    labels = token_labels(analysis.tokens)
    figure = go.Figure([go.Bar(x=labels, y=np.linalg.norm(part, axis=1), name=name,
                               hovertemplate=f"{name}: " + "%{y:.2f}<extra>%{x}</extra>")
                        for name, part in zip(PART_NAMES, _parts(analysis, vectors))])
    figure.update_layout(barmode="group", title="Vector lengths (L2 norm) at each stage", yaxis_title="norm",
                         xaxis=dict(type="category"), height=340, margin=dict(l=20, r=20, t=50, b=20),
                         legend=dict(orientation="h"))
    return figure


def order_changes(comparison: OrderComparison) -> go.Figure:
    """Per word: how far its token, position and layer-1 input vectors moved when the word order changed."""
    labels = [f"{safe_text(t)} ({a}→{b})" for t, a, b in
              zip(comparison.tokens, comparison.index_a.tolist(), comparison.index_b.tolist())]
    series = (("token embedding", comparison.token_change), ("position embedding", comparison.position_change),
              ("input to layer 1", comparison.input_change))
    figure = go.Figure([go.Bar(x=labels, y=values, name=name, hovertemplate=f"{name}: " + "%{y:.3f}<extra></extra>")
                        for name, values in series])
    figure.update_layout(barmode="group", title="How much each vector changed (L2 distance) when the words moved",
                         yaxis_title="distance", xaxis=dict(type="category"), height=340,
                         margin=dict(l=20, r=20, t=50, b=20), legend=dict(orientation="h"))
    return figure
