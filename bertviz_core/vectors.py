"""Two things every view of vectors needs: cosine similarity and principal components."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .analysis import frozen_array


def cosine_similarity(rows: np.ndarray) -> np.ndarray:
    """[N, E] -> [N, N] float32: symmetric, ones on the diagonal, 0 against a zero row (never NaN)."""
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)  # [N, 1]
    unit = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)  # [N, E]
    similarity = unit @ unit.T  # [N, N]
    similarity = (similarity + similarity.T) / 2  # exactly symmetric despite rounding
    np.fill_diagonal(similarity, 1.0)
    return frozen_array(np.clip(similarity, -1.0, 1.0))


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray
    """[N, k] float32 coordinates on the first k principal components."""
    explained: np.ndarray
    """[k] float32 share of the variance each component explains."""


def pca(rows: np.ndarray, components: int = 3) -> Projection:
    """Principal components of [N, E] rows (centred, via SVD); each direction's largest loading made positive,
    so the picture does not flip between runs."""
    centred = np.asarray(rows, dtype=np.float64) - np.mean(rows, axis=0)  # [N, E]
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)  # [K], [K, E]
    k = min(components, len(singular))
    directions = directions[:k]
    signs = np.sign(directions[np.arange(k), np.abs(directions).argmax(axis=1)])  # [k]
    variance = singular**2
    return Projection(coords=frozen_array(centred @ (directions * signs[:, None]).T),
                      explained=frozen_array(variance[:k] / max(variance.sum(), 1e-30)))
