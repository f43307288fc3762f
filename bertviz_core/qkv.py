"""Attention recomputed by hand from the model's own weights: queries, keys, values, scores, softmax.

The model already reports its attention weights (``Analysis.attentions``); this module rebuilds them
step by step so the app can show *why* a head attends where it does, and how much each token really
contributes once the value vectors are taken into account (Kobayashi et al. 2020).

Names as in ``analysis``: ``L`` layers, ``H`` heads, ``T`` tokens, ``D`` hidden size, ``d`` head size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .analysis import Analysis, frozen_array
from .loading import LoadedModel


@dataclass(frozen=True)
class HeadArithmetic:
    """One head's attention for one query token, computed from the model's own weights."""

    layer: int
    head: int
    query_index: int
    x: np.ndarray
    """[D] hidden state of the query token entering the layer (``analysis.hidden_states[layer]``)."""
    query: np.ndarray
    """[d] q = W_Q x + b_Q, this head's slice."""
    keys: np.ndarray
    """[T, d] k_j for every token."""
    values: np.ndarray
    """[T, d] v_j for every token."""
    scores: np.ndarray
    """[T] q . k_j"""
    scale: float
    """sqrt(d)"""
    scaled: np.ndarray
    """[T] scores / scale"""
    weights: np.ndarray
    """[T] softmax(scaled): equals the model's attention row."""
    output: np.ndarray
    """[d] sum_j weights_j v_j: the head's output for this token, before the output dense."""


def head_arithmetic(model: LoadedModel, analysis: Analysis, layer: int, head: int, query_index: int) -> HeadArithmetic:
    """Every step from hidden state to head output, for ``head`` of ``layer`` at token ``query_index``."""
    _check_index("head", head, analysis.num_heads)
    _check_index("query_index", query_index, analysis.num_tokens)
    queries, keys, values = head_vectors(model, analysis, layer)  # [H, T, d] each
    query, keys, values = queries[head, query_index], keys[head], values[head]  # [d], [T, d], [T, d]
    scale = math.sqrt(query.shape[-1])
    scores = keys @ query  # [T]
    scaled = scores / np.float32(scale)  # [T]
    weights = _softmax(scaled)  # [T]
    output = weights @ values  # [d]
    return HeadArithmetic(
        layer=layer, head=head, query_index=query_index,
        x=frozen_array(analysis.hidden_states[layer, query_index]),
        query=query, keys=keys, values=values,
        scores=frozen_array(scores), scale=scale, scaled=frozen_array(scaled),
        weights=frozen_array(weights), output=frozen_array(output),
    )


def head_vectors(model: LoadedModel, analysis: Analysis, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values [H, T, d] of every token entering ``layer``, read-only float32."""
    with torch.inference_mode():
        return tuple(frozen_array(vectors) for vectors in _projections(model, analysis, layer))


def value_norms(model: LoadedModel, analysis: Analysis, layer: int) -> np.ndarray:
    """[H, T, T] ||alpha_ij f_h(x_j)||: how much token j really moves token i through head h.

    f_h(x_j) = v_j^h W_O[:, head h]^T is the value vector carried into the residual stream by the
    output dense (its bias left out: it is the same for every token). Attention weights alone ignore
    that some tokens' transformed values are tiny (Kobayashi et al. 2020, "Attention is not only a weight").
    """
    _, _, _, output = _linears(model, layer)
    with torch.inference_mode():
        _, _, values = _projections(model, analysis, layer)  # [H, T, d]
        H, _, d = values.shape
        w_out = output.weight.float().view(-1, H, d).permute(1, 2, 0)  # [H, d, D], head h's columns of W_O, transposed
        transformed = values @ w_out  # [H, T, D] f_h(x_j)
        lengths = transformed.norm(dim=-1)  # [H, T] ||f_h(x_j)||
        weights = torch.tensor(analysis.attentions[layer])  # [H, T, T] alpha_ij
        # alpha >= 0, so ||alpha f|| = alpha ||f||: scale each key column by its vector's length.
        return frozen_array(weights * lengths[:, None, :])  # [H, T, T]


def head_projections(model: LoadedModel, layer: int, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values [H, N, d] float32 of any N vectors [N, D] entering ``layer`` (a corpus index's
    stored hidden states, for instance)."""
    with torch.inference_mode():
        return tuple(part.numpy() for part in _split_heads(model, layer, torch.tensor(inputs), model.num_heads))


def _projections(model: LoadedModel, analysis: Analysis, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys and values [H, T, d] as torch float32 tensors; call under inference mode."""
    _check_pair(model, analysis)
    # torch.tensor copies: the analysis arrays are read-only and torch.from_numpy would warn about that.
    return _split_heads(model, layer, torch.tensor(analysis.hidden_states[layer]), analysis.num_heads)


def _split_heads(model: LoadedModel, layer: int, x: torch.Tensor, H: int) -> tuple[torch.Tensor, ...]:
    """[N, D] -> queries, keys and values [H, N, d], float32."""
    query, key, value, _ = _linears(model, layer)
    x = x.to(query.weight.dtype)
    return tuple(linear(x).float().view(x.shape[0], H, -1).transpose(0, 1) for linear in (query, key, value))


def _linears(model: LoadedModel, layer: int):
    """The (query, key, value, output) linear maps of ``layer``."""
    _check_index("layer", layer, model.num_layers)
    return model.layout.attention(model.layout.layers(model.encoder)[layer])


def _check_pair(model: LoadedModel, analysis: Analysis) -> None:
    # A cached analysis from another model would fail later with an opaque shape error.
    if (analysis.num_layers, analysis.num_heads) != (model.num_layers, model.num_heads):
        raise ValueError(f"This analysis ({analysis.model_name}) was not made with {model.name}.")


def _check_index(name: str, value: int, size: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value < size:
        raise ValueError(f"{name} must be an integer from 0 to {size - 1}, got {value!r}.")


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())  # subtract the max so exp cannot overflow
    return shifted / shifted.sum()
