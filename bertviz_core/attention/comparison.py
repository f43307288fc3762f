"""Two sentences that differ by a word: how each head's attention changes between them.

Names as in ``analysis``: ``L`` layers, ``H`` heads; ``R`` rows and ``C`` columns both views share. Every array
returned is a read-only float32 numpy copy.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from ..analysis import Analysis, frozen_array
from .views import ViewOptions, view_matrix

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
