"""Search a corpus index: the corpus tokens whose hidden state at layer L is closest (cosine) to one token of a
sentence, and every occurrence of a word grouped by what the model makes of it (k-means over its vectors)."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..analysis import Analysis, InputError
from ..loading import LoadedModel
from ..tokenization import word_groups, word_span
from .encode import METADATA, token_ids
from .store import (RERANK, CorpusIndexError, Manifest, check_model, exact_index, read_manifest, read_metadata,
                    stored_vectors)

NPROBE = 32
"""Inverted lists a compressed index visits per query (recall@10 against exact search: bench/corpus.py)."""
MOST_GROUPS = 8


@dataclass(frozen=True)
class Match:
    """One corpus token and how close it is to the query."""

    score: float
    """Exact cosine similarity between the two hidden states."""
    sentence_id: int
    sentence: str
    label: str
    token_index: int
    """Counted like ``Analysis.tokens`` of its sentence: 0 is ``[CLS]``."""
    token: str
    word: str
    start: int
    end: int
    """The token's character span in ``sentence``."""


@dataclass(frozen=True)
class SearchResult:
    model: str
    layer: int
    query_index: int
    query_token: str
    matches: tuple[Match, ...]
    """Best first."""

    def as_json(self) -> dict:
        return {"model": self.model, "layer": self.layer,
                "query_token": {"index": self.query_index, "token": self.query_token},
                "matches": [{"sentence": m.sentence, "sentence_id": m.sentence_id, "token": m.token,
                             "token_index": m.token_index, "start": m.start, "end": m.end, "score": m.score}
                            for m in self.matches]}


@dataclass(frozen=True)
class Occurrence:
    sentence_id: int
    sentence: str
    label: str
    start: int
    end: int
    """The word's character span in ``sentence``."""
    closeness: float
    """Cosine similarity to its group's centre."""


@dataclass(frozen=True)
class WordGroups:
    """Every occurrence of a word at one layer, grouped by k-means over the occurrences' unit vectors."""

    word: str
    layer: int
    groups: tuple[tuple[Occurrence, ...], ...]
    """Largest group first; inside a group, closest to its centre first."""
    silhouette: float | None
    """How well separated the groups are (-1 to 1, cosine); None with fewer than three occurrences."""

    def as_json(self) -> dict:
        return {"word": self.word, "layer": self.layer, "silhouette": self.silhouette,
                "groups": [[{"sentence": o.sentence, "sentence_id": o.sentence_id, "label": o.label, "start": o.start,
                             "end": o.end, "closeness": o.closeness} for o in group] for group in self.groups]}


