"""Attention figures, built to stay small at 512 tokens. Layers and heads are 0-based arguments, shown 1-based."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ..analysis import Analysis
from ..attention.rollout import TokenViews
from ..attention.views import MatrixView, ViewOptions, view_matrix
from .clicks import click_data
from .labels import token_labels

OPEN_HEAD = "open head"
"""Click action of the model view's cells: values (layer, head), 1-based as the app shows them."""
ISOLATE = "isolate"
"""Click action of the head view's left-hand tokens: the value is the row of the view."""

HEAD_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
OPACITY_LEVELS = 5
"""Plotly sets opacity per trace, so lines are grouped into this many opacity steps per head."""


def attention_heatmap(matrix: np.ndarray, row_labels: list[str], column_labels: list[str], title: str,
                      colour_title: str = "weight") -> go.Figure:
    """A [rows, columns] attention-like matrix; rows attend from (queries), columns attend to (keys)."""
    figure = go.Figure(go.Heatmap(
        z=np.asarray(matrix, dtype=np.float32), x=column_labels, y=row_labels, zmin=0.0,
        zmax=max(float(np.max(matrix)), 1e-9), colorscale="Blues", colorbar=dict(title=colour_title),
        hovertemplate="from %{y} → to %{x}: %{z:.3f}<extra></extra>",
    ))
    side = max(480, min(900, 160 + 22 * max(len(row_labels), len(column_labels))))
    figure.update_layout(
        title=title,
        xaxis=dict(title="attends to (key)", type="category", tickangle=-60, constrain="domain", showgrid=False),
        yaxis=dict(title="attending token (query)", type="category", autorange="reversed", scaleanchor="x",
                   constrain="domain", showgrid=False),
        height=side, width=side + 120, margin=dict(l=20, r=20, t=60, b=20),
    )
    return figure


def head_heatmap(analysis: Analysis, layer: int, head: int) -> go.Figure:
    """One head's [T, T] attention, tokens on both axes."""
    labels = token_labels(analysis.tokens)
    return attention_heatmap(analysis.attentions[layer, head], labels, labels, head_title(layer, head))


def head_title(layer: int, head: int) -> str:
    return f"Layer {layer + 1}, head {head + 1}: each row is where one token looks"


def view_heatmap(view: MatrixView, title: str) -> go.Figure:
    """An [R, C] view as a heatmap, each axis labelled with its tokens' positions and names."""
    return attention_heatmap(view.matrix, token_labels(view.row_names, view.row_positions),
                             token_labels(view.column_names, view.column_positions), title)


# ---------------------------------------------------------------------------------------------
# Model view: every layer and head in one image
# ---------------------------------------------------------------------------------------------


