"""Tokenization figures: the pieces each word became, drawn as chips that wrap like text."""

from __future__ import annotations

import plotly.graph_objects as go

from ..tokenization import TokenizationSteps
from .chips import Chip, chips_figure

WORD_COLOURS = ("#dbe9f6", "#fde9c9")
UNKNOWN_COLOUR = "#f8c9c4"


def pieces_figure(steps: TokenizationSteps) -> go.Figure:
    """Every piece as a chip; neighbouring words alternate colour, unknown words are red."""
    chips = [
        Chip(text=piece, colour=UNKNOWN_COLOUR if word.unknown else WORD_COLOURS[number % 2], group=number,
             hover=f"{piece}: from the word “{steps.original[word.start:word.end]}” (seen as “{word.word}”)")
        for number, word in enumerate(steps.words) for piece in word.pieces
    ]
    return chips_figure(chips, f"{len(steps.pieces)} pieces from {len(steps.words)} words")
