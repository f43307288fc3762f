"""Tokens drawn as chips that wrap like text: the tokenization and masked-LM pages both use them."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from .labels import safe_text

LINE_UNITS = 90
"""Width of one line of chips, in characters."""


@dataclass(frozen=True)
class Chip:
    text: str
    colour: str
    hover: str
    group: int
    """Chips of one group (a word's pieces) stay side by side; a small gap separates groups."""


def _positions(chips: list[Chip]) -> list[tuple[float, float, int]]:
    """(x0, x1, line) for each chip, wrapping at LINE_UNITS without splitting a group."""
    widths = [max(len(chip.text), 2) + 1.5 for chip in chips]
    group_width: dict[int, float] = {}
    for chip, width in zip(chips, widths):
        group_width[chip.group] = group_width.get(chip.group, 0.0) + width
    placed, x, line, previous = [], 0.0, 0, None
    for chip, width in zip(chips, widths):
        if chip.group != previous:
            x += 1.0 if previous is not None else 0.0  # the gap between groups
            if x and x + group_width[chip.group] > LINE_UNITS:
                x, line = 0.0, line + 1
            previous = chip.group
        placed.append((x, x + width - 0.4, line))
        x += width
    return placed


def chips_figure(chips: list[Chip], title: str) -> go.Figure:
    """Every chip as a coloured box with its (escaped) text; hover shows the chip's note."""
    placed = _positions(chips)
    lines = 1 + max((line for _, _, line in placed), default=0)
    figure = go.Figure(go.Scatter(
        x=[(x0 + x1) / 2 for x0, x1, _ in placed], y=[-line for _, _, line in placed], mode="text",
        text=[safe_text(chip.text) for chip in chips], textfont=dict(family="monospace", size=14),
        hovertext=[safe_text(chip.hover) for chip in chips], hovertemplate="%{hovertext}<extra></extra>",
    ))
    # One layout update: add_shape per chip re-validates every shape so far (two minutes for 500 chips).
    figure.update_layout(shapes=[dict(type="rect", x0=x0, x1=x1, y0=-line - 0.35, y1=-line + 0.35,
                                      fillcolor=chip.colour, line=dict(color="#888", width=1), layer="below")
                                 for chip, (x0, x1, line) in zip(chips, placed)])
    figure.update_xaxes(visible=False, range=[-1, LINE_UNITS + 1])
    figure.update_yaxes(visible=False, range=[-lines + 0.4, 0.6])
    figure.update_layout(height=60 + 46 * lines, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                         title=title)
    return figure
