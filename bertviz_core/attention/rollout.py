"""Where attention carries information: rollout through the layers, value-norm maps, and one token seen both ways.

Names as in ``analysis``: ``L`` layers, ``H`` heads, ``T`` tokens, ``D`` hidden size, ``d`` head size; ``C`` the
columns a view shows. Every matrix is query row -> key column. Every array returned is a read-only float32 numpy copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..analysis import Analysis, frozen_array
from ..loading import LoadedModel
from ..qkv import _check_index, head_vectors, value_norms
from .views import ViewOptions, view_matrix


# ---------------------------------------------------------------------------------------------
# Attention rollout (Abnar & Zuidema 2020)
# ---------------------------------------------------------------------------------------------


def rollout(attentions: np.ndarray) -> np.ndarray:
    """[L, H, T, T] -> [L, T, T]: entry l is the attention rolled out through layers 0..l, residual included.

    Per layer A_l = mean over heads + identity (the residual connection), rows renormalised to sum to 1;
    R_0 = A_0 and R_l = A_l @ R_{l-1}. Every row of every R_l sums to 1.
    """
    mixed = mixed_attention(attentions)  # [L, T, T]
    rolled = np.empty_like(mixed)  # [L, T, T]
    current = np.eye(mixed.shape[-1])  # [T, T]
    for layer, step in enumerate(mixed):
        current = step @ current  # [T, T]
        rolled[layer] = current
    return frozen_array(rolled)


def mixed_attention(attentions: np.ndarray) -> np.ndarray:
    """[L, H, T, T] -> [L, T, T] float64: each layer's mean over heads plus the identity (the residual connection),
    rows renormalised to sum to 1. What rollout multiplies and attention flow takes as capacities."""
    T = attentions.shape[-1]
    # Averaged in float64 without a float64 copy of the whole stack (300 MB for BERT-base at 512 tokens).
    mixed = np.asarray(attentions).mean(axis=1, dtype=np.float64) + np.eye(T)  # [L, T, T]
    mixed /= mixed.sum(axis=-1, keepdims=True)
    return mixed


# ---------------------------------------------------------------------------------------------
# Norm-based maps (Kobayashi et al. 2020)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NormMaps:
    """How much each token moves each other token once value vectors are counted, not attention weights alone."""

    per_head: np.ndarray
    """[L, H, T, T] ||alpha_ij^h f_h(x_j)||, as ``qkv.value_norms``."""
    summed: np.ndarray
    """[L, T, T] ||sum_h alpha_ij^h f_h(x_j)||: the whole layer's attention block, heads added before the norm."""

    @property
    def nbytes(self) -> int:
        return self.per_head.nbytes + self.summed.nbytes


SUMMED_ROWS = 64
"""Query rows per block in ``_summed_norms``."""


def norm_maps(model: LoadedModel, analysis: Analysis) -> NormMaps:
    """Per-head and head-summed norm maps of every layer (output bias excluded: it is the same for every token)."""
    # Filled in place: a list of layers and then a stacked copy would hold 300 MB at once for BERT-base at 512 tokens.
    per_head = np.empty(analysis.attentions.shape, dtype=np.float32)  # [L, H, T, T]
    summed = np.empty((analysis.num_layers, *analysis.attentions.shape[2:]), dtype=np.float32)  # [L, T, T]
    for layer in range(analysis.num_layers):
        per_head[layer] = value_norms(model, analysis, layer)
        summed[layer] = summed_norm_map(model, analysis, layer)
    per_head.flags.writeable = summed.flags.writeable = False
    return NormMaps(per_head=per_head, summed=summed)


def summed_norm_map(model: LoadedModel, analysis: Analysis, layer: int) -> np.ndarray:
    """[T, T] ``NormMaps.summed`` of one layer."""
    return _summed_norms(transformed_values(model, analysis, layer), analysis.attentions[layer])


def transformed_values(model: LoadedModel, analysis: Analysis, layer: int) -> np.ndarray:
    """[H, T, D] f_h(x_j) = v_j^h W_O[:, head h]^T: each head's value of each token, as it enters the residual."""
    _, _, values = head_vectors(model, analysis, layer)  # [H, T, d]
    H, _, d = values.shape
    output = model.layout.attention(model.layout.layers(model.encoder)[layer])[3]
    weight = output.weight.detach().float().cpu().numpy()  # [D, H * d]
    w_out = weight.reshape(-1, H, d).transpose(1, 2, 0)  # [H, d, D], head h's columns of W_O, transposed
    return frozen_array(values @ w_out)  # [H, T, D]


