"""Attention figures. Layers and heads are 0-based arguments and shown 1-based."""

from __future__ import annotations

import plotly.graph_objects as go

from ..analysis import Analysis
from .labels import token_labels


def head_heatmap(analysis: Analysis, layer: int, head: int) -> go.Figure:
    """One head's [T, T] attention: rows attend from (queries), columns attend to (keys)."""
    weights = analysis.attentions[layer, head]  # [T, T] float32, sent to the browser as binary
    labels = token_labels(analysis.tokens)
    figure = go.Figure(go.Heatmap(
        z=weights, x=labels, y=labels, zmin=0.0, zmax=float(weights.max()), colorscale="Blues",
        colorbar=dict(title="weight"),
        hovertemplate="from %{y} → to %{x}: %{z:.3f}<extra></extra>",
    ))
    side = max(480, min(900, 160 + 22 * analysis.num_tokens))
    figure.update_layout(
        title=f"Layer {layer + 1}, head {head + 1}: each row is where one token looks",
        xaxis=dict(title="attends to (key)", type="category", tickangle=-60, constrain="domain", showgrid=False),
        yaxis=dict(title="attending token (query)", type="category", autorange="reversed", scaleanchor="x",
                   constrain="domain", showgrid=False),
        height=side, width=side + 120, margin=dict(l=20, r=20, t=60, b=20),
    )
    return figure
