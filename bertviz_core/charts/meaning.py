"""Meaning figures: one word across sentences layer by layer, sentence similarity, a training curve, class odds."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import plotly.graph_objects as go

from ..classifier import TrainedHead
from ..meaning import SenseGap, WordAcrossSentences
from .labels import safe_text

_MARGIN = dict(l=20, r=20, t=50, b=20)


def _names(word: WordAcrossSentences, sentences: list[str]) -> list[str]:
    return [f"{o.sentence + 1}: {safe_text(_short(sentences[o.sentence]))}" for o in word.occurrences]


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def similarity_by_layer(word: WordAcrossSentences, sentences: list[str]) -> go.Figure:
    """Cosine similarity of every pair of occurrences, one line per pair: first the bare token-embedding rows (x = -1),
    then the input to layer 1 (x = 0) and every layer's output."""
    names = _names(word, sentences)
    steps = word.steps  # [L + 2, N, N]
    figure = go.Figure([
        go.Scatter(x=_step_numbers(len(steps)), y=steps[:, i, j], mode="lines+markers", name=f"{names[i]} ↔ {names[j]}",
                   hovertemplate="%{x}: %{y:.3f}<extra></extra>")
        for i, j in combinations(range(len(names)), 2)
    ])
    figure.update_layout(title=f"How alike the occurrences of “{safe_text(word.word)}” are, layer by layer",
                         xaxis=_step_axis(len(steps)), yaxis_title="cosine similarity", height=380, margin=_MARGIN,
                         legend=dict(orientation="h", y=-0.3))
    return figure


def _step_numbers(count: int) -> list[int]:
    """x of each step from -1: the token-embedding row, the input to layer 1 (0), then each layer's output."""
    return list(range(-1, count - 1))


def _step_axis(count: int) -> dict:
    return dict(title="token-embedding row, input to layer 1 (token + position + segment), then each layer",
                tickvals=_step_numbers(count), ticktext=["token row", "input", *map(str, range(1, count - 1))])


def sense_gap_figure(gap: SenseGap, word: str) -> go.Figure:
    """Mean similarity within a sense and across senses, and the gap between them, at every step."""
    x = _step_numbers(len(gap.same))
    series = ((f"same sense ({gap.same_pairs} pairs)", gap.same, "#2ca02c", None),
              (f"different senses ({gap.different_pairs} pairs)", gap.different, "#d62728", None),
              ("gap: same − different", gap.gap, "#1f77b4", "dash"))
    figure = go.Figure([go.Scatter(x=x, y=values, mode="lines+markers", name=name, line=dict(color=colour, dash=dash),
                                   hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>")
                        for name, values, colour, dash in series])
    figure.update_layout(title=f"What separates the senses of “{safe_text(word)}”: the gap, not the fall",
                         xaxis=_step_axis(len(x)), yaxis_title="mean cosine similarity", height=380,
                         margin=_MARGIN, legend=dict(orientation="h", y=-0.3))
    return figure


def occurrence_paths(word: WordAcrossSentences, sentences: list[str]) -> go.Figure:
    """Each occurrence's vector through the layers, on the two main directions of all of them."""
    names = _names(word, sentences)
    layers = np.arange(word.pca.shape[1])
    figure = go.Figure([
        go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers+text", name=name, text=[str(l) for l in layers],
                   textposition="top center", hovertemplate="layer %{text}<extra>" + name + "</extra>")
        for name, path in zip(names, word.pca)
    ])
    figure.update_layout(title="The same word drifting apart (numbers are layers)", xaxis_title="PC1",
                         yaxis_title="PC2", height=420, margin=_MARGIN, legend=dict(orientation="h", y=-0.2))
    return figure


def similarity_matrix_figure(matrix: np.ndarray, sentences: list[str]) -> go.Figure:
    """[N, N] sentence-by-sentence cosine similarity."""
    labels = [f"{n + 1}: {safe_text(_short(s, 30))}" for n, s in enumerate(sentences)]
    figure = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Viridis", zmin=-1.0, zmax=1.0,
                                  texttemplate="%{z:.2f}",
                                  hovertemplate="%{y}<br>%{x}<br>cosine %{z:.3f}<extra></extra>"))
    figure.update_layout(title="Sentence similarity (cosine of mean-pooled vectors)",
                         xaxis=dict(type="category", tickangle=-30),
                         yaxis=dict(type="category", autorange="reversed"),
                         height=max(320, 120 + 40 * len(sentences)), margin=_MARGIN)
    return figure


def training_curve(head: TrainedHead) -> go.Figure:
    figure = go.Figure(go.Scatter(y=head.losses, mode="lines", hovertemplate="step %{x}: loss %{y:.4f}<extra></extra>"))
    figure.update_layout(title=f"Training loss (cross-entropy); training accuracy {head.train_accuracy:.0%}",
                         xaxis_title="step", yaxis_title="loss", height=300, margin=_MARGIN)
    return figure


def class_probabilities(head: TrainedHead, probabilities: np.ndarray, sentences: list[str]) -> go.Figure:
    """[M, C] one stacked bar per new sentence."""
    labels = [f"{n + 1}: {safe_text(_short(s, 30))}" for n, s in enumerate(sentences)]
    figure = go.Figure([go.Bar(y=labels, x=probabilities[:, c], name=safe_text(name), orientation="h",
                               hovertemplate=f"{safe_text(name)}: " + "%{x:.1%}<extra></extra>")
                        for c, name in enumerate(head.labels)])
    figure.update_layout(barmode="stack", title="Predicted probabilities", xaxis=dict(range=[0, 1], tickformat=".0%"),
                         yaxis=dict(type="category", autorange="reversed"),
                         height=max(220, 100 + 36 * len(sentences)), margin=_MARGIN, legend=dict(orientation="h"))
    return figure
