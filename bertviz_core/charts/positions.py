"""Position figures: a table as a heatmap, chosen dimensions as curves, similarity between positions, a PCA path."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..vectors import Projection


def table_heatmap(table: np.ndarray, title: str) -> go.Figure:
    """[P, E] positions down, dimensions across."""
    # A learned table has a few outlying dimensions; scaling to them would wash every other cell out.
    limit = float(np.percentile(np.abs(table), 99)) or 1.0
    figure = go.Figure(go.Heatmap(z=table, colorscale="RdBu", zmid=0.0, zmin=-limit, zmax=limit,
                                  colorbar=dict(title="value"),
                                  hovertemplate="position %{y}, dimension %{x}: %{z:.3f}<extra></extra>"))
    figure.update_layout(title=title, xaxis_title="dimension", yaxis=dict(title="position", autorange="reversed"),
                         height=420, margin=dict(l=20, r=20, t=50, b=20))
    return figure


def dimension_curves(table: np.ndarray, dimensions: list[int], title: str) -> go.Figure:
    """One line per chosen dimension, across positions."""
    figure = go.Figure([go.Scatter(y=table[:, d], mode="lines", name=f"dim {d}",
                                   hovertemplate=f"dim {d}, " + "position %{x}: %{y:.3f}<extra></extra>")
                        for d in dimensions if 0 <= d < table.shape[1]])
    figure.update_layout(title=title, xaxis_title="position", yaxis_title="value", height=320,
                         margin=dict(l=20, r=20, t=50, b=20), legend=dict(orientation="h"))
    return figure


def similarity_heatmap(similarity: np.ndarray, title: str) -> go.Figure:
    """[P, P] cosine similarity between the vectors of two positions."""
    figure = go.Figure(go.Heatmap(z=similarity, colorscale="Viridis", zmin=-1.0, zmax=1.0,
                                  colorbar=dict(title="cosine"),
                                  hovertemplate="positions %{y} and %{x}: %{z:.3f}<extra></extra>"))
    figure.update_layout(title=title, xaxis=dict(title="position", constrain="domain"),
                         yaxis=dict(title="position", autorange="reversed", scaleanchor="x", constrain="domain"),
                         height=420, margin=dict(l=20, r=20, t=50, b=20))
    return figure


def pca_path(projection: Projection, title: str, first_position: int = 0) -> go.Figure:
    """Positions joined in order on their first two or three principal components, coloured by position."""
    coords = projection.coords
    index = np.arange(len(coords)) + first_position
    marker = dict(color=index, colorscale="Turbo", size=4, colorbar=dict(title="position"))
    axis = [f"PC{k + 1} ({share:.0%})" for k, share in enumerate(projection.explained)]
    hover = "position %{marker.color}<extra></extra>"
    if coords.shape[1] >= 3:
        trace = go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="lines+markers", marker=marker,
                             line=dict(color="rgba(120,120,120,0.4)"), hovertemplate=hover)
        figure = go.Figure(trace)
        figure.update_layout(scene=dict(xaxis_title=axis[0], yaxis_title=axis[1], zaxis_title=axis[2]))
    else:
        trace = go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="lines+markers", marker=marker,
                           line=dict(color="rgba(120,120,120,0.4)"), hovertemplate=hover)
        figure = go.Figure(trace)
        figure.update_layout(xaxis_title=axis[0], yaxis_title=axis[1])
    figure.update_layout(title=title, height=420, margin=dict(l=20, r=20, t=50, b=20))
    return figure
