"""Corpus figures: which words a token's nearest corpus tokens are, and how the matches change from layer to layer."""

from __future__ import annotations

from collections import Counter

import plotly.graph_objects as go

from ..corpus import SearchResult
from .labels import safe_text

SAME, OTHER = "#1f77b4", "#bbbbbb"


def matched_words(result: SearchResult, query_word: str) -> go.Figure:
    """How many of the matches are each word, the query's own word in colour."""
    counts = Counter(match.word.lower() for match in result.matches).most_common()
    words = [word for word, _ in counts][::-1]  # the most frequent on top
    figure = go.Figure(go.Bar(
        x=[count for _, count in counts][::-1], y=[safe_text(word) for word in words], orientation="h",
        marker_color=[SAME if word == query_word.lower() else OTHER for word in words],
        hovertemplate="%{y}: %{x} of the matches<extra></extra>"))
    figure.update_layout(title=f"Which words the {len(result.matches)} matches are (layer {result.layer})",
                         xaxis_title="matches", height=max(260, 90 + 22 * len(words)),
                         margin=dict(l=20, r=20, t=50, b=20))
    return figure


def matches_across_layers(results: tuple[SearchResult, ...], query_word: str) -> go.Figure:
    """Per layer: the share of the matches that are the query's own word, and their mean cosine similarity."""
    layers = [result.layer for result in results]
    same = [sum(m.word.lower() == query_word.lower() for m in r.matches) / max(1, len(r.matches)) for r in results]
    mean = [sum(m.score for m in r.matches) / max(1, len(r.matches)) for r in results]
    figure = go.Figure([
        go.Scatter(x=layers, y=same, mode="lines+markers", name=f"share that are “{safe_text(query_word)}”",
                   line_color=SAME, hovertemplate="layer %{x}: %{y:.0%}<extra></extra>"),
        go.Scatter(x=layers, y=mean, mode="lines+markers", name="mean cosine similarity", line_color="#d62728",
                   line_dash="dash", hovertemplate="layer %{x}: %{y:.3f}<extra></extra>"),
    ])
    figure.update_layout(title="The matches, layer by layer", height=360, margin=dict(l=20, r=20, t=50, b=20),
                         xaxis=dict(title="layer (0 = embedding output)", tickmode="array", tickvals=layers),
                         yaxis=dict(title="share / cosine", range=[min(0.0, *mean), 1.05]),
                         legend=dict(orientation="h", y=-0.3))
    return figure
