"""Positions and the input vector: the sinusoidal formula, the model's learned table, and token + position + segment.

``P`` position rows, ``E`` embedding width, ``T`` tokens, ``D`` hidden size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .analysis import Analysis, frozen_array
from .loading import LoadedModel
from .tokenization import word_groups, word_span


def sinusoidal(length: int, width: int) -> np.ndarray:
    """[length, width] float32: PE(pos, 2i) = sin(pos / 10000^(2i/width)), PE(pos, 2i+1) = cos(same angle)."""
    if length < 1 or width < 1:
        raise ValueError("length and width must be at least 1")
    positions = np.arange(length, dtype=np.float64)[:, None]  # [length, 1]
    pair_index = np.arange(0, width, 2, dtype=np.float64)  # [ceil(width/2)] the "2i" of each sin/cos pair
    angles = positions / np.power(10000.0, pair_index / width)  # [length, ceil(width/2)]
    table = np.empty((length, width))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : width // 2])
    return frozen_array(table)


SINUSOIDAL_TOLERANCE = 1e-4
"""A position table within this of the formula, everywhere, is the formula (float32 rounding of sin and cos)."""


def is_sinusoidal(table: np.ndarray) -> bool:
    """Is the [P, E] position table the sinusoidal formula (within float32 rounding), rather than learned?"""
    return bool(np.abs(table - sinusoidal(*table.shape)).max() <= SINUSOIDAL_TOLERANCE)


@dataclass(frozen=True)
class PositionTable:
    """The model's own position table, read from its weights."""

    table: np.ndarray
    """[P_used, E] float32: the rows of the model's position table that inputs can use, in position order."""
    first_row: int
    """Row of the full table that holds position 0 (RoBERTa-style models start after their padding index)."""
    total_rows: int
    kind: str
    """'sinusoidal' when the rows are the fixed formula (a DistilBERT checkpoint may be built that way), otherwise
    'learned': trained like the word embeddings."""


def model_positions(model: LoadedModel, analysis: Analysis) -> PositionTable:
    """The usable part of the model's position table, where it starts, and whether it is learned or the formula."""
    first = model.layout.position_offset(model.config)
    table = analysis.position_table[first:first + model.max_tokens]  # [P_used, E]
    kind = "sinusoidal" if is_sinusoidal(table) else "learned"
    return PositionTable(table=table, first_row=first, total_rows=len(analysis.position_table), kind=kind)


@dataclass(frozen=True)
class InputVectors:
    """How one token's first-layer input is built, for every token."""

    summed: np.ndarray
    """[T, E] token + position + segment embedding."""
    normalized: np.ndarray
    """[T, E] after the embedding LayerNorm."""
    layer_input: np.ndarray
    """[T, D] what enters layer 1 (equals ``analysis.hidden_states[0]``; ALBERT and ELECTRA project E -> D)."""


def input_vectors(model: LoadedModel, analysis: Analysis) -> InputVectors:
    """Rebuild the first layer's input from the three parts with the model's own LayerNorm weights."""
    norm = model.encoder.embeddings.LayerNorm
    summed = analysis.token_embeddings + analysis.position_embeddings + analysis.segment_embeddings  # [T, E]
    mean = summed.mean(axis=1, keepdims=True)  # [T, 1]
    variance = summed.var(axis=1, keepdims=True)  # [T, 1]
    gamma, beta = (p.detach().numpy() for p in (norm.weight, norm.bias))  # [E] each
    normalized = (summed - mean) / np.sqrt(variance + norm.eps) * gamma + beta  # [T, E]
    return InputVectors(summed=frozen_array(summed), normalized=frozen_array(normalized),
                        layer_input=analysis.hidden_states[0])


def reorder_words(text: str, order: str = "reverse", seed: int = 0) -> str:
    """The same words in another order ('She loves cats.' -> 'cats loves She.'); final punctuation stays put."""
    match = re.fullmatch(r"(.*?)([.!?]*)\s*", text.strip(), flags=re.S)
    words, ending = match.group(1).split(), match.group(2)
    if order == "reverse":
        words = words[::-1]
    elif order == "shuffle":
        words = [words[i] for i in np.random.default_rng(seed).permutation(len(words))]
    else:
        raise ValueError("order must be 'reverse' or 'shuffle'")
    return " ".join(words) + ending


@dataclass(frozen=True)
class OrderComparison:
    """Each token of sentence A matched with the same token in sentence B (the same words, reordered)."""

    tokens: tuple[str, ...]
    index_a: np.ndarray
    """[N] int64 token positions in A."""
    index_b: np.ndarray
    """[N] int64 positions of the same tokens in B."""
    token_change: np.ndarray
    """[N] float32 ||token embedding in B - in A||: zero for WordPiece, where a word's vector does not depend on where
    it stands; byte-level BPE spells a word differently at the start of the text, so there it can change."""
    position_change: np.ndarray
    """[N] float32 ||position embedding in B - in A||: the position vector moved with the word."""
    input_change: np.ndarray
    """[N] float32 ||layer-1 input in B - in A||: so the model sees different inputs."""


def compare_orders(a: Analysis, b: Analysis) -> OrderComparison:
    """Match each word of A with the same word in B (by its text, in order of appearance; pieces in order within a
    word; special tokens in order), and measure what changed between the two sentences.

    Words are matched by text, not token id: byte-level BPE spells a word with its leading space ('ĠShe') unless it
    starts the text ('She'), so the same word can be two different vocabulary entries.
    """
    unused: dict[tuple, list[list[int]]] = {}
    for key, pieces in _word_pieces(b):
        unused.setdefault(key, []).append(pieces)
    pairs = [pair for key, pieces in _word_pieces(a) if unused.get(key) for pair in zip(pieces, unused[key].pop(0))]
    index_a = np.array([i for i, _ in pairs], dtype=np.int64)
    index_b = np.array([j for _, j in pairs], dtype=np.int64)

    def change(values_a: np.ndarray, values_b: np.ndarray) -> np.ndarray:
        return frozen_array(np.linalg.norm(values_b[index_b] - values_a[index_a], axis=1))

    return OrderComparison(
        tokens=tuple(a.tokens[i] for i in index_a), index_a=frozen_array(index_a, np.int64),
        index_b=frozen_array(index_b, np.int64),
        token_change=change(a.token_embeddings, b.token_embeddings),
        position_change=change(a.position_embeddings, b.position_embeddings),
        input_change=change(a.hidden_states[0], b.hidden_states[0]),
    )


def _word_pieces(analysis: Analysis) -> list[tuple[tuple, tuple[int, ...]]]:
    """(key, token positions) per word (``tokenization.word_groups``), keyed by segment and the word's characters;
    each special token alone."""
    return [(_word_key(analysis, pieces), pieces) for pieces in word_groups(analysis.word_ids.tolist())]


def _word_key(analysis: Analysis, pieces: tuple[int, ...]) -> tuple:
    if analysis.word_ids[pieces[0]] < 0:
        return "special", analysis.tokens[pieces[0]]
    segment = int(analysis.segment_ids[pieces[0]])
    text = analysis.text if segment == 0 else analysis.text_pair
    return "word", segment, text[slice(*word_span(analysis.offsets, pieces))]