def pooled_size(n: int, size: int) -> int:
    """How many blocks ``pooled`` makes of n rows: at most ``size``, each of ceil(n / size) rows, none empty."""
    return -(-n // -(-n // size)) if n > size else n


def pooled(matrix: np.ndarray, size: int) -> np.ndarray:
    """[R, C] -> [pooled_size(R), pooled_size(C)] by the maximum of each block, so thin patterns (a diagonal)
    survive."""
    for axis in (0, 1):
        n = matrix.shape[axis]
        if n > size:
            block, blocks = -(-n // size), pooled_size(n, size)
            padding = [(0, 0), (0, 0)]
            padding[axis] = (0, block * blocks - n)
            padded = np.pad(matrix, padding)
            matrix = padded.reshape((blocks, block, -1) if axis == 0 else (-1, blocks, block)).max(axis=axis + 1)
    return matrix


def mosaic(attentions: np.ndarray, cell: int = 96, gap: int = 2) -> np.ndarray:
    """[L, H, R, C] -> one uint8 image [L*(r+gap), H*(c+gap)] with r, c = pooled_size(R, C), each head scaled to
    its own maximum (0..254).

    255 marks the gaps between cells. uint8 is sent to the browser as binary: 12 x 12 heads at 96 x 96 pixels
    is about 1.1 MB, whatever the token count.
    """
    L, H, R, C = attentions.shape
    r, c = pooled_size(R, cell), pooled_size(C, cell)
    image = np.full((L * (r + gap), H * (c + gap)), 255, dtype=np.uint8)
    for layer in range(L):
        for head in range(H):
            small = pooled(attentions[layer, head], cell)  # [r, c]
            scaled = np.round(254 * small / max(float(small.max(initial=0.0)), 1e-12)).astype(np.uint8)
            top, left = layer * (r + gap), head * (c + gap)
            image[top:top + r, left:left + c] = scaled
    return image


def model_view(view: MatrixView, cell: int = 96, layer_numbers=None, head_numbers=None) -> go.Figure:
    """All layers x heads of a [L, H, R, C] view as one heatmap image; an invisible marker over each cell makes it
    clickable. ``layer_numbers`` [L] and ``head_numbers`` [H] (0-based) name the model's layers and heads the view
    holds when it holds only some (default: all, in order)."""
    image = mosaic(view.matrix, cell)
    L, H = view.matrix.shape[:2]
    step_y, step_x = image.shape[0] / L, image.shape[1] / H
    layer_numbers = np.arange(L) if layer_numbers is None else np.asarray(layer_numbers)  # [L]
    head_numbers = np.arange(H) if head_numbers is None else np.asarray(head_numbers)  # [H]
    layers, heads = np.meshgrid(layer_numbers, head_numbers, indexing="ij")  # [L, H] each
    rows, columns = np.meshgrid(np.arange(L), np.arange(H), indexing="ij")  # [L, H] each, where each cell is drawn
    figure = go.Figure([
        go.Heatmap(z=image, colorscale=[[0, "#ffffff"], [254 / 255, "#08306b"], [1, "#ffffff"]], zmin=0, zmax=255,
                   showscale=False, hoverinfo="skip"),
        go.Scatter(x=((columns + 0.5) * step_x).ravel(), y=((rows + 0.5) * step_y).ravel(), mode="markers",
                   marker=dict(size=max(8, min(60, 600 // max(H, L))), color="rgba(0,0,0,0)", symbol="square"),
                   # 1-based, as the app shows and the URL stores layers and heads.
                   customdata=click_data(OPEN_HEAD, np.stack([layers.ravel() + 1, heads.ravel() + 1], axis=1)),
                   hovertemplate="layer %{customdata[1]}, head %{customdata[2]}<extra>click to open</extra>",
                   showlegend=False),
    ])
    figure.update_layout(
        title=f"All {L} layers x {H} heads (each cell scaled to its own maximum); click a cell to open that head",
        xaxis=dict(tickvals=(np.arange(H) + 0.5) * step_x, ticktext=[f"head {h + 1}" for h in head_numbers],
                   side="top", showgrid=False, zeroline=False, constrain="domain"),
        yaxis=dict(tickvals=(np.arange(L) + 0.5) * step_y, ticktext=[f"layer {l + 1}" for l in layer_numbers],
                   autorange="reversed", scaleanchor="x", showgrid=False, zeroline=False, constrain="domain"),
        height=int(min(900, max(320, 110 + 780 * L / H))), margin=dict(l=20, r=20, t=90, b=20),
        plot_bgcolor="white", dragmode=False,
    )
    return figure


# ---------------------------------------------------------------------------------------------
# Head view: tokens in two columns, a line per link
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """The links of one head chosen for drawing."""

    rows: np.ndarray
    """[N] int64 attending tokens."""
    columns: np.ndarray
    """[N] int64 attended tokens."""
    weights: np.ndarray
    """[N] float32."""
    omitted: int
    """Links with a non-zero weight left out."""


def strongest_links(matrix: np.ndarray, top_k: int, threshold: float = 0.0,
                    focus: int | None = None) -> Links:
    """Per row of an [R, C] matrix, the ``top_k`` strongest links at or above ``threshold`` (only row ``focus``
    when given)."""
    R, C = matrix.shape
    rows = np.arange(R) if focus is None else np.array([focus])
    k = max(1, min(top_k, C))
    best = np.argsort(-matrix[rows], axis=1, kind="stable")[:, :k]  # [rows, k]
    row_index = np.repeat(rows, k)  # [rows*k]
    column_index = best.ravel()  # [rows*k]
    weights = matrix[row_index, column_index]  # [rows*k]
    keep = weights >= max(threshold, 1e-12)
    nonzero = int((matrix[rows] > 0).sum())
    return Links(rows=row_index[keep], columns=column_index[keep], weights=weights[keep].astype(np.float32),
                 omitted=nonzero - int(keep.sum()))


def head_view(view: MatrixView, layer: int, heads: list[int], top_k: int = 5, threshold: float = 0.0,
              focus: int | None = None) -> tuple[go.Figure, int, int]:
    """bertviz's head view of one layer's [H, R, C] view: a line from each query row (left) to the key columns it
    attends to (right), opacity = weight. ``focus`` is a row of the view.

    Returns the figure, the number of lines drawn and the number of non-zero links left out.
    """
    sides = ((0.0, "left", token_labels(view.row_names, view.row_positions)),
             (1.0, "right", token_labels(view.column_names, view.column_positions)))
    figure, drawn, omitted = go.Figure(), 0, 0
    for head in heads:
        links = strongest_links(view.matrix[head], top_k, threshold, focus)
        drawn, omitted = drawn + len(links.weights), omitted + links.omitted
        for trace in _line_traces(links, head):
            figure.add_trace(trace)
    for x, side, labels in sides:
        figure.add_trace(go.Scatter(
            x=[x] * len(labels), y=-np.arange(len(labels)), mode="text", text=labels, showlegend=False,
            textposition="middle left" if side == "left" else "middle right",
            customdata=click_data(ISOLATE, np.arange(len(labels))) if side == "left" else None,
            hovertemplate="%{text}<extra>" + ("click to isolate" if side == "left" else "") + "</extra>",
        ))
    T = max(len(labels) for _, _, labels in sides)
    figure.update_layout(
        title=f"Layer {layer + 1}: lines from each token (left) to what it attends to (right)",
        xaxis=dict(visible=False, range=[-0.6, 1.6]), yaxis=dict(visible=False, range=[-T + 0.5, 0.8]),
        height=max(360, 80 + 22 * T), margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
        legend=dict(orientation="h", y=1.02, x=0), dragmode=False,
    )
    return figure, drawn, omitted


def _line_traces(links: Links, head: int) -> list[go.Scatter]:
    """One trace per opacity step; each holds its lines as segments separated by gaps (None)."""
    traces = []
    levels = np.minimum((links.weights * OPACITY_LEVELS).astype(int), OPACITY_LEVELS - 1)  # [N] 0..levels-1
    for level in range(OPACITY_LEVELS):
        chosen = levels == level
        if not chosen.any():
            continue
        xs = np.tile([0.02, 0.98, np.nan], int(chosen.sum()))
        ys = np.stack([-links.rows[chosen], -links.columns[chosen], np.full(int(chosen.sum()), np.nan)], axis=1)
        traces.append(go.Scatter(
            x=xs, y=ys.ravel(), mode="lines", line=dict(color=HEAD_COLOURS[head % len(HEAD_COLOURS)], width=2),
            opacity=0.15 + 0.85 * (level + 1) / OPACITY_LEVELS, hoverinfo="skip", name=f"head {head + 1}",
            legendgroup=f"head {head + 1}", showlegend=level == int(levels.max()),
        ))
    return traces


def difference_heatmap(matrix: np.ndarray, row_labels: list[str], column_labels: list[str], title: str) -> go.Figure:
    """A signed [rows, columns] matrix (B minus A): red where B attends more, blue where it attends less."""
    limit = max(float(np.abs(matrix).max()), 1e-9)
    figure = attention_heatmap(np.zeros_like(matrix), row_labels, column_labels, title)
    figure.data[0].update(z=np.asarray(matrix, dtype=np.float32), zmin=-limit, zmax=limit, zmid=0.0,
                          colorscale="RdBu_r", colorbar=dict(title="B − A"),
                          hovertemplate="from %{y} → to %{x}: %{z:+.3f}<extra></extra>")
    return figure


def head_grid(values: np.ndarray, title: str, colour_title: str, labels: list[list[str]] | None = None) -> go.Figure:
    """[L, H] one number per head (a statistic or a change), optionally with a short label written in each cell."""
    L, H = values.shape
    figure = go.Figure(go.Heatmap(
        z=np.asarray(values, dtype=np.float32), x=[f"head {h + 1}" for h in range(H)],
        y=[f"layer {l + 1}" for l in range(L)], colorscale="Viridis", colorbar=dict(title=colour_title),
        text=labels, texttemplate="%{text}" if labels else None, textfont=dict(size=9),
        hovertemplate="%{y}, %{x}: %{z:.3f}" + ("<br>%{text}" if labels else "") + "<extra></extra>",
    ))
    figure.update_layout(title=title, yaxis=dict(autorange="reversed", type="category"),
                         xaxis=dict(type="category", side="top"), height=max(320, 120 + 40 * L),
                         margin=dict(l=20, r=20, t=90, b=20))
    return figure


def token_comparison(views: TokenViews) -> go.Figure:
    """One query's row in three views side by side: raw attention, rollout and value norms, each summing to 1."""
    labels = token_labels(views.column_names, views.column_positions)
    query = token_labels([views.row_name], [views.row_position])[0]
    series = (("raw attention (mean of heads)", views.raw), ("rollout", views.rollout),
              ("value-norm weighting", views.norm))
    figure = go.Figure([go.Bar(x=labels, y=values, name=name, hovertemplate="%{x}: %{y:.3f}<extra>" + name +
                               "</extra>") for name, values in series])
    figure.update_layout(barmode="group", title=f"Where {query} looks, three ways, at layer {views.layer + 1}",
                         xaxis=dict(type="category"), yaxis_title="share",
                         height=360, margin=dict(l=20, r=20, t=50, b=20), legend=dict(orientation="h"))
    return figure


VIEWS = ("model", "head", "heatmap")
"""The attention views the command line exports: every head at once, one head's lines, one head's matrix."""


def view_figure(analysis: Analysis, view: str, layer: int = 0, head: int = 0,
                options: ViewOptions = ViewOptions()) -> go.Figure:
    """One attention view of ``analysis`` as the Attention page draws it with ``options`` (0-based layer, head)."""
    if view not in VIEWS:
        raise ValueError(f"The attention views are {', '.join(VIEWS)}; got {view!r}.")
    if view == "model":
        return model_view(view_matrix(analysis, analysis.attentions, options))
    if view == "head":
        return head_view(view_matrix(analysis, analysis.attentions[layer], options), layer, [head])[0]
    return view_heatmap(view_matrix(analysis, analysis.attentions[layer, head], options), head_title(layer, head))
