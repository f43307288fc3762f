"""Files a user takes away: one matrix as CSV, an analysis's arrays as NPZ."""

from __future__ import annotations

import csv
import io
from typing import BinaryIO

import numpy as np

from .analysis import Analysis
from .attention import MatrixView

NPZ_KEYS = ("tokens", "input_ids", "attentions", "hidden_states", "token_embeddings", "position_embeddings",
            "segment_embeddings", "position_table")


def matrix_csv(view: MatrixView) -> str:
    """Rows are the attending tokens, columns the attended ones, with their names as headers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["from \\ to", *view.column_names])
    for name, row in zip(view.row_names, view.matrix.tolist()):
        writer.writerow([name, *(f"{weight:.6f}" for weight in row)])
    return out.getvalue()


def save_npz(file: str | BinaryIO, analysis: Analysis, keys: tuple[str, ...] = NPZ_KEYS) -> None:
    """The named arrays of an analysis, compressed; tokens as a string array."""
    np.savez_compressed(file, **{key: np.asarray(getattr(analysis, key)) for key in keys})


def npz_bytes(analysis: Analysis, keys: tuple[str, ...] = NPZ_KEYS) -> bytes:
    buffer = io.BytesIO()
    save_npz(buffer, analysis, keys)
    return buffer.getvalue()