def _summed_norms(transformed: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """[T, T] ||sum_h alpha[h, i, j] f[h, j]||, through each key's Gram matrix of its head vectors.

    ||sum_h a_h f_h||^2 = a^T G a with G[h, g] = f_h . f_g, so no [T, T, D] array is ever built: H^2 T^2 work
    instead of H T^2 D (at 512 tokens on BERT-base, about 8 times faster and 100 MB lighter). Query rows go in
    blocks, so the float64 work arrays stay a few MB rather than 100 MB at 512 tokens.
    """
    gram = np.einsum("hjd,gjd->jhg", transformed, transformed).astype(np.float64)  # [T, H, H] f_h(x_j) . f_g(x_j)
    norms = np.empty(alpha.shape[1:], dtype=np.float32)  # [T, T]
    for start in range(0, alpha.shape[1], SUMMED_ROWS):
        a = np.asarray(alpha[:, start:start + SUMMED_ROWS], dtype=np.float64)  # [H, R, T] indexed [h, i, j]
        mixed = np.einsum("hij,jhg->gij", a, gram)  # [H, R, T] sum_h a[h, i, j] G_j[h, g]
        squared = np.einsum("gij,gij->ij", mixed, a)  # [R, T]
        norms[start:start + SUMMED_ROWS] = np.sqrt(np.maximum(squared, 0.0))  # rounding can leave tiny negatives
    return norms


# ---------------------------------------------------------------------------------------------
# One token seen three ways
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """Spearman rank correlations between the three views of one token's row; NaN when a view is constant (T = 1)."""

    raw_rollout: float
    raw_norm: float
    rollout_norm: float


@dataclass(frozen=True, eq=False)
class TokenViews:
    """Where one query row looks at one layer: raw attention, rollout and value-norm map, side by side."""

    layer: int
    row: int
    """The query's row in the view (its token position when no option is set)."""
    row_name: str
    row_position: int
    column_names: tuple[str, ...]
    column_positions: np.ndarray
    """[C] int64 token positions (word-unit numbers when merged)."""
    raw: np.ndarray
    """[C] head-averaged attention row."""
    rollout: np.ndarray
    """[C] rollout row through this layer."""
    norm: np.ndarray
    """[C] head-summed norm row, scaled to sum to 1 (all zeros if its norms are all 0)."""
    agreement: Agreement


def token_views(analysis: Analysis, rollouts: np.ndarray, norms: NormMaps, layer: int, row: int,
                options: ViewOptions = ViewOptions()) -> TokenViews:
    """The three views of one query row at ``layer`` (options applied to all three), and how well they agree on
    the ranking of keys."""
    _check_index("layer", layer, analysis.num_layers)
    three = np.stack([analysis.attentions[layer].mean(axis=0), rollouts[layer], norms.summed[layer]])  # [3, T, T]
    view = view_matrix(analysis, three, options)  # [3, R, C]
    _check_index("row", row, len(view.row_names))
    raw, rolled, norm = view.matrix[:, row]  # [C] each
    norm = _to_shares(norm)
    agreement = Agreement(raw_rollout=spearman(raw, rolled), raw_norm=spearman(raw, norm),
                          rollout_norm=spearman(rolled, norm))
    return TokenViews(layer=layer, row=row, row_name=view.row_names[row], row_position=int(view.row_positions[row]),
                      column_names=view.column_names, column_positions=view.column_positions, raw=frozen_array(raw),
                      rollout=frozen_array(rolled), norm=frozen_array(norm), agreement=agreement)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (ties get their average rank); NaN when either side has no variation."""
    ranks_a, ranks_b = _ranks(a), _ranks(b)  # [N], [N]
    ranks_a, ranks_b = ranks_a - ranks_a.mean(), ranks_b - ranks_b.mean()  # [N], [N]
    scale = math.sqrt(float(ranks_a @ ranks_a) * float(ranks_b @ ranks_b))
    return float(ranks_a @ ranks_b) / scale if scale > 0 else math.nan


def _ranks(values: np.ndarray) -> np.ndarray:
    """[N] 0-based ranks, tied values sharing the mean of the ranks they span."""
    values = np.asarray(values, dtype=np.float64)  # [N]
    order = np.argsort(values, kind="stable")  # [N]
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)  # [G] each
    ranks = np.empty(len(values))  # [N]
    ranks[order] = np.repeat(first + (counts - 1) / 2, counts)
    return ranks


def _to_shares(row: np.ndarray) -> np.ndarray:
    """[T] row / its sum; an all-zero row stays zero."""
    total = float(row.sum())
    return row / total if total > 0 else np.zeros_like(row)  # [T]
