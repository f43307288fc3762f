"""Reading attention maps: rollout, value-norm maps, head statistics, word merging, filters and comparisons.

Names as in ``analysis``: ``L`` layers, ``H`` heads, ``T`` tokens, ``D`` hidden size, ``d`` head size; ``W`` words
(special tokens count as words of their own), ``K`` tokens kept or aligned. Every matrix is query row -> key
column. Every array returned is a read-only numpy copy, float32 unless it is a mask.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import Analysis, frozen_array
from .loading import LoadedModel
from .qkv import _check_index, head_vectors, value_norms

ROLE_SHARE = 0.5
"""A head plays a positional or sink role when at least this share of its attention (mean over queries) goes there."""
BROAD_ENTROPY = 0.8
"""A head is broad when its mean row entropy is at least this fraction of log(T), the entropy of uniform attention."""
ROLES = ("previous-token head", "next-token head", "[CLS] sink", "[SEP] sink", "punctuation sink", "self",
         "broad", "mixed")
"""Every label ``head_roles`` gives, in the order the rules are tried: the first that holds wins."""
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


# ---------------------------------------------------------------------------------------------
# Head statistics and roles (Clark et al. 2019, "What does BERT look at?")
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HeadStatistics:
    """Where each head sends its attention in this analysis, as a view shows it (``ViewOptions``): every array is
    [L, H], a mean over the view's R query rows, on its C key columns."""

    num_keys: int
    """C, the columns each row spreads its attention over (uniform attention has entropy log C)."""
    entropy: np.ndarray
    """Row entropy in nats (0 log 0 = 0), mean over the rows."""
    to_cls: np.ndarray
    """Share of each row on the first token ([CLS], <s>), mean over the rows."""
    to_sep: np.ndarray
    """Share on special tokens other than the first ([SEP], </s>), mean over the rows."""
    to_punctuation: np.ndarray
    """Share on non-special tokens (or words) made only of punctuation, mean over the rows."""
    to_previous: np.ndarray
    """A[i, i - 1], mean over the rows whose previous token (or word) is a column; 0 when none is."""
    to_next: np.ndarray
    """A[i, i + 1], likewise."""
    to_self: np.ndarray
    """A[i, i], mean over the rows that are also columns."""


def head_statistics(analysis: Analysis, options: ViewOptions = ViewOptions()) -> HeadStatistics:
    """Entropy and the share of attention on [CLS], [SEP], punctuation, the previous, next and same token, per head.

    With options, on what the view shows: hidden tokens' share is given back to the rest, words replace pieces,
    a pair block keeps only its rows and columns."""
    view = view_matrix(analysis, analysis.attentions, options)
    attentions = view.matrix  # [L, H, R, C]
    kinds = {kind: mask[view.column_positions] for kind, mask in unit_kinds(analysis, options.words).items()}  # [C]
    offsets = view.column_positions[None, :] - view.row_positions[:, None]  # [R, C] key minus query position
    return HeadStatistics(
        num_keys=attentions.shape[-1],
        entropy=frozen_array(_row_mean(_entropy(attentions))),  # [L, H]
        to_cls=frozen_array(_row_mean(attentions @ kinds["first"].astype(np.float32))),  # [L, H]
        to_sep=frozen_array(_row_mean(attentions @ kinds["separator"].astype(np.float32))),  # [L, H]
        to_punctuation=frozen_array(_row_mean(attentions @ kinds["punctuation"].astype(np.float32))),  # [L, H]
        to_previous=frozen_array(_offset_share(attentions, offsets == -1)),  # [L, H]
        to_next=frozen_array(_offset_share(attentions, offsets == 1)),  # [L, H]
        to_self=frozen_array(_offset_share(attentions, offsets == 0)),  # [L, H]
    )


def head_roles(stats: HeadStatistics) -> tuple[tuple[str, ...], ...]:
    """[L][H] the role each head plays in this analysis: the first rule of ``ROLES`` that holds."""
    broad = BROAD_ENTROPY * math.log(max(stats.num_keys, 1))
    shares = (stats.to_previous, stats.to_next, stats.to_cls, stats.to_sep, stats.to_punctuation, stats.to_self)
    L, H = stats.entropy.shape

    def role(layer: int, head: int) -> str:
        for name, share in zip(ROLES, shares):
            if share[layer, head] >= ROLE_SHARE:
                return name
        return "broad" if stats.entropy[layer, head] >= broad else "mixed"

    return tuple(tuple(role(layer, head) for head in range(H)) for layer in range(L))


