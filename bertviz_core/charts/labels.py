"""Token labels safe to put in a figure: user text is escaped, never read as markup."""

from __future__ import annotations

import html


def safe_text(text: str) -> str:
    """Plotly reads a subset of HTML in labels; escaping makes '<b>' or '<img ...>' show as typed."""
    return html.escape(text, quote=False)


def token_labels(tokens, positions=None) -> list[str]:
    """One unique, escaped label per position ('3 bank'), so repeated tokens stay separate on an axis."""
    positions = range(len(tokens)) if positions is None else positions
    return [f"{index} {safe_text(token)}" for index, token in zip(positions, tokens)]
