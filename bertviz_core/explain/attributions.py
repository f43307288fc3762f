"""Is attention an explanation? Nine attributions of one target over the input tokens, and how faithful the model
itself finds each of them.

Every method gives one score per token of the analysis, special tokens included (positions count like
``Analysis.tokens``, 0 = [CLS]); higher means "the target depends more on this token". Gradients are taken with
respect to the word-embedding layer's output at each position (each token's embedding row as the model used it,
before positions and segments are added). Names as in ``analysis``: ``L`` layers, ``H`` heads, ``T`` tokens, ``E``
embedding size, ``M`` methods, ``K`` deletion steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..analysis import Analysis, HoldsArrays, InputError, frozen_array
from ..attention.rollout import mixed_attention, rollout, spearman, summed_norm_map
from ..loading import LoadedModel
from .decompose import decompose_tokens
from .hooks import Edits, intervening
from .target import (BATCH_ROWS, Inputs, Progress, Target, batches, inputs_of, last_hidden, output_logits,
                     target_scores, word_embeddings)

METHODS = {
    "attention": "Raw attention (last layer, mean of heads)",
    "rollout": "Attention rollout",
    "flow": "Attention flow (max-flow)",
    "value_norm": "Value-norm weighting (last layer)",
    "grad_norm": "Gradient norm",
    "grad_input": "Gradient × input",
    "integrated_gradients": "Integrated Gradients",
    "value_zeroing": "Value zeroing",
    "decompx": "DecompX (exact decomposition)",
}
"""Method name (as the command line takes it) -> what the page calls it."""
FLOW_MAX_TOKENS = 256
"""Attention flow solves one max-flow problem per token over a graph of L x T^2 edges: on a BERT-base-sized model 1 s
at 128 tokens, 11 s at 256 and over 2 minutes at 512 (bench/explain.py), so it stops at 256."""
PAGE_MAX_TOKENS = 128
"""Longest input the app explains: value zeroing runs one copy of the input per token and the deletion curves some
270 copies. At 128 tokens everything takes about 55 s on a BERT-base-sized model (9 s on the offline one), and
DecompX 25 s more (3 s); at 256, two and a half minutes before DecompX (bench/explain.py)."""
FLOW_SCALE = 1 << 24
"""Max-flow runs on integer capacities: attention weights are counted in units of 2^-24."""
IG_STEPS = 64
DELETION_POINTS = 20
"""A deletion curve has at most this many steps after the start (longer sentences remove several tokens a step)."""
RANDOM_ORDERS = 5
"""Random deletion orders averaged into the reference curve."""
REMOVAL = ("Removing a token hides it from every other token (its attention-mask entry is 0); positions stay as they "
           "were, and the mask being explained is never removed.")


@dataclass(frozen=True, eq=False)
class Attribution(HoldsArrays):
    """One method's scores of one target over the input tokens."""

    method: str
    target: Target
    score: float
    """F(input): the target's logit on the unchanged input."""
    scores: np.ndarray
    """[T] float32, one per token of the analysis."""
    baseline_score: float | None = None
    """Integrated Gradients only: F(baseline)."""

    @property
    def completeness_gap(self) -> float | None:
        """Integrated Gradients only: sum of the scores - (F(input) - F(baseline)); 0 for an exact integral."""
        if self.baseline_score is None:
            return None
        return float(self.scores.sum(dtype=np.float64)) - (self.score - self.baseline_score)


def attribute(model: LoadedModel, analysis: Analysis, target: Target, method: str, *, steps: int = IG_STEPS,
              progress: Progress | None = None) -> Attribution:
    """Run one attribution ``method`` (a key of ``METHODS``) for ``target``."""
    if method not in METHODS:
        raise InputError(f"Unknown method “{method}”; choose one of {', '.join(METHODS)}.")
    inputs = inputs_of(analysis)
    score = float(_scores(model, target, inputs, [None])[0])
    if method == "integrated_gradients":
        scores, baseline = _integrated_gradients(model, analysis, target, inputs, steps, progress)
        return Attribution(method, target, score, frozen_array(scores), baseline_score=baseline)
    compute = {"attention": _attention, "rollout": _rollout, "flow": _flow, "value_norm": _value_norm,
               "grad_norm": _grad_norm, "grad_input": _grad_input, "value_zeroing": _value_zeroing,
               "decompx": _decompx}[method]
    scores = compute(model, analysis, target, inputs, progress)
    return Attribution(method, target, score, frozen_array(scores))


