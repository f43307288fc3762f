"""Files a user takes away: one matrix as CSV, an analysis's arrays as NPZ, any figure as one offline HTML file."""

from __future__ import annotations

import csv
import io
from typing import BinaryIO

import numpy as np
import plotly.graph_objects as go

from .analysis import Analysis
from .attention.views import MatrixView

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


def figure_html(figure: go.Figure) -> str:
    """The figure as one self-contained HTML page: Plotly's JavaScript (about 4.6 MB) is inside it, so it opens and
    stays interactive with no network, in a browser, a slide or a course page."""
    return figure.to_html(include_plotlyjs=True, include_mathjax=False, full_html=True,
                          config={"displaylogo": False, "responsive": True})


def save_html(figure: go.Figure, path) -> int:
    """Write ``figure_html`` to ``path``; returns its size in bytes."""
    text = figure_html(figure)
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    return len(text.encode("utf-8"))
