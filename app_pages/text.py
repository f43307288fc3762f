"""How pages write what users typed and the numbers they read: literal Markdown, ordinals, small percentages."""

from __future__ import annotations

import re


def md(text: str) -> str:
    """User text made literal inside st.markdown: no emphasis, links, LaTeX ($) or HTML from what was typed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$&:])", r"\\\1", text)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 11th, 1,869th."""
    return f"{n:,}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def percent(p: float) -> str:
    """A probability as people read it: 42%, 0.4%, or 'under 0.1%' rather than a misleading 0%."""
    return f"{p:.0%}" if p >= 0.01 else f"{p:.1%}" if p >= 0.001 else "under 0.1%"


def marked(sentence: str, start: int, end: int) -> str:
    """The sentence as literal text, its span in bold on a tint (never HTML). Inside the tint's brackets the bold
    always takes: bare, Markdown leaves the asterisks as text around a span of punctuation next to a letter
    ("end**.**", "**‘**prime")."""
    return f"{md(sentence[:start])}:blue-background[**{md(sentence[start:end])}**]{md(sentence[end:])}"
