"""Lesson figures: one token's attention in one head with the visitor's pick marked, and a two-way probability."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .labels import token_labels

PICKED, BEST, OTHER = "#ff7f0e", "#2ca02c", "#9ecae1"


def attention_row(tokens, weights: np.ndarray, picked: int, title: str) -> go.Figure:
    """Where one token looks, as bars over the tokens: the strongest green, the visitor's pick orange (green if
    right)."""
    best = int(np.argmax(weights))
    colours = [BEST if n == best else PICKED if n == picked else OTHER for n in range(len(weights))]
    figure = go.Figure(go.Bar(x=token_labels(tokens), y=np.asarray(weights, dtype=np.float32), marker_color=colours,
                              hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    figure.update_layout(title=title, xaxis=dict(type="category"), yaxis=dict(title="attention", tickformat=".0%"),
                         height=340, margin=dict(l=20, r=20, t=60, b=20))
    return figure


def two_way(probability: float, labels: tuple[str, str], title: str) -> go.Figure:
    """A probability and its complement as two bars."""
    figure = go.Figure(go.Bar(x=[probability, 1.0 - probability], y=list(labels), orientation="h",
                              marker_color=[BEST, OTHER], text=[f"{probability:.1%}", f"{1 - probability:.1%}"],
                              textposition="auto", hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    figure.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".0%"), height=220,
                         yaxis=dict(type="category", autorange="reversed"), margin=dict(l=20, r=20, t=60, b=20))
    return figure
