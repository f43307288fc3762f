"""Change the model and watch the prediction: heads ablated (several at once, or every one in turn) and hidden
states copied from a clean run into a corrupted one (activation patching).

Every edit is a hook on the shared model (``hooks.intervening``), set under its lock for one batch and removed
after it: no second copy of the model, and other visitors' pages run between batches. Layers and heads are 0-based
here, 1-based in the app and on the command line. Names as in ``analysis``: ``L`` layers, ``H`` heads, ``T``
tokens, ``D`` hidden size, ``B`` rows of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis import Analysis, HoldsArrays, InputError, MaskPrediction, frozen_array, mask_predictions
from ..loading import LoadedModel
from .hooks import Edit, Edits, intervening
from .target import BATCH_ROWS, Progress, Target, batches, inputs_of, last_hidden, output_logits, target_scores

PATCH_MAX_TOKENS = 64
"""Patching runs (L + 1) x T copies of the input: 31 s at 64 tokens on a BERT-base-sized model (bench/explain.py),
growing with T^2 and more."""

Head = tuple[int, int]
"""(layer, head), 0-based."""


def parse_heads(model: LoadedModel, text: str) -> tuple[Head, ...]:
    """'L:H,L:H' with 1-based layers and heads (as the app shows them) -> 0-based pairs, checked, in order given."""
    heads = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        layer, _, head = part.partition(":")
        if not (layer.isdigit() and head.isdigit()):
            raise InputError(f"Heads are written layer:head, like 3:7; “{part}” is not.")
        heads.append((int(layer) - 1, int(head) - 1))
    if not heads:
        raise InputError("Name at least one head to ablate, as layer:head (like 3:7).")
    check_heads(model, heads)
    return tuple(dict.fromkeys(heads))


def check_heads(model: LoadedModel, heads) -> None:
    for layer, head in heads:
        if not (0 <= layer < model.num_layers and 0 <= head < model.num_heads):
            raise InputError(f"{model.name} has layers 1 to {model.num_layers} and heads 1 to {model.num_heads}; "
                             f"there is no head {layer + 1}:{head + 1}.")


def _keep_heads(keep: torch.Tensor) -> Edit:
    """Multiply each head's context vector by ``keep`` [B, L, H] (0 ablates it) before the output projection."""

    def edit(layer: int, context: torch.Tensor) -> torch.Tensor:  # [B, T, H * d]
        B, T, width = context.shape
        H = keep.shape[-1]
        return (context.view(B, T, H, width // H) * keep[:, layer, None, :, None]).view(B, T, width)

    return edit


def _keep_all_but(model: LoadedModel, ablated: list[tuple[Head, ...]]) -> torch.Tensor:
    """[B, L, H] ones, with zeros at each row's ablated heads."""
    keep = torch.ones(len(ablated), model.num_layers, model.num_heads)
    for row, heads in enumerate(ablated):
        for layer, head in heads:
            keep[row, layer, head] = 0.0
    return keep


@dataclass(frozen=True, eq=False)
class Ablation:
    """The masked-LM head's guesses with some heads' context vectors zeroed."""

    heads: tuple[Head, ...]
    masks: tuple[MaskPrediction, ...]
    """One per mask token, as ``Analysis.masks`` holds the unablated ones."""

    @property
    def nbytes(self) -> int:
        return sum(m.token_ids.nbytes + m.logits.nbytes + m.probs.nbytes for m in self.masks)


def ablate(model: LoadedModel, analysis: Analysis, heads, top_k: int = 10) -> Ablation:
    """Zero ``heads`` (0-based (layer, head) pairs; none = the plain run) and guess every mask again."""
    if not model.has_mlm_head:
        raise InputError(f"{model.name} has no trained masked-LM head, so there are no guesses to compare.")
    if top_k < 1:
        raise InputError("Show at least one guess (top-k of 1 or more).")
    heads = tuple((int(layer), int(head)) for layer, head in heads)
    check_heads(model, heads)
    inputs = inputs_of(analysis)
    with model.lock, torch.inference_mode(), intervening(model, Edits(contexts=_keep_heads(
            _keep_all_but(model, [heads])))):
        hidden = last_hidden(model, inputs, 1)[0]  # [T, D]
        masks = mask_predictions(model, inputs.ids[0], hidden, top_k)
    return Ablation(heads=heads, masks=masks)


@dataclass(frozen=True, eq=False)
class HeadSweep(HoldsArrays):
    """Every head ablated on its own: how the target's log-probability moves."""

    target: Target
    log_prob: float
    """log p(target) with every head in place."""
    change: np.ndarray
    """[L, H] float32 log p(target) with that head ablated, minus ``log_prob`` (negative: the head was helping)."""


def head_sweep(model: LoadedModel, analysis: Analysis, target: Target, progress: Progress | None = None) -> HeadSweep:
    """Ablate each of the L x H heads in turn, ``BATCH_ROWS`` ablations per forward pass."""
    L, H = model.num_layers, model.num_heads
    plans = [()] + [((layer, head),) for layer in range(L) for head in range(H)]  # row 0: nothing ablated
    log_probs = np.empty(len(plans))
    inputs = inputs_of(analysis)
    for rows in batches(len(plans), BATCH_ROWS, progress):
        keep = _keep_all_but(model, plans[rows])
        with model.lock, torch.inference_mode(), intervening(model, Edits(contexts=_keep_heads(keep))):
            logits = output_logits(model, target, last_hidden(model, inputs, len(keep)))
        log_probs[rows] = logits.log_softmax(dim=-1)[:, target.output_id].numpy()
    return HeadSweep(target=target, log_prob=float(log_probs[0]),
                     change=frozen_array((log_probs[1:] - log_probs[0]).reshape(L, H)))


@dataclass(frozen=True, eq=False)
class Patching(HoldsArrays):
    """The corrupted run with one hidden state at a time copied from the clean run."""

    target: Target
    clean_tokens: tuple[str, ...]
    corrupt_tokens: tuple[str, ...]
    clean_score: float
    """m_clean: the target's logit on the clean sentence."""
    corrupt_score: float
    patched: np.ndarray
    """[L + 1, T] float32 the target's logit with hidden state (layer, token) patched; layer 0 = embedding output."""

    @property
    def restored(self) -> np.ndarray:
        """[L + 1, T] (m_patched - m_corrupt) / (m_clean - m_corrupt): 1 = the clean logit fully restored."""
        return (self.patched - self.corrupt_score) / (self.clean_score - self.corrupt_score)


def patch_activations(model: LoadedModel, clean: Analysis, corrupt: Analysis, target: Target,
                      progress: Progress | None = None) -> Patching:
    """For each hidden state (layer 0..L, token), run ``corrupt`` with that state copied from ``clean``."""
    _check_patchable(model, clean, corrupt, target)
    L, T = model.num_layers, clean.num_tokens
    with model.lock, torch.inference_mode():
        clean_score = float(target_scores(model, target, last_hidden(model, inputs_of(clean), 1))[0])
    corrupt_score = float(patched_scores(model, clean, corrupt, target, [()])[0])
    if abs(clean_score - corrupt_score) < 1e-4:
        raise InputError(f"Both sentences give “{target.name}” the same logit ({clean_score:.3f}), so there is "
                         "nothing to restore; change the corrupted sentence more.")
    plans = [((layer, token),) for layer in range(L + 1) for token in range(T)]
    patched = patched_scores(model, clean, corrupt, target, plans, progress)
    return Patching(target=target, clean_tokens=clean.tokens, corrupt_tokens=corrupt.tokens, clean_score=clean_score,
                    corrupt_score=corrupt_score, patched=frozen_array(patched.reshape(L + 1, T)))


def patched_scores(model: LoadedModel, clean: Analysis, corrupt: Analysis, target: Target,
                   plans: list[tuple[Head, ...]], progress: Progress | None = None) -> np.ndarray:
    """[R] F of ``corrupt`` with, in row r, the hidden states at the (layer, token) places ``plans[r]`` copied from
    ``clean`` (layer 0 = the embedding output, L = the last layer's output)."""
    _check_patchable(model, clean, corrupt, target)
    L, T = model.num_layers, clean.num_tokens
    inputs = inputs_of(corrupt)
    clean_states = torch.tensor(np.asarray(clean.hidden_states))  # [L + 1, T, D]
    scores = np.empty(len(plans))
    for rows in batches(len(plans), BATCH_ROWS, progress):
        where = torch.zeros(rows.stop - rows.start, L + 1, T, dtype=torch.bool)  # [B, L + 1, T]
        for row, places in enumerate(plans[rows]):
            for layer, token in places:
                where[row, layer, token] = True
        edits = Edits(layer_inputs=_patch(clean_states, where, 0), layer_outputs=_patch(clean_states, where, 1))
        with model.lock, torch.inference_mode(), intervening(model, edits):
            scores[rows] = target_scores(model, target, last_hidden(model, inputs, len(where))).numpy()
    return scores


def _patch(clean_states: torch.Tensor, where: torch.Tensor, offset: int) -> Edit:
    """Copy clean hidden states into the places ``where`` [B, L + 1, T] marks for ``Analysis.hidden_states[layer +
    offset]``: as the input of the first layer (offset 0) for the embedding output, as the output of a layer
    (offset 1) for every other."""

    def edit(layer: int, hidden: torch.Tensor) -> torch.Tensor:  # [B, T, D]
        state = layer + offset
        if offset == 0 and layer > 0:  # patched already, as the output of the layer before
            return hidden
        chosen = where[:, state]  # [B, T]
        hidden[chosen] = clean_states[state].expand_as(hidden)[chosen]
        return hidden

    return edit


def _check_patchable(model: LoadedModel, clean: Analysis, corrupt: Analysis, target: Target) -> None:
    if clean.num_tokens > PATCH_MAX_TOKENS:
        raise InputError(f"Activation patching runs one copy of the sentence per layer and token, so it takes "
                         f"sentences of up to {PATCH_MAX_TOKENS} tokens; this one has {clean.num_tokens}.")
    if clean.num_tokens != corrupt.num_tokens:
        raise InputError(f"Patching copies states token by token, so the sentences need the same number of tokens: "
                         f"the clean one has {clean.num_tokens}, the corrupted one {corrupt.num_tokens}.")
    if target.head is None and corrupt.input_ids[target.mask_index] != model.tokenizer.mask_token_id:
        raise InputError(f"The corrupted sentence needs its mask where the clean one has it (token "
                         f"{target.mask_index}); it has “{corrupt.tokens[target.mask_index]}” there.")
