"""What a click landed on. A clickable trace carries, in ``customdata``, an action name and its values for every
point, so a page reads a click by its meaning and never by the order of a figure's traces or where they are drawn."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go


def click_data(action: str, values) -> list[list]:
    """[N, k] values (or [N]) -> customdata rows ``[action, *values]``, plain Python numbers."""
    rows = np.asarray(values)
    rows = rows.reshape(len(rows), -1)  # [N, k]
    return [[action, *row] for row in rows.tolist()]


def clicked(points: list[dict[str, Any]], action: str) -> list | None:
    """The values of the first clicked point that carries ``action``; None when the click was on anything else."""
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list) and data and data[0] == action:
            return data[1:]
    return None


def head_cells(values: np.ndarray, action: str, hovertemplate: str) -> go.Scatter:
    """Transparent markers over an L x H grid drawn with layers 1..L down and heads 1..H across (a heatmap's own
    clicks are not reported); each carries ``[action, layer, head, *values[layer, head]]`` (1-based layer and head).
    ``values`` [L, H, k] (or [L, H])."""
    L, H = values.shape[:2]
    layers, heads = np.meshgrid(np.arange(L) + 1, np.arange(H) + 1, indexing="ij")
    extra = np.asarray(values, dtype=np.float64).reshape(L * H, -1)
    return go.Scatter(x=heads.ravel(), y=layers.ravel(), mode="markers", showlegend=False,
                      marker=dict(size=max(10, min(40, 480 // max(H, L))), color="rgba(0,0,0,0)", symbol="square"),
                      customdata=click_data(action, np.column_stack([layers.ravel(), heads.ravel(), extra])),
                      hovertemplate=hovertemplate)
