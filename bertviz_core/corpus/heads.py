"""What every head does over a corpus (Clark et al. 2019; Dodrio): per sentence, the share of each head's attention on
[CLS], the separators, punctuation, the previous, next and same token, its entropy and its mean attention distance;
computed from the raw attention (special tokens included) in the forward pass that builds the index, stored per
sentence beside the token shards, and summed up per head when the build finishes.

Names as in ``analysis``: ``B`` sentences in a batch, ``L`` layers, ``H`` heads, ``T`` padded tokens, ``S``
statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..analysis import HoldsArrays

STATISTICS = {
    "to_cls": "attention to [CLS]",
    "to_sep": "attention to [SEP] (the special tokens after the first)",
    "to_punctuation": "attention to punctuation",
    "to_previous": "attention to the previous token",
    "to_next": "attention to the next token",
    "to_self": "attention to the token itself",
    "entropy": "entropy / log T (0: one key, 1: spread evenly)",
    "distance": "mean attention distance, in tokens",
}
"""Each statistic, per head and sentence: a mean over the sentence's query rows (for previous and next, over the rows
that have one), as ``attention.head_statistics`` computes them on one analysis."""
TINY = 1e-30
"""Weights below it count as it in the entropy (their share of it is below 1e-28): torch.log is vectorised, and
twice as fast as torch.special.entr, which computes one element at a time."""
TOP_SENTENCES = 10
"""Sentences kept per head and statistic: those where it is highest."""


def batch_statistics(attentions: tuple[torch.Tensor, ...], lengths: torch.Tensor, separators: torch.Tensor,
                     punctuation: torch.Tensor) -> np.ndarray:
    """[B, L, H, S] float32 statistics (in ``STATISTICS`` order) of a padded batch: ``attentions`` L x [B, H, T, T],
    ``lengths`` [B] tokens of each sentence with its special tokens, ``separators`` and ``punctuation`` [B, T] bool
    masks over the keys. Padding rows are left out; padding keys get no attention (the mask zeroes them)."""
    B, _, _, T = attentions[0].shape
    position = torch.arange(T)
    rows = (position[None, :] < lengths[:, None]).float()  # [B, T]
    counts = rows.sum(-1, keepdim=True)[:, None]  # [B, 1, 1]
    # Rows that have a previous (next) token: rows 1 .. n-1 (0 .. n-2), so n-1 of each; at least one row.
    pairs = (lengths - 1).clamp(min=1).float()[:, None, None]  # [B, 1, 1]
    first = torch.zeros(B, T)
    first[:, 0] = 1
    kinds = torch.stack([first, separators.float(), punctuation.float()], dim=-1)  # [B, T, 3]: keys of each kind
    distance = (position[:, None] - position[None, :]).abs().float()  # [T, T]
    logs = torch.log(lengths.float().clamp(min=2))[:, None, None]  # [B, 1, 1]
    per_layer = []
    for weights in attentions:  # [B, H, T, T]
        weights = weights.float() * rows[:, None, :, None]  # padding rows out
        shares = (weights @ kinds[:, None]).sum(-2) / counts  # [B, H, 3]
        diagonals = [torch.diagonal(weights, offset=offset, dim1=-2, dim2=-1).sum(-1, keepdim=True)
                     for offset in (-1, 1, 0)]  # [B, H, 1] each: previous, next, self
        per_layer.append(torch.cat([
            shares, diagonals[0] / pairs, diagonals[1] / pairs, diagonals[2] / counts,
            -(weights * torch.log(weights.clamp_min(TINY))).sum((-2, -1))[..., None] / counts / logs,
            torch.einsum("bhij,ij->bh", weights, distance)[..., None] / counts,
        ], dim=-1))  # [B, H, S]
    return torch.stack(per_layer, dim=1).numpy()  # [B, L, H, S]


@dataclass(frozen=True, eq=False)
class HeadAtlas(HoldsArrays):
    """Every head's statistics over a corpus: the mean over sentences of each sentence's value, its spread, and the
    sentences where it is highest."""

    sentences: int
    mean: np.ndarray
    """[L, H, S] float64"""
    std: np.ndarray
    """[L, H, S] float64, across sentences"""
    top: np.ndarray
    """[L, H, S, K] int64 sentence ids, highest value first (-1 past the end of a small corpus)"""
    top_values: np.ndarray
    """[L, H, S, K] float32"""

    def statistic(self, name: str) -> int:
        return list(STATISTICS).index(name)

    def top_sentences(self, layer: int, head: int, statistic: str) -> list[tuple[int, float]]:
        """(sentence id, value) where ``statistic`` of 0-based ``layer`` and ``head`` is highest, highest first."""
        cell = (layer, head, self.statistic(statistic))
        return [(int(i), float(v)) for i, v in zip(self.top[cell], self.top_values[cell]) if i >= 0]


class AtlasSums:
    """Streams per-sentence statistics, shard by shard, into a ``HeadAtlas`` without holding them all."""

    def __init__(self) -> None:
        self.count, self.sum, self.squares = 0, 0.0, 0.0
        self.top: np.ndarray | None = None
        self.top_values: np.ndarray | None = None

    def add(self, sentence_ids: np.ndarray, values: np.ndarray) -> None:
        """``values`` [N, L, H, S] of sentences ``sentence_ids`` [N]."""
        values64 = values.astype(np.float64)
        self.count += len(values)
        self.sum = self.sum + values64.sum(axis=0)
        self.squares = self.squares + (values64**2).sum(axis=0)
        ids = np.broadcast_to(np.asarray(sentence_ids, np.int64)[:, None, None, None], values.shape)
        # The sentences kept so far come first: among equal values the lowest ids stay, however shards are cut.
        candidates = np.concatenate(([self.top_values] if self.top is not None else []) + [values], axis=0)
        candidate_ids = np.concatenate(([self.top] if self.top is not None else []) + [ids], axis=0)
        keep = min(TOP_SENTENCES, len(candidates))
        best = np.argsort(-candidates, axis=0, kind="stable")[:keep]  # [K, L, H, S]
        self.top_values = np.take_along_axis(candidates, best, axis=0)
        self.top = np.take_along_axis(candidate_ids, best, axis=0)

    def atlas(self) -> HeadAtlas:
        mean = self.sum / max(self.count, 1)
        std = np.sqrt(np.maximum(self.squares / max(self.count, 1) - mean**2, 0.0))
        missing = TOP_SENTENCES - len(self.top)
        top = np.pad(self.top, ((0, missing), (0, 0), (0, 0), (0, 0)), constant_values=-1)
        values = np.pad(self.top_values, ((0, missing), (0, 0), (0, 0), (0, 0)), constant_values=np.nan)
        return HeadAtlas(self.count, mean, std, np.moveaxis(top, 0, -1), np.moveaxis(values, 0, -1))


def write_atlas(where: Path | BinaryIO, atlas: HeadAtlas) -> None:
    """One row per (layer, head, statistic), in that order: mean, std, and the top sentences with their values."""
    L, H, S, K = atlas.top.shape
    layer, head, statistic = (grid.reshape(-1) for grid in np.meshgrid(range(L), range(H), range(S), indexing="ij"))
    table = pa.table({
        "layer": pa.array(layer, pa.int16()), "head": pa.array(head, pa.int16()),
        "statistic": pa.array(np.array(list(STATISTICS))[statistic]),
        "mean": atlas.mean.reshape(-1), "std": atlas.std.reshape(-1),
        "top": pa.FixedSizeListArray.from_arrays(pa.array(atlas.top.reshape(-1)), K),
        "top_values": pa.FixedSizeListArray.from_arrays(pa.array(atlas.top_values.reshape(-1)), K),
    })
    pq.write_table(table.replace_schema_metadata({"sentences": str(atlas.sentences)}), where)


def read_atlas(path: Path) -> HeadAtlas:
    table = pq.read_table(path)
    L, H = int(table.column("layer")[-1].as_py()) + 1, int(table.column("head")[-1].as_py()) + 1
    shape = (L, H, len(STATISTICS))

    def lists(name: str) -> np.ndarray:
        column = table.column(name).combine_chunks()
        return column.values.to_numpy().reshape(*shape, -1)

    return HeadAtlas(int(table.schema.metadata[b"sentences"]), table.column("mean").to_numpy().reshape(shape),
                     table.column("std").to_numpy().reshape(shape), lists("top"), lists("top_values"))