class CorpusIndex:
    """A finished index opened for searching with the model that built it. Holds every token's metadata (60 to 115
    bytes a token resident on the system allocator, 230 on Arrow's default) and each layer's FAISS index once
    searched (exact: 4 bytes per dimension and token, built from the shards; compressed: 120 to 320 bytes a token,
    its vectors memory-mapped from disk). Measured by bench/corpus.py."""

    def __init__(self, directory: str | Path, model: LoadedModel, keep_layers: int | None = None):
        """``keep_layers``: how many layers' FAISS indexes stay loaded (the least recently searched goes first);
        None keeps every layer searched."""
        self.directory = Path(directory)
        self.keep_layers = keep_layers
        self.manifest: Manifest = read_manifest(self.directory)
        check_model(self.manifest, model)
        self.model_name = model.name
        self.metadata = read_metadata(self.directory, self.manifest)
        self.ids = self.metadata.column("id").to_numpy()
        sentences = pq.read_table(self.directory / "sentences.parquet")
        self.sentences, self.labels = sentences.column("text").to_pylist(), sentences.column("label").to_pylist()
        self._layers: dict[int, tuple[faiss.Index, np.ndarray | None]] = {}
        self._lock = threading.Lock()

    @property
    def layers(self) -> list[int]:
        return self.manifest.layers

    @property
    def nbytes(self) -> int:
        """Memory held: metadata, token ids, sentences and labels as Python strings, and the FAISS indexes, counted
        as soon as the index is opened as the most it may hold (``keep_layers`` of them, or every layer searched so
        far when unbounded), so that a cache that sizes it once counts the layers its first searches build.
        Resident memory is more: 100,000 tokens of the offline model counted 66 bytes a token here besides the
        index and held 115 (system allocator, as the app sets); a compressed index holds 1.4 times its file
        (bench/corpus.py)."""
        strings = sum(map(sys.getsizeof, self.sentences)) + sum(map(sys.getsizeof, self.labels))
        return self.metadata.nbytes + self.ids.nbytes + strings + self._index_bytes()

    def _index_bytes(self) -> int:
        sizes = {layer: self.manifest.data["indexes"][str(layer)]["bytes"] for layer in self.layers}
        if self.keep_layers is None:
            return sum(sizes[layer] for layer in list(self._layers))
        return sum(sorted(sizes.values(), reverse=True)[:max(1, self.keep_layers)])

    def search(self, query: Analysis, token: int, layer: int, k: int = 10) -> SearchResult:
        """The ``k`` corpus tokens closest to ``query``'s token ``token`` at ``layer``, best first."""
        self._check(layer, k)
        if not 0 <= token < query.num_tokens:
            raise InputError(f"Token {token} is out of range: the sentence has tokens 0 to {query.num_tokens - 1}.")
        vector = np.array(query.hidden_states[layer, token], np.float32)[None]  # [1, D]
        faiss.normalize_L2(vector)
        scores, rows = self._nearest(vector, layer, k)
        return SearchResult(self.model_name, layer, token, query.tokens[token], self._matches(rows, scores))

    def across_layers(self, query: Analysis, token: int, k: int = 10) -> tuple[SearchResult, ...]:
        """The same search at every layer of the index, in layer order."""
        return tuple(self.search(query, token, layer, k) for layer in self.layers)

    def occurrences(self, word: str, layer: int, groups: int | None = None) -> WordGroups:
        """Every occurrence of ``word`` (whole words, any case) at ``layer``, in ``groups`` groups, or in the number
        of groups (2 to 8) that separates them best (silhouette)."""
        self._check(layer, 1)
        rows = self._word_rows(word)
        if len(rows) == 0:
            raise InputError(f"“{word}” does not occur in this corpus.")
        places, vectors = self._word_vectors(rows, layer)
        labels, silhouette = _clusters(vectors, groups)
        return WordGroups(word, layer, _grouped(self, places, vectors, labels), silhouette)

    def count(self, word: str) -> int:
        """How many times ``word`` (a whole word, any case) occurs in the corpus."""
        return len({(row["sentence_id"], row["word_index"])
                    for row in self._rows(self._word_rows(word), "sentence_id", "word_index")})

    def token_row(self, sentence_id: int, token_index: int) -> dict:
        """The metadata of one indexed token."""
        wanted = token_ids([sentence_id], [token_index])[0]
        row = int(np.searchsorted(self.ids, wanted))
        if row >= len(self.ids) or self.ids[row] != wanted:
            raise InputError(f"Token {token_index} of sentence {sentence_id} is not in this index.")
        return self._rows(np.array([row]), *METADATA.names)[0]

    def _word_rows(self, word: str) -> np.ndarray:
        return np.flatnonzero(pc.equal(pc.utf8_lower(self.metadata.column("word")), word.strip().lower()))

    # -- searching ------------------------------------------------------------------------------------------------

    def _check(self, layer: int, k: int) -> None:
        if layer not in self.layers:
            raise InputError(f"Layer {layer} is not in this index; it holds layers {_ranges(self.layers)}.")
        if k < 1:
            raise InputError("k must be at least 1.")

    def _nearest(self, vector: np.ndarray, layer: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(exact cosines, metadata rows) of the k nearest tokens, best first."""
        index, stored = self._layer(layer)
        scores, rows = index.search(vector, k * RERANK if stored is not None else k)
        rows = rows[0][rows[0] >= 0]
        if stored is not None:  # candidates from the compressed index, scored again against their stored vectors
            candidates = np.asarray(stored[rows])
            scores = candidates @ vector[0] / np.linalg.norm(candidates, axis=1)
            best = np.argsort(-scores, kind="stable")[:k]
            return scores[best], rows[best]
        return scores[0][:len(rows)], rows

    def _layer(self, layer: int) -> tuple[faiss.Index, np.ndarray | None]:
        """Layer ``layer``'s FAISS index and, for a compressed one, its memory-mapped stored vectors; loaded (or for
        an exact one, built from the shards) once and kept while ``keep_layers`` allows (sessions share this object,
        hence the lock)."""
        with self._lock:
            if layer in self._layers:
                self._layers[layer] = self._layers.pop(layer)  # most recently used last
            else:
                self._layers[layer] = self._load(layer)
                while self.keep_layers is not None and len(self._layers) > max(1, self.keep_layers):
                    del self._layers[next(iter(self._layers))]
            return self._layers[layer]

    def _load(self, layer: int) -> tuple[faiss.Index, np.ndarray | None]:
        entry, stored = self.manifest.data["indexes"][str(layer)], None
        try:
            if entry["kind"] == "exact":
                index = exact_index(self._shards, layer, self.manifest.data["model"]["hidden_size"])
            else:
                index = faiss.read_index(str(self.directory / entry["file"]))
                faiss.extract_index_ivf(index).nprobe = NPROBE
                stored = np.load(self.directory / entry["stored"], mmap_mode="r")
        except (RuntimeError, OSError, ValueError, KeyError, pa.ArrowException) as error:
            raise CorpusIndexError(f"The index of layer {layer} in {self.directory} is damaged: "
                                   f"{str(error).splitlines()[0]}") from None
        if index.ntotal != len(self.ids) or (stored is not None and len(stored) != len(self.ids)):
            raise CorpusIndexError(f"The index of layer {layer} in {self.directory} is damaged: "
                                   f"{index.ntotal:,} vectors for {len(self.ids):,} tokens.")
        return index, stored

    @property
    def _shards(self) -> list[Path]:
        return [self.directory / shard for shard in self.manifest.data["shards"]]

    def stored_vectors(self, rows: np.ndarray, layer: int) -> np.ndarray:
        """[N, D] float32 the stored hidden states of metadata ``rows`` (sorted) at ``layer``: from the memory-mapped
        .npy of a compressed layer, or read shard by shard."""
        entry = self.manifest.data["indexes"][str(layer)]
        if entry["kind"] == "compressed":
            return np.asarray(np.load(self.directory / entry["stored"], mmap_mode="r")[rows])
        parts, first = [], 0
        for shard in self._shards:
            count = pq.ParquetFile(shard).metadata.num_rows
            wanted = rows[(rows >= first) & (rows < first + count)] - first
            if len(wanted):
                parts.append(next(stored_vectors([shard], layer))[wanted])
            first += count
        return np.concatenate(parts)

    def _matches(self, rows: np.ndarray, scores: np.ndarray) -> tuple[Match, ...]:
        found = self._rows(rows, "sentence_id", "token_index", "token", "word", "start", "end")
        return tuple(Match(score=float(score), sentence=self.sentences[meta["sentence_id"]],
                           label=self.labels[meta["sentence_id"]], **meta) for score, meta in zip(scores, found))

    # -- occurrences ----------------------------------------------------------------------------------------------

    def _word_vectors(self, rows: np.ndarray, layer: int) -> tuple[list[tuple[int, int, int]], np.ndarray]:
        """One unit vector per occurrence (the mean of its pieces' unit vectors), with (sentence id, start, end)."""
        unit = self._unit_vectors(rows, layer)
        found = self._rows(rows, "sentence_id", "word_index", "start", "end")
        pieces: dict[tuple[int, int], list[int]] = {}
        for n, row in enumerate(found):
            pieces.setdefault((row["sentence_id"], row["word_index"]), []).append(n)
        places = [(sentence, found[members[0]]["start"], found[members[-1]]["end"])
                  for (sentence, _), members in pieces.items()]
        vectors = np.stack([unit[members].mean(axis=0) for members in pieces.values()]).astype(np.float32)
        faiss.normalize_L2(vectors)
        return places, vectors

    def _unit_vectors(self, rows: np.ndarray, layer: int) -> np.ndarray:
        """The unit vectors of metadata ``rows``: from the exact index, or the memory-mapped file."""
        index, stored = self._layer(layer)
        if stored is None:
            return index.reconstruct_batch(rows)
        vectors = np.array(stored[rows], np.float32)
        faiss.normalize_L2(vectors)
        return vectors

    def _rows(self, rows: np.ndarray, *names: str) -> list[dict]:
        """Columns ``names`` of metadata ``rows``, one dict a row, taken in one go (a frequent word has thousands)."""
        return self.metadata.select(list(names)).take(np.asarray(rows, np.int64)).to_pylist()


def query_word(analysis: Analysis, token: int) -> str:
    """The whole word token ``token`` is part of, as written (a special token stands for itself)."""
    if analysis.special_mask[token]:
        return analysis.tokens[token]
    pieces = next(group for group in word_groups(analysis.word_ids.tolist()) if token in group)
    text = analysis.text_pair if analysis.segment_ids[token] else analysis.text
    return text[slice(*word_span(analysis.offsets, pieces))]


def _clusters(vectors: np.ndarray, groups: int | None) -> tuple[np.ndarray, float | None]:
    """k-means labels and the silhouette (cosine); with ``groups`` None, the best-separated count from 2 to 8."""
    from sklearn.cluster import KMeans  # imported on first use: scikit-learn costs the server 70 MB
    from sklearn.metrics import silhouette_score

    if len(vectors) < 3:
        return np.zeros(len(vectors), int), None
    if groups is not None and not 1 <= groups <= len(vectors):
        raise InputError(f"Choose between 1 and {len(vectors)} groups for {len(vectors)} occurrences.")
    counts = [groups] if groups else range(2, min(MOST_GROUPS, len(vectors) - 1) + 1)
    best = None
    for count in counts:
        labels = KMeans(n_clusters=count, n_init=10, random_state=0).fit_predict(vectors)
        score = silhouette_score(vectors, labels, metric="cosine") if 1 < count < len(vectors) else None
        if best is None or (score is not None and score > best[1]):
            best = (labels, score)
    return best


def _grouped(index: CorpusIndex, places: list[tuple[int, int, int]], vectors: np.ndarray,
             labels: np.ndarray) -> tuple[tuple[Occurrence, ...], ...]:
    groups = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        closeness = vectors[members] @ (centre / np.linalg.norm(centre))
        groups.append(tuple(
            Occurrence(places[m][0], index.sentences[places[m][0]], index.labels[places[m][0]], places[m][1],
                       places[m][2], float(c))
            for m, c in sorted(zip(members, closeness), key=lambda pair: -pair[1])))
    return tuple(sorted(groups, key=len, reverse=True))


def _ranges(layers: list[int]) -> str:
    return f"{layers[0]} to {layers[-1]}" if layers == list(range(layers[0], layers[-1] + 1)) else \
        ", ".join(map(str, layers))
