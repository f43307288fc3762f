"""Views of a whole corpus index: the head atlas (Dodrio), the query/key space of one head (AttentionViz) and a map
of the corpus's sentences (LIT's embedding projector). None of them runs the model: the atlas was computed by the
build, queries and keys come from the index's stored layer inputs through the head's own weights, and sentence
vectors from the stored hidden states.

Layers as in the index: layer L is the output of layer L, 0 the embedding output, so the input of (0-based)
attention layer ``l`` is index layer ``l``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..analysis import HoldsArrays, InputError
from ..loading import LoadedModel
from ..qkv import head_projections
from ..vectors import pca
from .encode import cls_column, float32_rows
from .heads import HeadAtlas, read_atlas
from .search import CorpusIndex
from .store import CorpusIndexError, heads_path

QUERY_KEY_POINTS = 20_000
"""Points of a query/key picture at most (queries and keys together): whole sentences, drawn with a fixed seed, until
their tokens make half of it. The picture a browser draws in WebGL within a second."""
UMAP_NEIGHBOURS = 15
MAP_SENTENCES = 20_000
"""Sentences of a corpus map at most, drawn with a fixed seed."""
POOLINGS = ("mean", "cls")
PROJECTIONS = ("PCA", "UMAP")
"""How points go to 2-D: PCA (the default: fast, linear, distances kept along its axes) or UMAP (umap-learn:
neighbourhoods kept, tens of seconds for 20,000 points)."""


def head_atlas(index: CorpusIndex) -> HeadAtlas:
    """The head statistics the build stored beside the index."""
    entry = index.manifest.data.get("atlas")
    if not entry:
        raise CorpusIndexError(f"The index in {index.directory} was built without head statistics (--no-atlas); "
                               "build it again without that option to see the head atlas.")
    try:
        return read_atlas(index.directory / entry["file"])
    except (OSError, pa.ArrowException, KeyError, ValueError) as error:
        raise CorpusIndexError(f"The head statistics in {index.directory} are damaged: {error}") from None


# ---------------------------------------------------------------------------------------------
# Query/key space of one head (AttentionViz, Yeh et al. 2023)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QueryKeySpace(HoldsArrays):
    """One head's queries and keys over a sample of the corpus, normalised as AttentionViz does and projected
    together to 2-D. Every array has one row per point: first the queries, then the keys of the same tokens."""

    layer: int
    """0-based attention layer; its input is the index's layer ``layer``."""
    head: int
    is_query: np.ndarray
    """[P] bool"""
    sentence_ids: np.ndarray
    """[P] int64"""
    token_indexes: np.ndarray
    """[P] int32, counted like ``Analysis.tokens`` (0 = [CLS])"""
    positions: np.ndarray
    """[P] float32 position in the sentence, 0 (first word) to 1 (last)"""
    tokens: tuple[str, ...]
    coords: np.ndarray
    """[P, 2] float32"""
    explained: np.ndarray
    """[2] share of the variance each axis explains (PCA; NaN for UMAP)"""
    projection: str
    queries: np.ndarray
    """[N, d] float32 the head's query of each sampled token, as the model computes it (N = P / 2)"""
    keys: np.ndarray
    """[N, d] float32 its key"""
    key_shift: np.ndarray
    """[d] the vector added to every scaled key: the scaled queries' centroid minus the scaled keys' centroid"""
    scale: float
    """Queries are multiplied and keys divided by this, so both lie as far from their centroid, on average."""

    def normalised(self) -> tuple[np.ndarray, np.ndarray]:
        """(queries, keys) [N, d] as projected: both scaled, then keys shifted onto the queries' centroid."""
        return self.queries * self.scale, self.keys / self.scale + self.key_shift