def _scores(model: LoadedModel, target: Target, inputs: Inputs, ids: list) -> np.ndarray:
    """F for the input itself (None) or the given ids [T], one forward pass under the lock."""
    rows = torch.cat([inputs.ids if row is None else row.unsqueeze(0) for row in ids])  # [B, T]
    with model.lock, torch.inference_mode():
        return target_scores(model, target, last_hidden(model, inputs, len(ids), ids=rows)).numpy()


# ---------------------------------------------------------------------------------------------
# Read from the attention weights
# ---------------------------------------------------------------------------------------------


def _attention(model, analysis: Analysis, target: Target, inputs, progress) -> np.ndarray:
    return analysis.attentions[-1][:, list(target.rows)].mean(axis=(0, 1))  # [T]


def _rollout(model, analysis: Analysis, target: Target, inputs, progress) -> np.ndarray:
    return rollout(analysis.attentions)[-1][list(target.rows)].mean(axis=0)  # [T]


def _value_norm(model, analysis: Analysis, target: Target, inputs, progress) -> np.ndarray:
    return summed_norm_map(model, analysis, analysis.num_layers - 1)[list(target.rows)].mean(axis=0)  # [T]


def _flow(model, analysis: Analysis, target: Target, inputs, progress) -> np.ndarray:
    """Abnar & Zuidema's attention flow: the maximum flow from each input token to the target's rows at the top,
    through the layers' residual-mixed attention (as rollout mixes it) taken as capacities."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    L, T = analysis.num_layers, analysis.num_tokens
    if T > FLOW_MAX_TOKENS:
        raise InputError(f"Attention flow is computed up to {FLOW_MAX_TOKENS} tokens; this input has {T}.")
    mixed = mixed_attention(analysis.attentions)  # [L, T, T] query row i, key column j
    layer, query, key = np.nonzero(mixed > 0)
    # Node l * T + j is token j entering layer l + 1 (l = 0: the input); the edge j -> i carries A_l[i, j].
    sources = layer * T + key
    sinks = (layer + 1) * T + query
    capacity = np.rint(mixed[layer, query, key] * FLOW_SCALE).astype(np.int32)
    top = (L + 1) * T  # one sink fed by every row the target reads
    sources = np.concatenate([sources, L * T + np.array(target.rows)])
    sinks = np.concatenate([sinks, np.full(len(target.rows), top)])
    capacity = np.concatenate([capacity, np.full(len(target.rows), FLOW_SCALE, dtype=np.int32)])
    graph = csr_matrix((capacity, (sources, sinks)), shape=(top + 1, top + 1))
    flows = np.empty(T)
    for token in range(T):
        flows[token] = maximum_flow(graph, token, top).flow_value / FLOW_SCALE
        if progress is not None:
            progress(token + 1, T)
    return flows / len(target.rows)


# ---------------------------------------------------------------------------------------------
# Gradients (Captum)
# ---------------------------------------------------------------------------------------------


def _scoring(model: LoadedModel, target: Target, inputs: Inputs, counter: list | None = None, total: int = 0,
             progress: Progress | None = None):
    """F as a function of the word embeddings [B, T, E], for Captum: each call holds the model's lock."""

    def forward(embeds: torch.Tensor) -> torch.Tensor:
        with model.lock:
            scores = target_scores(model, target, last_hidden(model, inputs, embeds.shape[0], embeds=embeds))
        if counter is not None:
            counter[0] += embeds.shape[0]
            if progress is not None:
                progress(min(counter[0], total), total)
        return scores

    return forward


def _embeddings(model: LoadedModel, inputs: Inputs) -> torch.Tensor:
    with model.lock, torch.no_grad():  # not inference mode: Captum differentiates through these
        return word_embeddings(model, inputs.ids).requires_grad_()  # [1, T, E]


def _grad_norm(model, analysis, target: Target, inputs: Inputs, progress) -> np.ndarray:
    from captum.attr import Saliency

    gradient = Saliency(_scoring(model, target, inputs)).attribute(_embeddings(model, inputs), abs=False)
    return gradient[0].norm(dim=-1).numpy()  # [T]


