"""Query, key and value figures for one head: vectors as small heatmaps, scores and weights as bars."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..analysis import Analysis
from ..qkv import HeadArithmetic
from .labels import token_labels

_MARGIN = dict(l=20, r=20, t=50, b=20)
STEPS = ("x", "q", "k", "scores", "weights", "v", "output", "overview")
"""The figures of one head's arithmetic for one query token, in the order the Query, key, value page shows them."""


def step_figure(name: str, step: HeadArithmetic, analysis: Analysis) -> go.Figure:
    """The figure of step ``name`` (one of ``STEPS``) of ``step``, computed from ``analysis``."""
    labels, tokens, query = token_labels(analysis.tokens), analysis.tokens, step.query_index
    model_row = analysis.attentions[step.layer, step.head, query]  # [T] the attention the model reported
    draw = {
        "x": lambda: vectors_heatmap(step.x[None], [labels[query]], f"x: hidden state entering layer {step.layer + 1}"),
        "q": lambda: vectors_heatmap(step.query[None], ["q"], f"q: the query of head {step.head + 1}"),
        "k": lambda: vectors_heatmap(step.keys, labels, "k: every token's key"),
        "scores": lambda: score_steps(step, tokens),
        "weights": lambda: weights_against_model(step, model_row, tokens),
        "v": lambda: vectors_heatmap(step.values, labels, "v: every token's value"),
        "output": lambda: vectors_heatmap(step.output[None], ["output"],
                                          f"Σ weight × value: head {step.head + 1}'s output"),
        "overview": lambda: heads_overview(analysis.attentions[step.layer, :, query], tokens, labels[query]),
    }
    if name not in draw:
        raise ValueError(f"The steps are {', '.join(STEPS)}; got {name!r}.")
    return draw[name]()


def vectors_heatmap(rows: np.ndarray, labels: list[str], title: str) -> go.Figure:
    """[N, d] vectors, one row each, coloured by value (red negative, blue positive)."""
    limit = float(np.abs(rows).max()) or 1.0
    figure = go.Figure(go.Heatmap(z=rows, y=labels, colorscale="RdBu", zmid=0.0, zmin=-limit, zmax=limit,
                                  hovertemplate="%{y}, dim %{x}: %{z:.3f}<extra></extra>"))
    figure.update_layout(title=title, xaxis_title="dimension", yaxis=dict(type="category", autorange="reversed"),
                         height=max(150, 80 + 22 * len(labels)), margin=_MARGIN)
    return figure


def score_steps(step: HeadArithmetic, tokens) -> go.Figure:
    """q . k_j, then divided by sqrt(d): one bar per key token."""
    labels = token_labels(tokens)
    figure = go.Figure([
        go.Bar(x=labels, y=step.scores, name="q · k (dot product)", hovertemplate="%{x}: %{y:.3f}<extra></extra>"),
        go.Bar(x=labels, y=step.scaled, name=f"÷ √{step.query.shape[0]} = ÷ {step.scale:.2f}",
               hovertemplate="%{x}: %{y:.3f}<extra></extra>"),
    ])
    figure.update_layout(barmode="group", title="Scores: how well the query matches each key",
                         xaxis=dict(type="category"), height=320, margin=_MARGIN, legend=dict(orientation="h"))
    return figure


def weights_against_model(step: HeadArithmetic, model_row: np.ndarray, tokens) -> go.Figure:
    """softmax(scaled scores) as bars, with the weights the model itself reported as markers on top."""
    labels = token_labels(tokens)
    figure = go.Figure([
        go.Bar(x=labels, y=step.weights, name="softmax, computed here",
               hovertemplate="%{x}: %{y:.4f}<extra></extra>"),
        go.Scatter(x=labels, y=model_row, mode="markers", name="the model's attention", marker=dict(size=10,
                   symbol="x", color="black"), hovertemplate="model: %{y:.4f}<extra>%{x}</extra>"),
    ])
    figure.update_layout(title="Softmax: the scores become weights that sum to 1", xaxis=dict(type="category"),
                         yaxis=dict(title="weight", range=[0, 1.05 * max(1e-6, float(step.weights.max()))]),
                         height=320, margin=_MARGIN, legend=dict(orientation="h"))
    return figure


def heads_overview(rows: np.ndarray, tokens, query_label: str) -> go.Figure:
    """[H, T] the chosen token's attention in every head of the layer."""
    labels = token_labels(tokens)
    heads = [f"head {h + 1}" for h in range(rows.shape[0])]
    figure = go.Figure(go.Heatmap(z=rows, x=labels, y=heads, colorscale="Blues", zmin=0.0,
                                  hovertemplate="%{y}: " + query_label + " → %{x}: %{z:.3f}<extra></extra>"))
    figure.update_layout(title=f"Where {query_label} looks, in every head of this layer",
                         xaxis=dict(type="category", tickangle=-60), yaxis=dict(type="category",
                                                                                autorange="reversed"),
                         height=max(260, 90 + 24 * len(heads)), margin=_MARGIN)
    return figure
