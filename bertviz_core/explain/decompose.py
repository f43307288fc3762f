"""What the model computed, taken apart exactly: every hidden state, and the target's logit, as a sum of one part per
source plus a bias term, where the sources are the input tokens (DecompX, Modarressi et al. 2023) or the places that
wrote into the residual stream (the embeddings, each head, each feed-forward); and, layer by layer, how much of each
token came from each token below it (ALTI's contributions, Ferrando et al. 2022), traced into routes.

Every family here adds, then normalises (post-LN). Once its nonlinear pieces are fixed at the values the model
actually computed, each step of a layer is linear, so applying it to every part gives parts that add up to the
model's own vector:

- attention: the softmax weights alpha as the model computed them; the values and the output map are linear;
- LayerNorm: LN(x) = gamma * (x - mean(x)) / std(x) + beta with the mean and std of the whole vector x, so part s
  becomes gamma * (x_s - mean(x_s)) / std(x), and beta joins the bias term;
- activation: act(z) = (act(z) / z) * z elementwise, the ratio taken at the whole pre-activation z;
- every bias joins the bias term, and travels on through the later steps like a part.

Everything runs in float64 (``PRECISE``) unless asked otherwise, one layer at a time: only the current layer's parts
are held, plus the hidden states a caller asks to keep. Names as in ``analysis``: ``L`` layers, ``H`` heads, ``d``
head size, ``T`` tokens, ``D`` hidden size, ``E`` embedding size, ``F`` feed-forward width, ``S`` slots (the sources,
then the bias term last), ``N`` components, ``R`` rows (token positions) computed. Layers and heads are 0-based in
code; component names count from 1 (``L3.H7``, ``L3.ffn``) as the app shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ..analysis import Analysis, HoldsArrays, InputError, frozen_array
from ..loading import LoadedModel
from .target import Progress, Target, inputs_of, last_hidden, target_scores

PRECISE = torch.float64
"""The default: float64, so that the parts' sum differs from the model's own float32 vectors by the model's rounding
alone. float32 takes half the time (by token at 64 tokens on a BERT-base-sized model, 2.7 s against 5.2 s,
bench/explain.py), and its sums too stay within 1e-5 of the model's (tests/test_decompose.py)."""
CHUNK_VALUES = 1 << 23
"""Values of the feed-forward's inner [R, S, F] array computed at once (64 MB), so its width F (4 D) never
multiplies the memory of the parts."""
MAX_TOKENS = 256
"""Longest input decomposed by token (and traced into routes): the parts take T x T x D numbers per layer, so time
and memory grow with T^2 and more. On a BERT-base-sized model by token in float64: 5 s and 0.4 GB at peak at 64
tokens, 25 s and 1 GB at 128, 100 s and 3.3 GB at 256 (bench/explain.py). By component has no such limit."""
ROUTE_THRESHOLD = 0.1
"""Default share below which a route's edge is dropped."""


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Decomposition(HoldsArrays):
    """The target's logit as parts plus a bias term, and how exactly the parts reproduce what the model computed."""

    target: Target
    logit: float
    """The model's own logit of the target (transformers' forward pass)."""
    bias: float
    """The bias term: every bias and LayerNorm shift of the model, carried to the logit as the parts are."""
    errors: np.ndarray
    """[L + 1] float64, for each hidden state (0 = the embedding output) the largest relative error, over the tokens
    computed, of the parts' sum against the model's own state (``Analysis.hidden_states``):
    ||sum_s x_(i<-s) + b_i - x_i|| / ||x_i||. The last layer computes only the target's rows unless it is kept."""
    kept: tuple[int, ...]
    """Hidden-state indices (0 = the embedding output) whose parts are kept, in ``hidden_parts``."""
    hidden_parts: np.ndarray
    """[K, T, S - 1, D] float32 the parts x_(i<-s) of each kept hidden state: token i, source s."""
    hidden_bias: np.ndarray
    """[K, T, D] float32 the bias term b_i of each kept hidden state."""

    @property
    def total(self) -> float:
        """Sum of the parts and the bias: the model's logit recomputed in float64."""
        return float(np.sum(self.parts, dtype=np.float64)) + self.bias

    @property
    def logit_error(self) -> float:
        """|total - logit| / |logit|: how far the parts' sum is from the model's own logit."""
        return abs(self.total - self.logit) / max(abs(self.logit), 1e-12)