def _grad_input(model, analysis, target: Target, inputs: Inputs, progress) -> np.ndarray:
    from captum.attr import InputXGradient

    products = InputXGradient(_scoring(model, target, inputs)).attribute(_embeddings(model, inputs))
    return products[0].sum(dim=-1).detach().numpy()  # [T]


def ig_baseline_ids(model: LoadedModel, analysis: Analysis, target: Target) -> torch.Tensor:
    """[1, T] the input with every token but the special ones and the mask being explained replaced by the pad
    token."""
    pad = model.tokenizer.pad_token_id
    if pad is None:
        raise InputError(f"{model.name}'s tokenizer has no pad token, the baseline of Integrated Gradients.")
    kept = np.asarray(analysis.special_mask).copy()  # [T]
    kept[list(target.kept)] = True
    return torch.tensor(np.where(kept, analysis.input_ids, pad).tolist()).unsqueeze(0)


def _integrated_gradients(model: LoadedModel, analysis: Analysis, target: Target, inputs: Inputs, steps: int,
                          progress: Progress | None) -> tuple[np.ndarray, float]:
    """Captum's Integrated Gradients from the pad baseline: per token, the signed sum over dimensions."""
    from captum.attr import IntegratedGradients

    if not 1 <= int(steps) <= 1024:
        raise InputError("Integrated Gradients takes from 1 to 1024 steps.")
    baseline_ids = ig_baseline_ids(model, analysis, target)
    baseline_score = float(_scores(model, target, inputs, [baseline_ids[0]])[0])
    with model.lock, torch.no_grad():
        baseline = word_embeddings(model, baseline_ids)
    forward = _scoring(model, target, inputs, counter=[0], total=int(steps), progress=progress)
    attributions = IntegratedGradients(forward).attribute(
        _embeddings(model, inputs), baselines=baseline, n_steps=int(steps), internal_batch_size=BATCH_ROWS)
    return attributions[0].sum(dim=-1).detach().numpy(), baseline_score


# ---------------------------------------------------------------------------------------------
# Value zeroing (Mohebbi et al. 2023)
# ---------------------------------------------------------------------------------------------


def _value_zeroing(model: LoadedModel, analysis: Analysis, target: Target, inputs: Inputs, progress) -> np.ndarray:
    """F(input) - F(input with token j's value vectors zeroed in every attention layer), for every token j."""
    # Row 0 zeroes nothing: the reference runs in the same batches as the rows it is compared with.
    scores = value_zeroed_scores(model, analysis, target, [()] + [(j,) for j in range(analysis.num_tokens)], progress)
    return scores[0] - scores[1:]


def value_zeroed_scores(model: LoadedModel, analysis: Analysis, target: Target, zeroed: list[tuple[int, ...]],
                        progress: Progress | None = None) -> np.ndarray:
    """[R] F with, in row r, the value vectors of the tokens ``zeroed[r]`` set to zero in every attention layer."""
    T = analysis.num_tokens
    inputs = inputs_of(analysis)
    scores = np.empty(len(zeroed))
    for rows in batches(len(zeroed), BATCH_ROWS, progress):
        keep = torch.ones(rows.stop - rows.start, T, 1)  # [B, T, 1]
        for row, tokens in enumerate(zeroed[rows]):
            keep[row, list(tokens)] = 0.0
        with model.lock, torch.inference_mode(), intervening(model, Edits(values=lambda layer, v: v * keep)):
            scores[rows] = target_scores(model, target, last_hidden(model, inputs, len(keep))).numpy()
    return scores


# ---------------------------------------------------------------------------------------------
# Exact decomposition (DecompX)
# ---------------------------------------------------------------------------------------------


def _decompx(model: LoadedModel, analysis: Analysis, target: Target, inputs, progress) -> np.ndarray:
    """DecompX (Modarressi et al. 2023): the target's logit taken apart exactly into one part per input token plus
    a bias term (``decompose.decompose_tokens``); the parts are the scores (signed)."""
    return decompose_tokens(model, analysis, target, progress=progress).parts


