"""Masked-LM figures: guesses as bars, the logit distribution, the logit lens, the recipe's outcomes."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..mlm import HeadSteps, LogitLens, RecipeRun, RecipeShares
from .chips import Chip, chips_figure
from .labels import safe_text

_MARGIN = dict(l=20, r=20, t=50, b=20)
FATE_COLOURS = {"not selected": "#eeeeee", "[MASK]": "#fbd38d", "random": "#f8c9c4", "unchanged": "#c6e9c6"}


def guesses_bars(tokens, probs: np.ndarray, logits: np.ndarray, title: str, highlight: str | None = None) -> go.Figure:
    """Top-k guesses, best first: probability as bars, the raw logit written on each."""
    labels = [safe_text(token) for token in tokens]
    colours = ["#2ca02c" if token == highlight else "#1f77b4" for token in tokens]
    figure = go.Figure(go.Bar(
        x=probs, y=labels, orientation="h", marker_color=colours, text=[f"logit {l:.2f}" for l in logits],
        textposition="auto", hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))
    figure.update_layout(title=safe_text(title), xaxis=dict(title="probability", tickformat=".1%"),
                         yaxis=dict(type="category", autorange="reversed"),
                         height=max(240, 60 + 28 * len(labels)), margin=_MARGIN)
    return figure


def logit_distribution(steps: HeadSteps) -> go.Figure:
    """Every vocabulary entry's logit: a few stand out far to the right of the crowd."""
    best = list(zip(steps.top_tokens[:3], steps.top_logits[:3].tolist()))
    # Shapes and annotations given at once: add_vline per line cost a fifth of the whole page's server time.
    lines = [dict(type="line", x0=logit, x1=logit, y0=0, y1=1, yref="paper", line=dict(color="#d62728", dash="dot"))
             for _, logit in best]
    labels = [dict(x=logit, y=1, yref="paper", text=safe_text(token), showarrow=False, xanchor="left",
                   yanchor="bottom") for token, logit in best]
    return go.Figure(go.Histogram(x=steps.logits, nbinsx=120, marker_color="#7f7f7f",
                                  hovertemplate="logits %{x}: %{y} entries<extra></extra>"),
                     layout=dict(title=f"All {len(steps.logits):,} logits", xaxis_title="logit",
                                 yaxis_title="entries", yaxis_type="log", height=320, margin=_MARGIN, shapes=lines,
                                 annotations=labels))


def vector_strip(vector: np.ndarray, title: str) -> go.Figure:
    """One vector as a one-row heatmap."""
    limit = float(np.abs(vector).max()) or 1.0
    figure = go.Figure(go.Heatmap(z=np.asarray(vector, dtype=np.float32)[None], colorscale="RdBu", zmid=0.0,
                                  zmin=-limit, zmax=limit, hovertemplate="dim %{x}: %{z:.3f}<extra></extra>"))
    figure.update_layout(title=title, yaxis=dict(visible=False), xaxis_title="dimension", height=150,
                         margin=_MARGIN)
    return figure


def lens_heatmap(lens: LogitLens) -> go.Figure:
    """Layers down, rank across: each cell the word the head reads from that layer, coloured by probability."""
    layers = [f"layer {l}" if l else "input" for l in range(len(lens.tokens))]
    figure = go.Figure(go.Heatmap(
        z=lens.probs, x=[f"#{r + 1}" for r in range(lens.probs.shape[1])], y=layers, colorscale="Blues", zmin=0,
        text=[[safe_text(t) for t in row] for row in lens.tokens], texttemplate="%{text}",
        hovertemplate="%{y}, %{x}: %{text} (%{z:.1%})<extra></extra>",
    ))
    figure.update_layout(title="Logit lens: the masked-LM head read at every layer",
                         yaxis=dict(autorange="reversed", type="category"), xaxis=dict(type="category", side="top"),
                         height=max(280, 80 + 34 * len(layers)), margin=dict(l=20, r=20, t=90, b=20))
    return figure


def mask_matrix(mask: np.ndarray, tokens, title: str) -> go.Figure:
    """A [T, T] 0/1 attention mask: which tokens each token may see."""
    labels = [f"{i} {safe_text(t)}" for i, t in enumerate(tokens)]
    figure = go.Figure(go.Heatmap(z=mask, x=labels, y=labels, colorscale=[[0, "#ffffff"], [1, "#1f5fa8"]],
                                  zmin=0, zmax=1, showscale=False,
                                  hovertemplate="%{y} sees %{x}: %{z}<extra></extra>"))
    figure.update_layout(title=title, xaxis=dict(type="category", tickangle=-60),
                         yaxis=dict(type="category", autorange="reversed", scaleanchor="x"), height=360,
                         margin=_MARGIN)
    return figure


def recipe_chips(run: RecipeRun) -> go.Figure:
    """Each token's fate in one run of the recipe, as the model receives it."""
    chips = [Chip(text=shown, colour=FATE_COLOURS[fate], group=index,
                  hover=f"{original}: {fate}" + (f" → {shown}" if shown != original else ""))
             for index, (original, shown, fate) in enumerate(zip(run.tokens, run.corrupted_tokens, run.fate))]
    selected = sum(fate != "not selected" for fate in run.fate)
    return chips_figure(chips, f"Seed {run.seed}: {selected} of the {run.selectable} selectable tokens selected "
                               f"(special tokens never are)")


def recipe_shares_chart(shares: RecipeShares) -> go.Figure:
    """Observed shares over many runs, with the recipe's expected values marked."""
    names = ["selected (of selectable)", "[MASK] (of selected)", "random (of selected)", "unchanged (of selected)"]
    figure = go.Figure([
        go.Bar(x=names, y=shares.shares, name="observed", marker_color="#1f77b4",
               hovertemplate="%{x}: %{y:.2%}<extra></extra>"),
        go.Scatter(x=names, y=shares.expected, mode="markers", name="expected", marker=dict(symbol="line-ew-open",
                   size=40, line=dict(width=3, color="#d62728")), hovertemplate="expected %{y:.0%}<extra></extra>"),
    ])
    figure.update_layout(title=f"Over {shares.runs:,} runs of the {shares.selectable} selectable tokens "
                               f"({shares.selected:,} selected in all)",
                         yaxis=dict(tickformat=".0%", range=[0, 1]), height=340, margin=_MARGIN,
                         legend=dict(orientation="h"))
    return figure


