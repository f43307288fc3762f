"""Tokenization figures: the pieces each word became, drawn as chips that wrap like text."""

from __future__ import annotations

import plotly.graph_objects as go

from ..tokenization import TokenizationSteps
from .labels import safe_text

LINE_UNITS = 90
"""Width of one line of chips, in characters."""
WORD_COLOURS = ("#dbe9f6", "#fde9c9")
UNKNOWN_COLOUR = "#f8c9c4"


def _layout_chips(steps: TokenizationSteps) -> list[dict]:
    """Position each piece left to right, wrapping at LINE_UNITS; a word's pieces stay side by side."""
    chips, x, line = [], 0.0, 0
    for number, word in enumerate(steps.words):
        widths = [max(len(piece), 2) + 1.5 for piece in word.pieces]
        if x and x + sum(widths) > LINE_UNITS:
            x, line = 0.0, line + 1
        for piece, width in zip(word.pieces, widths):
            colour = UNKNOWN_COLOUR if word.unknown else WORD_COLOURS[number % 2]
            chips.append(dict(x0=x, x1=x + width - 0.4, line=line, piece=piece, word=word.word,
                              typed=steps.original[word.start:word.end], colour=colour))
            x += width
        x += 1.0  # a gap between words
    return chips


def pieces_figure(steps: TokenizationSteps) -> go.Figure:
    """Every piece as a chip; neighbouring words alternate colour, unknown words are red."""
    chips = _layout_chips(steps)
    lines = 1 + max((chip["line"] for chip in chips), default=0)
    figure = go.Figure(go.Scatter(
        x=[(c["x0"] + c["x1"]) / 2 for c in chips], y=[-c["line"] for c in chips], mode="text",
        text=[safe_text(c["piece"]) for c in chips], textfont=dict(family="monospace", size=14),
        customdata=[[safe_text(c["typed"]), safe_text(c["word"])] for c in chips],
        hovertemplate="%{text}<br>from the word “%{customdata[0]}” (seen as “%{customdata[1]}”)<extra></extra>",
    ))
    for chip in chips:
        figure.add_shape(type="rect", x0=chip["x0"], x1=chip["x1"], y0=-chip["line"] - 0.35,
                         y1=-chip["line"] + 0.35, fillcolor=chip["colour"], line=dict(color="#888", width=1),
                         layer="below")
    figure.update_xaxes(visible=False, range=[-1, LINE_UNITS + 1])
    figure.update_yaxes(visible=False, range=[-lines + 0.4, 0.6])
    figure.update_layout(height=60 + 46 * lines, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                         title=f"{len(steps.pieces)} pieces from {len(steps.words)} words")
    return figure