def query_key_space(model: LoadedModel, index: CorpusIndex, layer: int, head: int,
                    limit: int = QUERY_KEY_POINTS, projection: str = "PCA",
                    progress: Callable[[int, int], None] | None = None) -> QueryKeySpace:
    """Head ``head`` of attention layer ``layer`` (0-based): its query and key for each token of a sample of the
    corpus, both scaled to the same mean distance from their centroid (q c . k / c = q . k), then keys shifted so
    that their centroid is the queries' (a shift of every key adds the same q . t to a query's scores, so its
    softmax is unchanged): shifted after scaling, so the drawn centres coincide. Then projected together to 2-D
    (``PROJECTIONS``). ``progress(done, total)`` follows UMAP's epochs."""
    if projection not in PROJECTIONS:
        raise InputError(f"Projections are {', '.join(PROJECTIONS)}; got {projection!r}.")
    if not 0 <= layer < model.num_layers or layer not in index.layers:
        shown = [str(held + 1) for held in index.layers if held < model.num_layers]
        choose = f"choose layer {' or '.join(shown)}, or " if shown else ""
        raise InputError(f"The query/key space of layer {layer + 1} needs the index's layer {layer} (its input); "
                         f"this index holds layers {index.layers}: {choose}index layer {layer} too (--layers).")
    if not 0 <= head < model.num_heads:
        raise InputError(f"Heads run from 1 to {model.num_heads}; got {head + 1}.")
    rows = _sampled_rows(index, limit // 2)
    inputs = index.stored_vectors(rows, layer)
    queries, keys, _ = head_projections(model, layer, inputs)  # [H, N, d] each
    queries, keys = queries[head], keys[head]
    query_centre, key_centre = queries.mean(axis=0, dtype=np.float64), keys.mean(axis=0, dtype=np.float64)  # [d]
    spread = lambda vectors, centre: np.linalg.norm(vectors - centre, axis=1).mean()  # noqa: E731
    scale = float(np.sqrt(spread(keys, key_centre) / max(spread(queries, query_centre), 1e-12)))
    shift = query_centre * scale - key_centre / scale  # [d] moves the scaled keys' centre onto the scaled queries'
    coords, explained = _plane(np.concatenate([queries * scale, keys / scale + shift]), projection, progress)
    meta = index.metadata.select(["sentence_id", "token_index", "token"]).take(rows)
    sentence_ids, token_indexes = meta.column("sentence_id").to_numpy(), meta.column("token_index").to_numpy()
    lengths = _sentence_lengths(index, sentence_ids)
    positions = ((token_indexes - 1) / np.maximum(lengths - 3, 1)).astype(np.float32)
    twice = np.concatenate
    return QueryKeySpace(layer, head, twice([np.ones(len(rows), bool), np.zeros(len(rows), bool)]),
                         twice([sentence_ids, sentence_ids]), twice([token_indexes, token_indexes]),
                         twice([positions, positions]), tuple(meta.column("token").to_pylist()) * 2,
                         coords, explained, projection, queries, keys,
                         shift.astype(np.float32), scale)


def _sampled_rows(index: CorpusIndex, most: int) -> np.ndarray:
    """Metadata rows of whole sentences, drawn in a fixed random order, until the next would pass ``most`` tokens."""
    sentence_ids = index.metadata.column("sentence_id").to_numpy()
    starts = np.searchsorted(sentence_ids, np.arange(len(index.sentences) + 1))  # rows of sentence s: [s, s + 1)
    counts = np.diff(starts)
    order = np.random.default_rng(0).permutation(len(counts))
    taken = order[np.cumsum(counts[order]) <= most]
    if len(taken) == 0:
        taken = order[:1]
    return np.concatenate([np.arange(starts[s], starts[s + 1]) for s in np.sort(taken)])


def _sentence_lengths(index: CorpusIndex, sentence_ids: np.ndarray) -> np.ndarray:
    """Tokens (with the special ones) of each sentence in ``sentence_ids``."""
    lengths = np.concatenate([pq.read_table(heads_path(index.directory, number), columns=["tokens"])
                              .column("tokens").to_numpy() for number in range(len(index.manifest.data["shards"]))])
    return lengths[sentence_ids]


# ---------------------------------------------------------------------------------------------
# A map of the corpus (LIT's embedding projector)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CorpusMap(HoldsArrays):
    layer: int
    pooling: str
    sentence_ids: np.ndarray
    """[N] int64"""
    coords: np.ndarray
    """[N, 2] float32"""
    explained: np.ndarray
    """[2]"""
    labels: tuple[str, ...]
    """[N] each sentence's label ('' when the corpus has none)"""


def corpus_map(index: CorpusIndex, layer: int, pooling: str = "mean", limit: int = MAP_SENTENCES) -> CorpusMap:
    """Sentence vectors at ``layer`` (the mean of the sentence's tokens, special ones left out, or its [CLS]; as on
    the Applications page) of at most ``limit`` sentences, on their first two principal components."""
    if pooling not in POOLINGS:
        raise InputError(f"Pooling is one of {', '.join(POOLINGS)}; got {pooling!r}.")
    if layer not in index.layers:
        raise InputError(f"Layer {layer} is not in this index; it holds layers {index.layers}.")
    having = np.flatnonzero(np.bincount(index.metadata.column("sentence_id").to_numpy(),
                                        minlength=len(index.sentences)))
    # A sentence of special tokens only has no mean; every sentence has a [CLS].
    candidates = having if pooling == "mean" else np.arange(len(index.sentences))
    chosen = np.sort(np.random.default_rng(0).choice(candidates, limit, replace=False)) \
        if len(candidates) > limit else candidates
    coords, explained = _plane(_sentence_vectors(index, layer, pooling, chosen))
    return CorpusMap(layer, pooling, chosen, coords, explained, tuple(index.labels[s] or "" for s in chosen))


def _sentence_vectors(index: CorpusIndex, layer: int, pooling: str, chosen: np.ndarray) -> np.ndarray:
    """[N, D] one vector per chosen sentence (sorted): its [CLS] hidden state, or the mean of its tokens'."""
    if pooling == "cls":
        parts = []
        for number in range(len(index.manifest.data["shards"])):
            table = pq.read_table(heads_path(index.directory, number), columns=["sentence_id", cls_column(layer)])
            parts.append(float32_rows(table, cls_column(layer))[np.isin(table.column("sentence_id").to_numpy(),
                                                                        chosen)])
        return np.concatenate(parts)
    sentence_ids = index.metadata.column("sentence_id").to_numpy()
    rows = np.flatnonzero(np.isin(sentence_ids, chosen))
    starts = np.flatnonzero(np.r_[True, sentence_ids[rows][1:] != sentence_ids[rows][:-1]])
    sums = np.add.reduceat(index.stored_vectors(rows, layer).astype(np.float64), starts, axis=0)
    return sums / np.diff(np.r_[starts, len(rows)])[:, None]


def _plane(rows: np.ndarray, projection: str = "PCA",
           progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """([N, 2] float32 coordinates on the first two principal components, [2] the variance share each explains);
    zeros past the components a tiny sample has. UMAP where asked and there are enough points for it."""
    if projection == "UMAP" and len(rows) > UMAP_NEIGHBOURS + 1:
        import umap  # imported on first use: numba costs the server memory and seconds

        # A fixed seed, so a picture can be shared and found again; it makes UMAP run on one thread. UMAP reports
        # its epochs only through tqdm, and only when verbose: its bar is read as it is written.
        reporting = dict(verbose=True, tqdm_kwds={"file": _EpochReader(progress), "mininterval": 0.5}) \
            if progress else {}
        coords = umap.UMAP(n_components=2, n_neighbors=UMAP_NEIGHBOURS, random_state=0, n_jobs=1,
                           **reporting).fit_transform(rows)
        return coords.astype(np.float32), np.full(2, np.nan)
    projection = pca(rows, components=2)
    missing = 2 - projection.coords.shape[1]
    return (np.pad(projection.coords, ((0, 0), (0, missing))).astype(np.float32),
            np.pad(projection.explained, (0, missing)))


class _EpochReader:
    """A file for tqdm to write UMAP's progress bar to: each "done/total" it writes goes to ``progress``."""

    def __init__(self, progress: Callable[[int, int], None]):
        self.progress = progress

    def write(self, text: str) -> None:
        found = re.findall(r"(\d+)/(\d+)", text)
        if found:
            self.progress(*map(int, found[-1]))

    def flush(self) -> None:
        pass
