"""What an attention view shows: tokens hidden, pieces merged into words, one block of a sentence pair.

Names as in ``analysis``: ``T`` tokens; ``W`` words (special tokens count as words of their own), ``K`` tokens kept,
``R`` rows and ``C`` columns shown. Every matrix is query row -> key column. Every array returned is a read-only
numpy copy, float32 unless it is a mask.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from ..analysis import Analysis, frozen_array
from ..tokenization import word_groups, word_span

PIECE_MARKERS = ("##", "Ġ", "▁")
"""Piece markers (WordPiece continuation, BPE and SentencePiece spaces) stripped before the punctuation test."""
PAIR_BLOCKS = ("all", "A->A", "A->B", "B->A", "B->B")
"""Pair filters: which sentence's tokens ask (rows) -> which sentence's tokens answer (columns)."""


@dataclass(frozen=True)
class ViewOptions:
    """What every attention view can be asked for: tokens hidden, pieces merged into words, one pair block."""

    words: bool = False
    hide_special: bool = False
    hide_punctuation: bool = False
    pair: str = "all"

    def describe(self) -> str:
        """In words, for a caption: 'special tokens hidden, words merged, only A->B' ('' when nothing is set)."""
        parts = [("special tokens hidden", self.hide_special), ("punctuation hidden", self.hide_punctuation),
                 ("word pieces merged into words", self.words), (f"only {self.pair}", self.pair != "all")]
        return ", ".join(text for text, chosen in parts if chosen)


# ---------------------------------------------------------------------------------------------
# Punctuation
# ---------------------------------------------------------------------------------------------


def is_punctuation(token: str) -> bool:
    """Is ``token``, its piece marker stripped, made only of punctuation (Unicode category P*)?"""
    token = bare_token(token)
    return bool(token) and all(unicodedata.category(char).startswith("P") for char in token)


def bare_token(token: str) -> str:
    """The token without its piece marker ('##s' -> 's', 'Ġbank' -> 'bank')."""
    for marker in PIECE_MARKERS:
        token = token.removeprefix(marker)
    return token


def punctuation_mask(analysis: Analysis) -> np.ndarray:
    """[T] bool, True for tokens made only of punctuation."""
    return frozen_array([is_punctuation(token) for token in analysis.tokens], bool)


# ---------------------------------------------------------------------------------------------
# Words instead of pieces
# ---------------------------------------------------------------------------------------------


def word_units(analysis: Analysis) -> tuple[np.ndarray, tuple[str, ...]]:
    """([T] int64 word unit of each token, [W] labels): a word's pieces share a unit, each special token has its own.

    Units are ``tokenization.word_groups``, numbered in order of their first token. A word's label is its text cut
    from ``text`` (or ``text_pair`` for the second sentence) through the token offsets; a special token's label is
    its token string.
    """
    groups = word_groups(analysis.word_ids.tolist())
    units = np.empty(analysis.num_tokens, dtype=np.int64)  # [T]
    for unit, pieces in enumerate(groups):
        units[list(pieces)] = unit
    labels = tuple(analysis.tokens[pieces[0]] if analysis.word_ids[pieces[0]] < 0 else _word_text(analysis, pieces)
                   for pieces in groups)
    return frozen_array(units, np.int64), labels


def _word_text(analysis: Analysis, pieces: tuple[int, ...]) -> str:
    text = analysis.text_pair if analysis.segment_ids[pieces[0]] == 1 else analysis.text
    start, end = word_span(analysis.offsets, pieces)
    return text[start:end].strip()


def merge_words(matrix: np.ndarray, analysis: Analysis) -> tuple[np.ndarray, tuple[str, ...]]:
    """[..., T, T] -> ([..., W, W], [W] labels): columns summed over a word's pieces, rows meaned.

    So a merged row sums to the mean of its pieces' row totals: attention rows still sum to 1.
    """
    units, labels = word_units(analysis)  # [T], [W]
    members = np.zeros((len(labels), len(units)))  # [W, T] one-hot
    members[units, np.arange(len(units))] = 1.0
    means = members / members.sum(axis=1, keepdims=True)  # [W, T] each row averages a word's pieces
    merged = means.astype(np.float32) @ np.asarray(matrix, dtype=np.float32) @ members.T.astype(np.float32)  # [..., W, W]
    return frozen_array(merged), labels


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


def keep_mask(analysis: Analysis, hide_special: bool, hide_punctuation: bool) -> np.ndarray:
    """[T] bool, True for the tokens to show."""
    keep = np.ones(analysis.num_tokens, dtype=bool)  # [T]
    if hide_special:
        keep &= ~np.asarray(analysis.special_mask)
    if hide_punctuation:
        keep &= ~punctuation_mask(analysis)
    return frozen_array(keep, bool)


def filtered(matrix: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """[..., T, T] -> [..., K, K] kept tokens only, rows renormalised to sum to 1 (a row with no kept mass stays 0)."""
    keep = np.asarray(keep, dtype=bool)  # [T]
    return frozen_array(_renormalised(matrix, keep)[..., keep, :])  # [..., K, K]


def _renormalised(matrix: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """[..., T, T] -> [..., T, K]: only the kept columns, each row rescaled to sum to 1 over them."""
    if keep.shape != (np.shape(matrix)[-1],):
        raise ValueError(f"keep has {keep.shape[0]} entries for a matrix of {np.shape(matrix)[-1]} tokens.")
    kept = np.asarray(matrix, dtype=np.float32)[..., keep]  # [..., T, K]
    totals = kept.sum(axis=-1, keepdims=True)  # [..., T, 1]
    return np.divide(kept, totals, out=np.zeros_like(kept), where=totals > 0)


@dataclass(frozen=True)
class MatrixView:
    """Attention matrices as a view shows them: some tokens hidden, one pair block, pieces merged into words."""

    matrix: np.ndarray
    """[..., R, C] float32: the leading axes (layers, heads) of the input are kept."""
    row_names: tuple[str, ...]
    column_names: tuple[str, ...]
    row_positions: np.ndarray
    """[R] int64 token positions (or word-unit numbers when merged)."""
    column_positions: np.ndarray
    """[C] int64."""


def view_matrix(analysis: Analysis, matrix: np.ndarray, options: ViewOptions = ViewOptions()) -> MatrixView:
    """[..., T, T] -> what the options ask for, as [..., R, C]. Hidden tokens' weight is shared out again: each
    row sums to 1 over the tokens still shown. A pair block keeps its rows' weights as they are (the share that
    goes to that block). Computed in float32: a 12 x 12 stack at 512 tokens is 150 MB as it is."""
    keep = np.asarray(keep_mask(analysis, options.hide_special, options.hide_punctuation))  # [T]
    rows, columns = (np.asarray(mask) & keep for mask in pair_block(analysis, options.pair))  # [T] each
    names, positions = tuple(analysis.tokens), np.arange(analysis.num_tokens)
    scattered = np.asarray(matrix, dtype=np.float32)  # [..., T, T]
    if not keep.all():
        scattered = np.zeros(np.shape(matrix), dtype=np.float32)  # [..., T, T] hidden columns stay 0
        scattered[..., keep] = _renormalised(matrix, keep)
    if options.words:
        units, names = word_units(analysis)  # [T], [W]
        scattered, _ = merge_words(scattered, analysis)  # [..., W, W]
        rows, columns = (np.bincount(units, weights=mask, minlength=len(names)) > 0 for mask in (rows, columns))
        positions = np.arange(len(names))
    return _chosen(scattered, names, positions, rows, columns)


def raw_view(attentions, tokens, sentence_b_start: int | None = None, pair: str = "all") -> MatrixView:
    """What a view shows of bare attention weights [..., T, T] and their ``tokens`` (no ``Analysis``: bertviz's
    input): all of it, or one pair block, sentence B starting at token ``sentence_b_start`` as bertviz counts it (so
    [CLS] and the first [SEP] belong to A, as ``segment_ids`` has them)."""
    matrix = np.asarray(attentions, dtype=np.float32)  # [..., T, T]
    if matrix.ndim < 2 or matrix.shape[-2:] != (len(tokens), len(tokens)):
        raise ValueError(f"Attention has {matrix.shape[-1] if matrix.ndim else 0} positions, while number of tokens "
                         f"is {len(tokens)}: they must match.")
    if sentence_b_start is None and pair != "all":
        raise ValueError(f"The pair filter {pair} needs sentence_b_start, the token where sentence B starts.")
    if sentence_b_start is not None and not 0 < sentence_b_start < len(tokens):
        raise ValueError(f"sentence_b_start must be a token index from 1 to {len(tokens) - 1}, got {sentence_b_start}.")
    segments = (np.arange(len(tokens)) >= (sentence_b_start or len(tokens))).astype(np.int64)  # [T] 0 = A, 1 = B
    rows, columns = block_masks(segments, pair)
    return _chosen(matrix, tuple(tokens), np.arange(len(tokens)), rows, columns)


def _chosen(matrix: np.ndarray, names, positions: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> MatrixView:
    """The [..., R, C] view of [..., N, N] ``matrix`` keeping the ``rows`` and ``columns`` [N] bool marked."""
    chosen = matrix if rows.all() and columns.all() else matrix[..., rows, :][..., columns]  # [..., R, C]
    return MatrixView(matrix=_read_only(chosen), row_names=tuple(np.array(names, dtype=object)[rows]),
                      column_names=tuple(np.array(names, dtype=object)[columns]),
                      row_positions=frozen_array(positions[rows], np.int64),
                      column_positions=frozen_array(positions[columns], np.int64))


def _read_only(array: np.ndarray) -> np.ndarray:
    """The array itself when it is already read-only float32 (no options: the analysis's own 150 MB stack), else a
    frozen copy."""
    return array if array.dtype == np.float32 and not array.flags.writeable else frozen_array(array)


def unit_kinds(analysis: Analysis, words: bool) -> dict[str, np.ndarray]:
    """[N] bool masks over tokens (N = T) or word units (N = W): 'first' ([CLS], <s>), 'separator' (the other
    special tokens) and 'punctuation' (non-special tokens, or words, made only of punctuation)."""
    special = np.asarray(analysis.special_mask)  # [T]
    kinds = {"first": np.arange(analysis.num_tokens) == 0, "separator": special & (np.arange(analysis.num_tokens) > 0),
             "punctuation": np.asarray(punctuation_mask(analysis)) & ~special}
    if not words:
        return kinds
    units, labels = word_units(analysis)  # [T], [W]
    pieces = np.bincount(units, minlength=len(labels))  # [W]
    return {kind: np.bincount(units, weights=mask, minlength=len(labels)) == pieces for kind, mask in kinds.items()}


def pair_block(analysis: Analysis, which: str) -> tuple[np.ndarray, np.ndarray]:
    """([T] rows, [T] columns) bool for a pair filter such as "A->B": sentence A's tokens attending to sentence B's.

    Special tokens belong to the sentence ``segment_ids`` gives them ([CLS] and the first [SEP] to A).
    """
    if which != "all" and which in PAIR_BLOCKS and analysis.text_pair is None:
        raise ValueError(f"The pair filter {which} needs a second sentence; this analysis has only one.")
    return block_masks(analysis.segment_ids, which)


def block_masks(segment_ids: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    """([T] rows, [T] columns) bool of a pair filter over tokens whose sentence is ``segment_ids`` [T] (0 = A,
    1 = B)."""
    if which not in PAIR_BLOCKS:
        raise ValueError(f"Pair filter must be one of {', '.join(PAIR_BLOCKS)}, got {which!r}.")
    segments = np.asarray(segment_ids)  # [T]
    if which == "all":
        everything = np.ones(len(segments), dtype=bool)  # [T]
        return frozen_array(everything, bool), frozen_array(everything, bool)
    source, target = ("AB".index(side) for side in which.split("->"))
    return frozen_array(segments == source, bool), frozen_array(segments == target, bool)
