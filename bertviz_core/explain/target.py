"""What an explanation or an intervention is about: one output of the model, scored as a number F, and the forward
pass that scores it for a batch of edited inputs.

A target is either a vocabulary entry at one ``[MASK]`` (F = the masked-LM logit of that entry there) or a class of
a classification head trained on frozen sentence vectors (F = that class's logit). Names as in ``analysis``: ``B``
rows of a batch, ``T`` tokens, ``D`` hidden size, ``E`` embedding size, ``V`` vocabulary size, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ..analysis import Analysis, InputError
from ..loading import LoadedModel
from ..classifier import TrainedHead

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of a long computation."""
BATCH_ROWS = 16
"""Edited copies of the input run per forward pass (and per hold of the model's lock)."""


@dataclass(frozen=True)
class Target:
    """One output of the model for one analysed input."""

    output_id: int
    """Vocabulary id at the mask, or class index of ``head``."""
    name: str
    """The vocabulary entry as the tokenizer spells it, or the class label."""
    rows: tuple[int, ...]
    """Token positions whose last hidden states F reads: the mask; [CLS]; or every non-special token (mean)."""
    head: TrainedHead | None = None
    """None: the masked-LM head at ``rows[0]``."""

    @property
    def mask_index(self) -> int:
        return self.rows[0]

    @property
    def kept(self) -> tuple[int, ...]:
        """Positions a deletion never removes: the mask being explained (a class reads every token)."""
        return () if self.head is not None else self.rows

    @property
    def key(self) -> tuple:
        """What results about this target depend on (a trained head by identity: each training makes a new one)."""
        return self.output_id, self.rows, None if self.head is None else id(self.head)


def mask_positions(model: LoadedModel, analysis: Analysis) -> tuple[int, ...]:
    """Positions of the model's mask token in the analysed input."""
    return tuple(int(i) for i in np.flatnonzero(analysis.input_ids == model.tokenizer.mask_token_id))


def mask_target(model: LoadedModel, analysis: Analysis, mask: int | None = None, word: str | None = None) -> Target:
    """The masked-LM target: ``word`` (default: the top guess) at the mask at token ``mask`` (default: the first)."""
    if not model.has_mlm_head or model.tokenizer.mask_token_id is None:
        raise InputError(f"{model.name} has no trained masked-LM head, so there is no masked word to explain.")
    masks = mask_positions(model, analysis)
    if not masks:
        raise InputError("No mask in the text: write [MASK] where the word to explain should be.")
    mask = masks[0] if mask is None else int(mask)
    if mask not in masks:
        raise InputError(f"Token {mask} is not a mask; the masks are at token {', '.join(map(str, masks))}.")
    if word is None or not word.strip():
        guess = next(m for m in analysis.masks if m.position == mask)
        output_id = int(guess.token_ids[0])
    else:
        output_id = vocabulary_id(model, word)
    name = model.tokenizer.convert_ids_to_tokens(output_id)
    return Target(output_id=output_id, name=name, rows=(mask,))


def vocabulary_id(model: LoadedModel, word: str) -> int:
    """The single vocabulary entry for a typed word: its form after a space first (RoBERTa's 'Ġword'; WordPiece
    drops the space), else the entry spelled exactly as typed ('##ing'). A word of several entries is an error."""
    word = word.strip()
    pieces = model.tokenizer.tokenize(" " + word)
    if len(pieces) == 1 and pieces[0] != model.tokenizer.unk_token:
        return int(model.tokenizer.convert_tokens_to_ids(pieces[0]))
    exact = model.tokenizer.get_vocab().get(word)
    if exact is not None:
        return int(exact)
    spelled = " ".join(pieces) or "nothing"
    raise InputError(f"“{word}” is not one entry of {model.name}'s vocabulary (it becomes {spelled}); choose a "
                     "word the model can predict as a single token.")


