"""Explain-page figures: attributions side by side on one token axis, deletion curves and their areas, the methods'
agreement, the head-ablation sweep (clickable) and the activation-patching map."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..explain.attributions import METHODS, Attribution, Faithfulness
from ..explain.interventions import HeadSweep, Patching
from .clicks import head_cells
from .labels import safe_text, token_labels

ABLATE_HEAD = "ablate head"
_MARGIN = dict(l=20, r=20, t=60, b=20)
_RANDOM = "random order"


def attribution_rows(tokens, attributions: list[Attribution]) -> go.Figure:
    """One row per method over the same tokens, each row scaled by its largest magnitude so every method uses the
    whole colour range (red: a high score; blue, for signed methods: a token that works against the target). The
    attention rows do not depend on the target word, only on its position."""
    scores = np.stack([a.scores for a in attributions]).astype(np.float64)  # [M, T]
    scale = np.abs(scores).max(axis=1, keepdims=True)
    scaled = np.divide(scores, scale, out=np.zeros_like(scores), where=scale > 0)
    names = [METHODS[a.method] for a in attributions]
    figure = go.Figure(go.Heatmap(
        z=scaled.astype(np.float32), x=token_labels(tokens), y=names, customdata=scores.astype(np.float32),
        colorscale="RdBu_r", zmid=0.0, zmin=-1.0, zmax=1.0, colorbar=dict(title="share of<br>row's largest"),
        hovertemplate="%{y}<br>%{x}: %{customdata:.4g}<extra></extra>",
    ))
    target = safe_text(attributions[0].target.name)
    figure.update_layout(title=f"Each method's scores for “{target}” (the attention rows are the same for any word)",
                         xaxis=dict(type="category", side="top", tickangle=-45), height=max(300, 120 + 34 * len(names)),
                         yaxis=dict(type="category", autorange="reversed"), margin=dict(l=20, r=20, t=110, b=20))
    return figure


def deletion_curves(found: Faithfulness) -> go.Figure:
    """The target's probability as each method's most-attributed tokens are removed first; random orders dashed."""
    figure = go.Figure([go.Scatter(x=found.removed, y=curve, mode="lines+markers", name=METHODS[method],
                                   hovertemplate="%{x} removed: %{y:.2%}<extra>" + METHODS[method] + "</extra>")
                        for method, curve in zip(found.methods, found.curves)])
    figure.add_trace(go.Scatter(x=found.removed, y=found.random_curve, mode="lines", name=_RANDOM,
                                line=dict(color="#7f7f7f", dash="dash"),
                                hovertemplate="%{x} removed: %{y:.2%}<extra>" + _RANDOM + "</extra>"))
    figure.update_layout(title="Deletion curves: the faster the fall, the more faithful the ranking",
                         xaxis_title="tokens removed, most attributed first", height=420, margin=_MARGIN,
                         yaxis=dict(title="probability of the target", tickformat=".0%", rangemode="tozero"))
    return figure


def aopc_bars(found: Faithfulness) -> go.Figure:
    """Each method's area over the deletion curve, best first, against the random orders' area."""
    ranked = list(found.ranking)
    values = [float(found.aopc[found.methods.index(m)]) for m in ranked]
    figure = go.Figure(go.Bar(x=values, y=[METHODS[m] for m in ranked], orientation="h", marker_color="#1f77b4",
                              hovertemplate="%{y}: AOPC %{x:.4f}<extra></extra>"))
    figure.add_vline(x=found.random_aopc, line=dict(color="#7f7f7f", dash="dash"), annotation_text=_RANDOM,
                     annotation_position="bottom right")
    figure.update_layout(title="Area over the perturbation curve (AOPC)", xaxis_title="mean fall in probability",
                         yaxis=dict(type="category", autorange="reversed"), height=120 + 32 * len(ranked),
                         margin=_MARGIN)
    return figure


def agreement_matrix(found: Faithfulness) -> go.Figure:
    """Spearman correlation of every pair of methods' token rankings."""
    names = [METHODS[m] for m in found.methods]
    figure = go.Figure(go.Heatmap(z=found.agreement, x=names, y=names, colorscale="RdBu_r", zmid=0.0, zmin=-1.0,
                                  zmax=1.0, texttemplate="%{z:.2f}",
                                  hovertemplate="%{y} vs %{x}: ρ = %{z:.2f}<extra></extra>"))
    figure.update_layout(title="Do the methods agree? (Spearman ρ over the text's tokens)", height=460,
                         yaxis=dict(autorange="reversed"), margin=dict(l=20, r=20, t=60, b=20))
    return figure


def sweep_grid(sweep: HeadSweep) -> go.Figure:
    """Change in the target's log-probability with each head ablated (blue: the head was helping); click a head to
    ablate it below."""
    change = sweep.change.astype(np.float32)  # [L, H]
    L, H = change.shape
    limit = float(np.abs(change).max()) or 1.0
    figure = go.Figure([
        go.Heatmap(z=change, x=np.arange(H) + 1, y=np.arange(L) + 1, colorscale="RdBu", zmid=0.0, zmin=-limit,
                   zmax=limit, colorbar=dict(title=dict(text="Δ log p", side="right")), hoverinfo="skip"),
        head_cells(change, ABLATE_HEAD, "layer %{customdata[1]}, head %{customdata[2]}: Δ log p = "
                   "%{customdata[3]:+.3f}<extra>click to ablate it below</extra>"),
    ])
    figure.update_layout(
        title=dict(text=f"Each head ablated on its own: change in log p(“{safe_text(sweep.target.name)}”); click a "
                        "head", y=0.98, yanchor="top"),
        xaxis=dict(title="head", tickmode="array", tickvals=np.arange(H) + 1, side="top", showgrid=False),
        yaxis=dict(title="layer", tickmode="array", tickvals=np.arange(L) + 1, autorange="reversed", showgrid=False),
        height=int(min(720, max(320, 140 + 32 * L))), margin=dict(l=20, r=20, t=110, b=20), plot_bgcolor="white",
        dragmode=False)
    return figure


def patching_map(found: Patching) -> go.Figure:
    """Share of the clean logit restored by copying one hidden state (layer, token) into the corrupted run."""
    restored = found.restored.astype(np.float32)  # [L + 1, T]
    layers = ["embeddings"] + [f"layer {n}" for n in range(1, restored.shape[0])]
    tokens = [clean if clean == corrupt else f"{corrupt} ← {clean}"
              for clean, corrupt in zip(found.clean_tokens, found.corrupt_tokens)]
    figure = go.Figure(go.Heatmap(
        z=restored, x=token_labels(tokens), y=layers, colorscale="Purples", zmin=0.0, zmax=1.0,
        colorbar=dict(title="restored"), hovertemplate="%{y}, %{x}: %{z:.0%} restored<extra></extra>"))
    figure.update_layout(title=f"Activation patching: logit of “{safe_text(found.target.name)}” restored, "
                               f"{found.corrupt_score:.2f} (corrupted) → {found.clean_score:.2f} (clean)",
                         xaxis=dict(type="category", side="top", tickangle=-45),
                         yaxis=dict(type="category", autorange="reversed"), height=max(360, 180 + 30 * len(layers)),
                         margin=dict(l=20, r=20, t=160, b=20))
    return figure
