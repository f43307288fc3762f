"""What a click landed on. A clickable trace carries, in ``customdata``, an action name and its values for every
point, so a page reads a click by its meaning and never by the order of a figure's traces or where they are drawn."""

from __future__ import annotations

from typing import Any

import numpy as np


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