def class_target(analysis: Analysis, head: TrainedHead, label: str) -> Target:
    """A class of a trained classification head, read from the sentence vector it was trained on."""
    if label not in head.labels:
        raise InputError(f"The classifier has no class “{label}”; its classes are {', '.join(head.labels)}.")
    if head.weight.shape[1] != analysis.hidden_states.shape[-1]:
        raise InputError("The classifier was trained on another model's vectors; train it again on this model.")
    words = tuple(int(i) for i in np.flatnonzero(~analysis.special_mask))
    rows = (0,) if head.pooling == "cls" or not words else words
    return Target(output_id=head.labels.index(label), name=label, rows=rows, head=head)


# ---------------------------------------------------------------------------------------------
# The forward pass that scores a batch
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """One analysed input as tensors [1, T], with everything the encoder is given passed explicitly."""

    ids: torch.Tensor
    segments: torch.Tensor
    positions: torch.Tensor


def inputs_of(analysis: Analysis) -> Inputs:
    as_row = lambda values: torch.tensor(np.asarray(values).tolist()).unsqueeze(0)  # noqa: E731 read-only arrays
    return Inputs(ids=as_row(analysis.input_ids), segments=as_row(analysis.segment_ids),
                  positions=as_row(analysis.position_ids))


def word_embeddings(model: LoadedModel, ids: torch.Tensor) -> torch.Tensor:
    """[B, T] ids -> [B, T, E] the word-embedding layer's output, before positions and segments are added."""
    return model.encoder.embeddings.word_embeddings(ids).float()


def last_hidden(model: LoadedModel, inputs: Inputs, rows: int, *, ids: torch.Tensor | None = None,
                embeds: torch.Tensor | None = None, attention: torch.Tensor | None = None) -> torch.Tensor:
    """The encoder's last hidden states [B, T, D] for ``rows`` copies of ``inputs`` with their ids ([B, T]) or word
    embeddings ([B, T, E]) replaced, and ``attention`` [B, T] (default all ones). Positions are passed explicitly,
    so a padded copy keeps the input's positions (RoBERTa would derive them from the ids)."""
    arguments = {"position_ids": inputs.positions.expand(rows, -1),
                 "attention_mask": torch.ones(rows, inputs.ids.shape[1], dtype=torch.long) if attention is None
                 else attention}
    if embeds is not None:
        arguments["inputs_embeds"] = embeds
    else:
        arguments["input_ids"] = inputs.ids.expand(rows, -1) if ids is None else ids
    if "token_type_ids" in model.tokenizer.model_input_names:
        arguments["token_type_ids"] = inputs.segments.expand(rows, -1)
    return model.encoder(**arguments).last_hidden_state


def output_logits(model: LoadedModel, target: Target, hidden: torch.Tensor,
                  present: torch.Tensor | None = None) -> torch.Tensor:
    """Last hidden states [B, T, D] -> the logits [B, V] at the mask, or [B, C] of the classifier. ``present``
    [B, T] marks the tokens still in each row, so a mean-pooled sentence vector averages only those."""
    if target.head is None:
        return model.mlm_logits(hidden[:, target.mask_index]).float()
    rows = list(target.rows)
    weights = torch.ones(hidden.shape[0], len(rows)) if present is None else present[:, rows].float()  # [B, R]
    pooled = (hidden[:, rows] * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp(min=1.0)  # [B, D]
    head = target.head
    return pooled @ torch.tensor(head.weight).T + torch.tensor(head.bias)


def target_scores(model: LoadedModel, target: Target, hidden: torch.Tensor,
                  present: torch.Tensor | None = None) -> torch.Tensor:
    """[B] F for each row: the target's logit."""
    return output_logits(model, target, hidden, present)[:, target.output_id]


def batches(total: int, size: int, progress: Progress | None = None) -> Iterator[slice]:
    """Slices of ``range(total)`` of at most ``size``; ``progress`` hears after each. Callers take the model's lock
    per batch, so other visitors' pages run between batches of a long computation."""
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))
        if progress is not None:
            progress(min(start + size, total), total)