@dataclass(frozen=True, eq=False)
class TokenDecomposition(Decomposition):
    """DecompX: the target's logit as one part per input token (positions as ``Analysis.tokens``, 0 = [CLS])."""

    tokens: tuple[str, ...]
    parts: np.ndarray
    """[T] float64 what token j contributes to the logit (signed)."""

    def named(self) -> list[tuple[int, float]]:
        """(token position, part) in order."""
        return [(position, float(value)) for position, value in enumerate(self.parts)]


@dataclass(frozen=True, eq=False)
class ComponentDecomposition(Decomposition):
    """The target's logit as the direct contribution of each place that wrote into the residual stream.

    A component's vector (the embedding output; one head's output W_O^h sum_k alpha_ik W_V^h x_k; one feed-forward's
    output W2 act(W1 y + b1)) is added to the residual stream at its layer and carried from there by the residual
    path alone: through every later LayerNorm (linearised) and through the masked-LM head (its activation by the
    ratio) or the classifier's pooling. What a later head or feed-forward computes from it counts as that later
    component's own: credit flowing through later blocks as well would count each vector twice (a later head's
    output would belong both to it and to what it read), and crediting it only to what it read would leave every
    head and feed-forward with nothing (all of it goes back to the embeddings: that is the token decomposition)."""

    embeddings: float
    """The embedding output's part."""
    grid: np.ndarray
    """[L, H + 1] float64 each layer's heads' parts, then its feed-forward's (column H)."""

    @property
    def parts(self) -> np.ndarray:
        """[1 + L (H + 1)] float64 in the order of ``names``."""
        return np.concatenate([[self.embeddings], self.grid.ravel()])

    @property
    def names(self) -> tuple[str, ...]:
        """'embeddings', then per layer 'L1.H1' .. 'L1.H<H>', 'L1.ffn', counted from 1."""
        layers, columns = self.grid.shape
        return ("embeddings", *(f"L{layer + 1}.{f'H{column + 1}' if column < columns - 1 else 'ffn'}"
                                for layer in range(layers) for column in range(columns)))

    def named(self) -> list[tuple[str, float]]:
        """(component name, part) in order."""
        return list(zip(self.names, (float(v) for v in self.parts)))


@dataclass(frozen=True, eq=False)
class Routes(HoldsArrays):
    """ALTI's contributions, layer by layer: how much of each token's output of a layer came from each token's input
    to it (the whole layer, attention block and feed-forward, decomposed by its input tokens)."""

    tokens: tuple[str, ...]
    shares: np.ndarray
    """[L, T, T] float32: at layer l, row i, column j, c_(i<-j) = max(0, ||x_i||_1 - ||x_i - x_(i<-j)||_1) normalised
    over j, with x_i the layer's output at token i and x_(i<-j) the part of it that came from token j's input. Rows
    sum to 1."""


@dataclass(frozen=True)
class RouteGraph:
    """The routes that reach one token at the top, kept where each step carries at least ``threshold``."""

    position: int
    threshold: float
    nodes: tuple[tuple[int, int], ...]
    """(hidden-state index, token): 0 = the embedding output, L = the last layer's output; top first."""
    edges: tuple[tuple[tuple[int, int], tuple[int, int], float], ...]
    """(from node one layer down, to node, share of ``to`` that came from ``from``), top first."""


# ---------------------------------------------------------------------------------------------
# The steps of a layer, applied to parts [R, S, D] whose last slot is the bias term
# ---------------------------------------------------------------------------------------------


