"""Compare-page figures: one model's tokens as chips (pieces of a word side by side), and CKA between two models'
layers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..analysis import Analysis
from ..compare import LayerSimilarity
from .chips import Chip, chips_figure
from .labels import safe_text

SPECIAL, PIECE = "#e8e8e8", "#dbe9f6"


def token_chips(analysis: Analysis, title: str) -> go.Figure:
    """The tokens of one analysis; special tokens grey, the pieces of one word grouped."""
    chips = [Chip(text=token, colour=SPECIAL if special else PIECE, hover=f"token {n}, id {int(token_id)}",
                  group=int(word) if word >= 0 else -1 - n)
             for n, (token, special, word, token_id) in enumerate(zip(analysis.tokens, analysis.special_mask,
                                                                      analysis.word_ids, analysis.input_ids))]
    return chips_figure(chips, title)


def cka_heatmap(found: LayerSimilarity, name_a: str, name_b: str) -> go.Figure:
    """(L_a + 1) x (L_b + 1) CKA; rows are the first model's layers, columns the second's, 0 = embedding output."""
    rows, columns = found.cka.shape
    names = lambda n: ["embeddings"] + [f"layer {l}" for l in range(1, n)]  # noqa: E731
    estimator = "debiased" if found.debiased else "plain"
    figure = go.Figure(go.Heatmap(
        z=found.cka.astype(np.float32), x=names(columns), y=names(rows), colorscale="Viridis", zmin=0.0, zmax=1.0,
        texttemplate="%{z:.2f}", colorbar=dict(title="CKA"),
        hovertemplate=f"{safe_text(name_a)} %{{y}} vs {safe_text(name_b)} %{{x}}: %{{z:.3f}}<extra></extra>"))
    figure.update_layout(
        title=dict(text=f"How alike the layers are: {estimator} linear CKA over {found.words:,} words of "
                        f"{found.sentences:,} sentences", y=0.98, yanchor="top"),
        xaxis=dict(title=safe_text(name_b), type="category", side="top"),
        yaxis=dict(title=safe_text(name_a), type="category", autorange="reversed"),
        height=max(380, 180 + 40 * rows), margin=dict(l=20, r=20, t=140, b=20))
    return figure