# ---------------------------------------------------------------------------------------------
# Faithfulness: deletion curves, AOPC, agreement
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Faithfulness(HoldsArrays):
    """How the target's probability falls as each method's most-attributed tokens are removed first."""

    methods: tuple[str, ...]
    """[M] in the order given; ``random`` is not among them (it is the reference)."""
    removed: np.ndarray
    """[K + 1] int64 tokens removed at each step, from 0 to every removable token."""
    curves: np.ndarray
    """[M, K + 1] float32 the target's probability after each step."""
    random_curve: np.ndarray
    """[K + 1] float32 the same, for random orders (mean of ``RANDOM_ORDERS``)."""
    aopc: np.ndarray
    """[M] float32 area over the perturbation curve: mean over steps 1..K of p(input) - p(step)."""
    random_aopc: float
    agreement: np.ndarray
    """[M, M] float32 Spearman correlation of the methods' scores over the removable tokens."""

    @property
    def ranking(self) -> tuple[str, ...]:
        """The methods, the one whose deletion curve falls fastest (highest AOPC) first."""
        return tuple(self.methods[i] for i in np.argsort(-self.aopc, kind="stable"))


def removable(analysis: Analysis, target: Target) -> np.ndarray:
    """[N] positions a deletion may remove: the text's tokens, not the special ones and not the mask explained."""
    keep = np.asarray(analysis.special_mask).copy()
    keep[list(target.kept)] = True
    return np.flatnonzero(~keep)


def faithfulness(model: LoadedModel, analysis: Analysis, attributions: list[Attribution], seed: int = 0,
                 progress: Progress | None = None) -> Faithfulness:
    """Deletion curves of each attribution (ties broken by position), their AOPC, a random reference, and the
    methods' Spearman agreement."""
    if not attributions:
        raise InputError("Choose at least one method.")
    target = attributions[0].target
    candidates = removable(analysis, target)
    if len(candidates) == 0:
        raise InputError("The text has no token to remove besides the mask; write a longer sentence.")
    removed = np.unique(np.rint(np.linspace(0, len(candidates), min(len(candidates), DELETION_POINTS) + 1)))
    removed = removed.astype(np.int64)  # [K + 1]
    generator = np.random.default_rng(seed)
    orders = [candidates[np.argsort(-a.scores[candidates], kind="stable")] for a in attributions]
    orders += [generator.permutation(candidates) for _ in range(RANDOM_ORDERS)]
    curves = _deletion_probabilities(model, analysis, target, orders, removed, progress)  # [M + R, K + 1]
    ours, chance = curves[:len(attributions)], curves[len(attributions):].mean(axis=0)
    aopc = (ours[:, :1] - ours[:, 1:]).mean(axis=1)
    agreement = np.array([[spearman(a.scores[candidates], b.scores[candidates]) for b in attributions]
                          for a in attributions])
    return Faithfulness(methods=tuple(a.method for a in attributions), removed=frozen_array(removed, np.int64),
                        curves=frozen_array(ours), random_curve=frozen_array(chance), aopc=frozen_array(aopc),
                        random_aopc=float((chance[0] - chance[1:]).mean()), agreement=frozen_array(agreement))


def _deletion_probabilities(model: LoadedModel, analysis: Analysis, target: Target, orders: list[np.ndarray],
                            removed: np.ndarray, progress: Progress | None) -> np.ndarray:
    """[len(orders), K + 1] the target's probability with the first ``removed[k]`` tokens of each order hidden."""
    T = analysis.num_tokens
    present = np.ones((len(orders), len(removed), T), dtype=np.int64)  # [O, K + 1, T]
    for o, order in enumerate(orders):
        for k, count in enumerate(removed):
            present[o, k, order[:count]] = 0
    present = torch.tensor(present.reshape(-1, T))  # [O * (K + 1), T]
    inputs = inputs_of(analysis)
    probs = np.empty(len(present))
    for rows in batches(len(present), 2 * BATCH_ROWS, progress):
        mask = present[rows]
        with model.lock, torch.inference_mode():
            hidden = last_hidden(model, inputs, len(mask), attention=mask)
            logits = output_logits(model, target, hidden, mask)
        probs[rows] = logits.softmax(dim=-1)[:, target.output_id].numpy()
    return probs.reshape(len(orders), len(removed))


def describe_gap(attribution: Attribution) -> str:
    """The completeness check of Integrated Gradients, in words."""
    change = attribution.score - attribution.baseline_score
    total = float(attribution.scores.sum(dtype=np.float64))
    share = abs(attribution.completeness_gap) / abs(change) if change else math.inf
    return (f"Sum of the attributions {total:.3f} against F(input) - F(baseline) = {attribution.score:.3f} - "
            f"{attribution.baseline_score:.3f} = {change:.3f}: a gap of {share:.1%}.")