def _entropy(attentions: np.ndarray) -> np.ndarray:
    """[..., T, T] -> [..., T] entropy of each row in nats."""
    logs = np.log(attentions, out=np.zeros_like(attentions), where=attentions > 0)  # [..., T, T]
    return -np.einsum("...ij,...ij->...i", attentions, logs)  # [..., T]


def _row_mean(values: np.ndarray) -> np.ndarray:
    """[L, H, R] -> [L, H] mean over rows; zeros when the view has no rows."""
    return values.mean(axis=-1) if values.shape[-1] else np.zeros(values.shape[:-1])


def _offset_share(attentions: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """[L, H, R, C] -> [L, H] each row's weight on its paired column ([R, C] bool, at most one per row), mean over
    the rows that have one; 0 if none do."""
    having = pairs.any(axis=-1)  # [R]
    picked = np.einsum("lhij,ij->lhi", attentions, pairs.astype(np.float32))  # [L, H, R]
    return _row_mean(picked[..., having])


@dataclass(frozen=True)
class ContentHead:
    """A head in which one query token's strongest key is a content word."""

    layer: int
    head: int
    key: int
    """The content token the query attends to most in this head."""
    weight: float


def is_content(analysis: Analysis, index: int) -> bool:
    """Is token ``index`` part of a content word: not special ([CLS], [SEP]), not punctuation, and not one of
    English's function words ('the', 'of', 'was'; scikit-learn's stop-word list)?"""
    token = _bare(analysis.tokens[index]).lower()
    return not analysis.special_mask[index] and not is_punctuation(token) and token not in _stop_words()


@functools.cache
def _stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, read from its source rather than imported: importing scikit-learn pulls
    in some 500 SciPy modules, 70 MB of a server's memory, for a list of 318 words."""
    source = Path(importlib.util.find_spec("sklearn").origin).parent / "feature_extraction" / "_stop_words.py"
    assignment = ast.parse(source.read_text(encoding="utf-8")).body[0]
    return frozenset(ast.literal_eval(assignment.value.args[0]))


def content_heads(analysis: Analysis, query: int, count: int = 3) -> tuple[ContentHead, ...]:
    """The ``count`` heads, over every layer, whose strongest key for token ``query`` is a content word (``is_content``)
    other than the query itself, the heaviest such weight first. Many heads send most of a token's attention to [CLS] or
    [SEP] instead (Clark et al. 2019 read this as a head with nothing to do on this token)."""
    _check_index("query", query, analysis.num_tokens)
    rows = analysis.attentions[:, :, query, :]  # [L, H, T]
    strongest = rows.argmax(axis=-1)  # [L, H]
    found = [ContentHead(layer, head, int(key), float(rows[layer, head, key]))
             for (layer, head), key in np.ndenumerate(strongest) if key != query and is_content(analysis, int(key))]
    return tuple(sorted(found, key=lambda item: -item.weight)[:count])


def is_punctuation(token: str) -> bool:
    """Is ``token``, its piece marker stripped, made only of punctuation (Unicode category P*)?"""
    token = _bare(token)
    return bool(token) and all(unicodedata.category(char).startswith("P") for char in token)


def _bare(token: str) -> str:
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

    Units are numbered in order of their first token. A word's label is its text cut from ``text`` (or ``text_pair``
    for the second sentence) through the token offsets; a special token's label is its token string.
    """
    word_ids = analysis.word_ids.tolist()
    unit_of, pieces, units = {}, [], []  # (kind, id) -> unit, [W] token indices of each unit, [T]
    for index, word in enumerate(word_ids):
        key = ("word", word) if word >= 0 else ("special", index)
        if key not in unit_of:
            unit_of[key] = len(pieces)
            pieces.append([])
        units.append(unit_of[key])
        pieces[unit_of[key]].append(index)
    labels = tuple(analysis.tokens[unit[0]] if word_ids[unit[0]] < 0 else _word_text(analysis, unit) for unit in pieces)
    return frozen_array(units, np.int64), labels


def _word_text(analysis: Analysis, pieces: list[int]) -> str:
    text = analysis.text_pair if analysis.segment_ids[pieces[0]] == 1 else analysis.text
    start, end = analysis.offsets[pieces, 0].min(), analysis.offsets[pieces, 1].max()
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
    chosen = scattered if rows.all() and columns.all() else scattered[..., rows, :][..., columns]  # [..., R, C]
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
    if which not in PAIR_BLOCKS:
        raise ValueError(f"Pair filter must be one of {', '.join(PAIR_BLOCKS)}, got {which!r}.")
    everything = np.ones(analysis.num_tokens, dtype=bool)  # [T]
    if which == "all":
        return frozen_array(everything, bool), frozen_array(everything, bool)
    if analysis.text_pair is None:
        raise ValueError(f"The pair filter {which} needs a second sentence; this analysis has only one.")
    source, target = ("AB".index(side) for side in which.split("->"))
    segments = np.asarray(analysis.segment_ids)  # [T]
    return frozen_array(segments == source, bool), frozen_array(segments == target, bool)


# ---------------------------------------------------------------------------------------------
# Two sentences that differ by a word
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Comparison:
    """How attention changes from sentence a to sentence b, on the rows and columns both views share."""

    rows: tuple[tuple[int, int], ...]
    """[R] (row in a's view, row in b's view) of query tokens matched as equal, in order."""
    columns: tuple[tuple[int, int], ...]
    """[C] the same for key columns (equal to ``rows`` unless a pair block is chosen)."""
    row_names: tuple[str, ...]
    row_positions: np.ndarray
    """[R] int64 positions in a (word-unit numbers when merged)."""
    column_names: tuple[str, ...]
    column_positions: np.ndarray
    """[C] int64."""
    difference: np.ndarray
    """[L, H, R, C] b's attention minus a's between aligned tokens; rows are not renormalised, so the mass
    a row gives to unaligned tokens is simply left out."""
    change: np.ndarray
    """[L, H] mean absolute difference per head (0 when nothing is aligned)."""
    ranked: tuple[tuple[int, int, float], ...]
    """(layer, head, change), most changed first."""


def compare(a: Analysis, b: Analysis, options: ViewOptions = ViewOptions()) -> Comparison:
    """Align the two views' tokens (equal names only) and measure how each head's attention changed."""
    if (a.num_layers, a.num_heads) != (b.num_layers, b.num_heads):
        raise ValueError("Both analyses must come from the same model to be compared.")
    view_a, view_b = view_matrix(a, a.attentions, options), view_matrix(b, b.attentions, options)
    rows = _aligned(view_a.row_names, view_b.row_names)
    columns = _aligned(view_a.column_names, view_b.column_names)
    (rows_a, rows_b), (columns_a, columns_b) = _sides(rows), _sides(columns)
    difference = (view_b.matrix[..., rows_b, :][..., columns_b]
                  - view_a.matrix[..., rows_a, :][..., columns_a])  # [L, H, R, C]
    empty = difference.size == 0
    change = np.zeros((a.num_layers, a.num_heads)) if empty else np.abs(difference).mean(axis=(-2, -1))  # [L, H]
    ranked = sorted(((layer, head, float(change[layer, head])) for layer in range(a.num_layers)
                     for head in range(a.num_heads)), key=lambda item: -item[2])
    return Comparison(rows=rows, columns=columns, row_names=tuple(view_a.row_names[i] for i in rows_a),
                      row_positions=frozen_array(view_a.row_positions[rows_a], np.int64),
                      column_names=tuple(view_a.column_names[i] for i in columns_a),
                      column_positions=frozen_array(view_a.column_positions[columns_a], np.int64),
                      difference=frozen_array(difference), change=frozen_array(change), ranked=tuple(ranked))


def _aligned(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """(index in a, index in b) of the names difflib matches as equal, in order."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)  # autojunk would drop frequent tokens
    return tuple((block.a + k, block.b + k) for block in matcher.get_matching_blocks() for k in range(block.size))


def _sides(pairs: tuple[tuple[int, int], ...]) -> tuple[list[int], list[int]]:
    return [i for i, _ in pairs], [j for _, j in pairs]