def _weights(linear: nn.Linear, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Copies in ``dtype`` of a linear map's weight [out, in] and bias [out] (zeros where it has none)."""
    weight = linear.weight.detach().to(dtype)
    bias = linear.bias.detach().to(dtype) if linear.bias is not None else weight.new_zeros(weight.shape[0])
    return weight, bias


def _linear(parts: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """[R, S, in] -> [R, S, out]: the map applied to every part, its bias to the bias term."""
    weight, bias = _weights(linear, parts.dtype)
    out = parts @ weight.T
    out[:, -1] += bias
    return out


def _norm(parts: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """LayerNorm linearised at each token's own statistics: part s -> gamma * (x_s - mean(x_s)) / std(x), with x the
    sum of the parts; beta to the bias term."""
    whole = parts.sum(1)  # [R, D]
    std = torch.sqrt(whole.var(-1, unbiased=False) + norm.eps)  # [R]
    gamma = norm.weight.detach().to(parts.dtype) if norm.weight is not None else 1.0
    out = (parts - parts.mean(-1, keepdim=True)).mul_(gamma / std[:, None, None])  # [R, S, D]
    if norm.bias is not None:
        out[:, -1] += norm.bias.detach().to(parts.dtype)
    return out


def _ratio(z: torch.Tensor, activation: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    """act(z) = ratio * z + rest elementwise: ratio = act(z) / z at the whole pre-activation z [R, F]; rest is
    act(0) where z is exactly 0 (and 0 elsewhere), for the bias term."""
    active = activation(z)
    nonzero = z != 0
    ratio = torch.where(nonzero, active / torch.where(nonzero, z, 1.0), 0.0)
    return ratio, active - ratio * z


def _activated(parts: torch.Tensor, activation: Callable) -> torch.Tensor:
    """[R, S, F] pre-activation parts -> the parts of act(z), by the ratio at their sum z."""
    ratio, rest = _ratio(parts.sum(1), activation)
    out = parts * ratio[:, None]
    out[:, -1] += rest
    return out


def _feed_forward(parts: torch.Tensor, intermediate: nn.Linear, activation: Callable,
                  output: nn.Linear) -> torch.Tensor:
    """[R, S, D] -> [R, S, D]: W2 act(W1 y + b1) + b2 applied part by part, a few tokens at a time so that the
    inner [R, S, F] array is never whole."""
    (w1, b1), (w2, b2) = _weights(intermediate, parts.dtype), _weights(output, parts.dtype)
    R, S, _ = parts.shape
    z = parts.sum(1) @ w1.T + b1  # [R, F] the whole pre-activation
    ratio, rest = _ratio(z, activation)
    out = torch.empty(R, S, w2.shape[0], dtype=parts.dtype)
    step = max(1, CHUNK_VALUES // (S * w1.shape[0]))
    for start in range(0, R, step):
        rows = slice(start, start + step)
        out[rows] = ((parts[rows] @ w1.T).mul_(ratio[rows, None])) @ w2.T  # through [r, S, F]
    out[:, -1] += (b1 * ratio + rest) @ w2.T + b2  # b1 through the activation, and act(0) where z == 0
    return out


def _attention_weights(x: torch.Tensor, query: nn.Linear, key: nn.Linear, heads: int) -> torch.Tensor:
    """[T, D] the layer's input -> [H, T, T] softmax weights, query row -> key column, as the model computes them."""
    T = x.shape[0]
    (wq, bq), (wk, bk) = _weights(query, x.dtype), _weights(key, x.dtype)
    q = (x @ wq.T + bq).view(T, heads, -1).transpose(0, 1)  # [H, T, d]
    k = (x @ wk.T + bk).view(T, heads, -1).transpose(0, 1)  # [H, T, d]
    return (q @ k.transpose(1, 2) * q.shape[-1] ** -0.5).softmax(-1)


def _token_layer(parts: torch.Tensor, model: LoadedModel, module: nn.Module, rows: list[int] | None) -> torch.Tensor:
    """One layer on parts [T, S, D] -> its output's parts at ``rows`` (None: all) [R, S, D]: each part of each value
    vector mixed by alpha, then W_O, add, norm, feed-forward, add, norm."""
    query, key, value, output = model.layout.attention(module)
    block = model.layout.block(module)
    T, S, D = parts.shape
    H = model.num_heads
    rows = list(range(T)) if rows is None else rows
    alpha = _attention_weights(parts.sum(1), query, key, H)[:, rows]  # [H, R, T]
    values = _linear(parts, value).view(T, S, H, -1).permute(1, 2, 0, 3)  # [S, H, T, d]
    mixed = (alpha @ values).permute(2, 0, 1, 3).reshape(len(rows), S, D)  # [R, S, D]; b_V mixes to itself
    attended = _norm(parts[rows] + _linear(mixed, output), block.attention_norm)  # [R, S, D]
    ffn = _feed_forward(attended, block.intermediate, block.activation, block.output)
    return _norm(attended + ffn, block.output_norm)


def _component_layer(parts: torch.Tensor, x: torch.Tensor, model: LoadedModel, module: nn.Module, first: int,
                     rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer by component: (parts [R, N, D] at ``rows``, x [T, D] the whole input at every token) -> the same
    for its output. Each head's output goes to slots ``first`` .. ``first + H - 1``, the feed-forward's to ``first +
    H``, their biases to the bias term; the residual carries the rest."""
    query, key, value, output = model.layout.attention(module)
    block = model.layout.block(module)
    T, H = x.shape[0], model.num_heads
    alpha = _attention_weights(x, query, key, H)  # [H, T, T]
    (wv, bv), (wo, bo) = _weights(value, x.dtype), _weights(output, x.dtype)
    context = alpha @ (x @ wv.T).view(T, H, -1).transpose(0, 1)  # [H, T, d] without b_V
    heads = torch.einsum("hid,ehd->ihe", context, wo.view(wo.shape[0], H, -1))  # [T, H, D]
    written = wo @ bv + bo  # [D]; sum_k alpha_ik b_V = b_V
    parts = parts.clone()  # the caller may keep the layer's input
    parts[:, first:first + H] += heads[rows]
    parts[:, -1] += written
    attended = _norm(parts, block.attention_norm)  # [R, N, D]
    y = _whole_norm(x + heads.sum(1) + written, block.attention_norm)  # [T, D]
    (w1, b1), (w2, b2) = _weights(block.intermediate, x.dtype), _weights(block.output, x.dtype)
    ffn = block.activation(y @ w1.T + b1) @ w2.T  # [T, D] without b2
    attended[:, first + H] += ffn[rows]
    attended[:, -1] += b2
    return _norm(attended, block.output_norm), _whole_norm(y + ffn + b2, block.output_norm)


def _whole_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """[T, D] -> the LayerNorm itself, computed as ``_norm`` computes it (a vector of one part, the bias term)."""
    return _norm(x[:, None], norm)[:, 0]


def _embedding_parts(model: LoadedModel, analysis: Analysis, slots: torch.Tensor, width: int,
                     dtype: torch.dtype) -> torch.Tensor:
    """The embedding output [T, width + 1, D]: token j's sum of word, position and segment rows, normalised, in slot
    ``slots[j]``; the LayerNorm's beta and the projection's bias (ALBERT, ELECTRA: E -> D) in the bias term."""
    summed = sum(torch.tensor(rows, dtype=dtype) for rows in (
        analysis.token_embeddings, analysis.position_embeddings, analysis.segment_embeddings))  # [T, E]
    T = summed.shape[0]
    parts = summed.new_zeros(T, width + 1, summed.shape[1])
    parts[torch.arange(T), slots] = summed
    parts = _norm(parts, model.encoder.embeddings.LayerNorm)
    projection = model.layout.projection(model.encoder)
    return parts if projection is None else _linear(parts, projection)


def _target_parts(model: LoadedModel, target: Target, rows: torch.Tensor) -> torch.Tensor:
    """The parts [R, S, D] of the last hidden states at ``target.rows`` -> [S] the parts of the target's logit: through
    the masked-LM head (dense, activation by the ratio, LayerNorm, the target's decoder row; the decoder bias to the
    bias term) or the classifier (the same pooling, then its weights)."""
    if target.head is not None:
        weight = torch.tensor(target.head.weight[target.output_id], dtype=rows.dtype)  # [D]
        out = rows.mean(0) @ weight
        out[-1] += float(target.head.bias[target.output_id])
        return out
    head = model.layout.mlm_head(model.model)
    transformed = _norm(_activated(_linear(rows, head.dense), head.activation), head.norm)[0]  # [S, E]
    decoder = model.model.get_output_embeddings()
    out = transformed @ decoder.weight[target.output_id].detach().to(rows.dtype)
    if decoder.bias is not None:
        out[-1] += float(decoder.bias[target.output_id])
    return out


# ---------------------------------------------------------------------------------------------
# Running every layer
# ---------------------------------------------------------------------------------------------


def decompose_tokens(model: LoadedModel, analysis: Analysis, target: Target, *, keep: Iterable[int] = (),
                     dtype: torch.dtype = PRECISE, progress: Progress | None = None) -> TokenDecomposition:
    """DecompX: every hidden state, and the target's logit, as one part per input token plus a bias term. ``keep``
    names the hidden states (0 = the embedding output .. L) whose parts [T, T, D] the result keeps; computed in
    ``dtype``; ``progress`` hears after each layer."""
    kept = _checked(model, analysis, keep, by_token=True)
    T, L = analysis.num_tokens, model.num_layers
    start = _embedding_parts(model, analysis, torch.arange(T), T, dtype)
    rows = lambda index: list(target.rows) if index == L and L not in kept else None  # noqa: E731 the head's rows
    layer = lambda parts, index, module: _token_layer(parts, model, module, rows(index + 1))  # noqa: E731
    parts, held, errors = _run(model, analysis, target, kept, start, layer, rows, progress)
    return TokenDecomposition(target=target, tokens=analysis.tokens, parts=frozen_array(parts[:-1], np.float64),
                              bias=float(parts[-1]), **_common(model, analysis, target, kept, held, errors))


def decompose_components(model: LoadedModel, analysis: Analysis, target: Target, *, keep: Iterable[int] = (),
                         dtype: torch.dtype = PRECISE, progress: Progress | None = None) -> ComponentDecomposition:
    """The target's logit as the direct contribution of the embeddings, each head and each feed-forward, plus a bias
    term (see ``ComponentDecomposition``). ``keep``, ``dtype`` and ``progress`` as for ``decompose_tokens``; the kept
    parts are [T, N, D] with the components in the order of ``ComponentDecomposition.names``."""
    kept = _checked(model, analysis, keep)
    T, L, H = analysis.num_tokens, model.num_layers, model.num_heads
    start = _embedding_parts(model, analysis, torch.zeros(T, dtype=torch.long), 1 + L * (H + 1), dtype)
    # Parts at the rows the head reads (every row where states are kept); the whole vectors at every row.
    computed = list(range(T)) if kept else list(target.rows)
    whole = [start.sum(1)]  # [T, D]

    def layer(parts, index, module):
        parts, whole[0] = _component_layer(parts, whole[0], model, module, 1 + index * (H + 1), computed)
        return parts

    parts, held, errors = _run(model, analysis, target, kept, start[computed], layer, lambda index: computed,
                               progress)
    return ComponentDecomposition(target=target, embeddings=float(parts[0]), bias=float(parts[-1]),
                                  grid=frozen_array(parts[1:-1].reshape(L, H + 1), np.float64),
                                  **_common(model, analysis, target, kept, held, errors))


def _checked(model: LoadedModel, analysis: Analysis, keep: Iterable[int], by_token: bool = False) -> tuple[int, ...]:
    """``keep`` as sorted hidden-state indices, once the model and the analysis are known to fit together (and the
    text is short enough to decompose ``by_token``)."""
    if analysis.model_location != model.location:
        raise InputError("This analysis was made with another model; analyse the text with this one.")
    if by_token and analysis.num_tokens > MAX_TOKENS:
        raise InputError(f"Decomposing by token holds every token's part of every token: it takes texts of up to "
                         f"{MAX_TOKENS} tokens; this one has {analysis.num_tokens}.")
    if model.family == "albert" and model.config.inner_group_num != 1:
        raise InputError("Decomposition follows ALBERT checkpoints with one layer per group (inner_group_num = 1).")
    kept = tuple(sorted({int(index) for index in keep}))
    if any(not 0 <= index <= model.num_layers for index in kept):
        raise InputError(f"Hidden states are numbered 0 (the embedding output) to {model.num_layers}.")
    return kept


Layer = Callable[[torch.Tensor, int, nn.Module], torch.Tensor]
"""(parts entering the layer, 0-based layer, its module) -> the parts of its output."""
Rows = Callable[[int], "list[int] | None"]
"""Hidden-state index -> the token rows its parts are computed at, in order; None: every token."""


def _run(model: LoadedModel, analysis: Analysis, target: Target, kept: tuple[int, ...], parts: torch.Tensor,
         layer: Layer, rows: Rows, progress: Progress | None):
    """Carry ``parts`` (the embedding output's at ``rows(0)``) through every layer with ``layer``, then through the
    target's head, holding the model's lock one layer at a time. -> ([S] the logit's parts, {kept index: parts},
    [L + 1] errors against the model's own hidden states)."""
    states, L = analysis.hidden_states, model.num_layers  # [L + 1, T, D] the model's own, float32
    held, errors = {}, np.full(L + 1, np.nan)
    with torch.inference_mode():
        for index, module in enumerate([None, *model.layout.layers(model.encoder)]):
            if module is not None:
                with model.lock:
                    parts = layer(parts, index - 1, module)
                if progress is not None:
                    progress(index, L)
            at = rows(index)
            errors[index] = _largest_error(parts, states[index] if at is None else states[index][at])
            held.update({index: parts} if index in kept else {})
        at = rows(L) or list(range(analysis.num_tokens))
        return _target_parts(model, target, parts[[at.index(row) for row in target.rows]]), held, errors


def _largest_error(parts: torch.Tensor, own: np.ndarray) -> float:
    """max over rows of ||sum of parts - own|| / ||own||."""
    own = torch.tensor(own, dtype=torch.float64)  # [R, D]
    return float(((parts.sum(1) - own).norm(dim=-1) / own.norm(dim=-1).clamp(min=1e-12)).max())


def _common(model: LoadedModel, analysis: Analysis, target: Target, kept: tuple[int, ...], held: dict,
            errors: np.ndarray) -> dict:
    """The fields both decompositions share: the model's own logit, the kept parts, the errors."""
    with model.lock, torch.inference_mode():
        logit = float(target_scores(model, target, last_hidden(model, inputs_of(analysis), 1))[0])
    T, D = analysis.num_tokens, analysis.hidden_states.shape[-1]
    width = next(iter(held.values())).shape[1] - 1 if held else 0
    parts = np.empty((len(kept), T, width, D), dtype=np.float32)
    bias = np.empty((len(kept), T, D), dtype=np.float32)
    for n, index in enumerate(kept):
        torch.from_numpy(parts[n]).copy_(held[index][:, :-1])
        torch.from_numpy(bias[n]).copy_(held[index][:, -1])
    parts.flags.writeable = bias.flags.writeable = False
    errors.flags.writeable = False
    return dict(logit=logit, errors=errors, kept=kept, hidden_parts=parts, hidden_bias=bias)


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def routes(model: LoadedModel, analysis: Analysis, *, dtype: torch.dtype = PRECISE,
           progress: Progress | None = None) -> Routes:
    """ALTI's contributions at every layer: each layer's output decomposed by its input tokens (the whole input
    vector x_j is source j there), then c_(i<-j) = max(0, ||x_i||_1 - ||x_i - x_(i<-j)||_1), normalised per row."""
    _checked(model, analysis, (), by_token=True)
    T = analysis.num_tokens
    shares = np.empty((model.num_layers, T, T), dtype=np.float32)
    x = _embedding_parts(model, analysis, torch.arange(T), T, dtype).sum(1)  # [T, D] the embedding output
    with torch.inference_mode():
        for index, module in enumerate(model.layout.layers(model.encoder)):
            parts = x.new_zeros(T, T + 1, x.shape[1])
            parts[torch.arange(T), torch.arange(T)] = x
            with model.lock:
                parts = _token_layer(parts, model, module, None)  # [T, T + 1, D]
            x = parts.sum(1)  # [T, D]
            size = x.abs().sum(-1)  # [T]
            closeness = (size[:, None] - (x[:, None] - parts[:, :-1]).abs().sum(-1)).clamp(min=0.0)  # [T, T]
            shares[index] = (closeness / closeness.sum(-1, keepdim=True).clamp(min=1e-12)).numpy()
            if progress is not None:
                progress(index + 1, model.num_layers)
    shares.flags.writeable = False
    return Routes(tokens=analysis.tokens, shares=shares)


def route_graph(found: Routes, position: int, threshold: float = ROUTE_THRESHOLD) -> RouteGraph:
    """The routes into token ``position`` at the top, traced down to the input: from each node reached, the edges
    from the tokens one layer down that gave it at least ``threshold`` of itself."""
    L, T, _ = found.shares.shape
    if not 0 <= int(position) < T:
        raise InputError(f"Token {position} is not in the text; its tokens are 0 to {T - 1}.")
    if not 0.0 <= float(threshold) <= 1.0:
        raise InputError("The threshold is a share, from 0 to 1.")
    nodes, edges, reached = [(L, int(position))], [], [int(position)]
    for layer in range(L, 0, -1):
        below = set()
        for i in reached:
            for j in np.flatnonzero(found.shares[layer - 1, i] >= threshold):
                edges.append(((layer - 1, int(j)), (layer, i), float(found.shares[layer - 1, i, j])))
                below.add(int(j))
        reached = sorted(below)
        nodes.extend((layer - 1, j) for j in reached)
    return RouteGraph(position=int(position), threshold=float(threshold), nodes=tuple(nodes), edges=tuple(edges))
