"""Corpus index figures: build throughput against a bare forward pass, search latency and recall@10 of both index
kinds as the corpus grows (with the NPROBE and RERANK sweep behind the engine's values), what a token costs on
disk and in memory, and what the Corpus atlas's views cost a browser (--parts views).

    .venv/bin/python bench/corpus.py [--parts build search bytes views] [--models offline bert-base-sized]
        [--build-tokens 20000] [--repeat 2] [--ray] [--search-model offline] [--sizes 10000 100000 1000000]
        [--queries 200] [--pq-dims 4 2] [--nprobes 8 16 32 64] [--reranks 10 20 40 80] [--bytes-tokens 100000]

Text is real English: the first paragraphs of training/work/train.txt cut into sentences by pySBD, as many sentences
as hold the tokens asked for (tokens are the indexed ones: every piece but [CLS] and [SEP]). Search queries are token
vectors of the shipped corpus bertviz_core/corpus_data/held_out.tsv, sentences held out of that text, at the last
layer of the search model, searched one at a time through CorpusIndex._nearest: the FAISS search and exact
re-ranking of CorpusIndex.search, without the query's own forward pass and the look-ups of its matches' metadata.
Recall@10 is against IndexFlatIP over the same unit vectors.

Vectors are encoded once per model, layer and text by the engine's in-process encoder and kept in
/tmp/bert-lens-bench-corpus/ (the 1M tokens of the search figures take about ten minutes on two cores; delete the
folder to encode again). Every index is then built fresh from them by build_index, with store.EXACT_UP_TO set to
choose its kind, and removed once measured. Resident memory is measured in a new process.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from bench.common import bert_base_sized  # noqa: E402
from bench.engine import interleaved  # noqa: E402
from bertviz_core import LoadedModel, load_model  # noqa: E402
from bertviz_core.corpus import CorpusIndex, Sentences, build_index, model_fingerprint, read_sentences  # noqa: E402
from bertviz_core.corpus import search, store  # noqa: E402
from bertviz_core.corpus.library import SERVER_SHARD_MB, shipped_sentences  # noqa: E402
from bertviz_core.corpus.encode import (BATCH_TOKENS, METADATA, _length_batches, encode_sentences,  # noqa: E402
                                        layer_vectors)
from bertviz_core.corpus.store import (EncodeShards, encode_shards, heads_path, model_spec, shard_path,  # noqa: E402
                                       shard_vectors)

TRAIN = ROOT / "training" / "work" / "train.txt"
SHIPPED = ROOT / "bertviz_core" / "corpus_data" / "held_out.tsv"
CACHE = Path(tempfile.gettempdir()) / "bert-lens-bench-corpus"
CHARS_PER_TOKEN = 6
"""Paragraph characters read per token asked for (this English Wikipedia text gives about 5 per token)."""
EXACT_UP_TO = {"exact": sys.maxsize, "compressed": 0}
"""store.EXACT_UP_TO that makes build_index write each kind of index."""
BUILDS: dict[str, tuple[Callable[[Path], EncodeShards], bool]] = {
    "in-process": (lambda corpus: encode_shards, True), "in-process, no atlas": (lambda corpus: encode_shards, False)}
"""The builds whose throughput is measured, by name: an encoder of the corpus file given, and whether the build
computes the head atlas's statistics (--ray adds a local Ray's)."""
CACHE_SHARD_SENTENCES = 1000
"""Sentences a shard of cached vectors: the bench's own, so that changes to the engine's shard size leave the cache
valid (an index built from it has the same shards, which only its build's memory depends on)."""
THREADS = (1, 2)
"""FAISS threads the searches are timed with; 2 (every core of the bench machine) is FAISS's default."""
K = 10


# -- text and vectors ------------------------------------------------------------------------------------------------


@functools.cache
def load(name: str) -> LoadedModel:
    """A model by name; BERT-base-sized is made once in CACHE, so its cached vectors stay valid across runs."""
    return bert_base_sized(CACHE / name) if name == "bert-base-sized" else load_model(name)


def indexed_tokens(model: LoadedModel, sentences: Sentences) -> np.ndarray:
    """Tokens each sentence gives an index: its pieces, truncated as encode_sentences truncates, bar special ones."""
    masks = model.tokenizer(list(sentences.texts), truncation=True, max_length=model.max_tokens,
                            return_special_tokens_mask=True)["special_tokens_mask"]
    return np.array([len(mask) - sum(mask) for mask in masks])


def first_tokens(model: LoadedModel, sentences: Sentences, tokens: int) -> Sentences:
    """The shortest run of ``sentences`` from the first that holds at least ``tokens`` tokens."""
    total = np.cumsum(indexed_tokens(model, sentences))
    if total[-1] < tokens:
        raise SystemExit(f"{len(sentences):,} sentences hold {total[-1]:,} tokens; {tokens:,} were asked for.")
    return sentences.part(0, int(np.searchsorted(total, tokens)) + 1)


def train_sentences(model: LoadedModel, tokens: int) -> Sentences:
    """The first sentences of train.txt (pySBD over its first paragraphs) that hold ``tokens`` tokens."""
    paragraphs, chars = [], 0
    with TRAIN.open(encoding="utf-8") as lines:
        for line in lines:
            if chars >= tokens * CHARS_PER_TOKEN:
                break
            paragraphs.append(line)
            chars += len(line)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "paragraphs.txt"
        path.write_text("".join(paragraphs), encoding="utf-8")
        return first_tokens(model, read_sentences(path, split="prose"), tokens)


@dataclass(frozen=True)
class Cached:
    """Shards of one layer's vectors of the first sentences of train.txt, written once by the engine's in-process
    encoder, and those sentences."""

    folder: Path
    sentences: Sentences
    shard_sentences: int

    def build_options(self) -> dict:
        """build_index options that index these sentences, or a run of them from the first, from this cache: its
        shard size, and an encoder that runs no model but links the cached shards, the last cut to the corpus."""
        return {"shard_sentences": self.shard_sentences, "encode": self._linked}

    def _linked(self, model, sentences, directory, layers, shard_sentences, atlas, report) -> None:
        """Both files of each shard (token rows, and sentence rows for the atlas)."""
        for number, start in enumerate(range(0, len(sentences), shard_sentences)):
            for where in (shard_path, heads_path):
                source, target = where(self.folder, number), where(directory, number)
                target.parent.mkdir(parents=True, exist_ok=True)
                if start + shard_sentences <= len(sentences):
                    os.link(source, target)
                else:
                    table = pq.read_table(source)
                    pq.write_table(table.filter(pc.less(table["sentence_id"], len(sentences))), target)


def cached_vectors(model: LoadedModel, tokens: int, layer: int) -> Cached:
    """Layer ``layer`` of the first ``tokens`` tokens of train.txt: encoded the first time, found in CACHE after."""
    sentences = train_sentences(model, tokens)
    folder = CACHE / f"{model_fingerprint(model)[:12]}-layer{layer}-{sentences.checksum[:12]}-v{store.FORMAT}"
    encode_shards(model, sentences, folder, [layer], CACHE_SHARD_SENTENCES, True, progress(f"vectors of {model.name}"))
    return Cached(folder, sentences, CACHE_SHARD_SENTENCES)


def progress(what: str):
    def report(done: int, total: int, unit: str) -> None:
        print(f"\r{what}: {done:,}/{total:,} {unit}", end="\n" if done == total else "", file=sys.stderr, flush=True)
    return report


@contextlib.contextmanager
def built(model: LoadedModel, sentences: Sentences, layers: list[int] | None, kind: str | None = None,
          **options) -> Iterator[tuple[Path, float]]:
    """(folder, seconds) of a fresh build_index of ``sentences`` (with ``options``) writing ``kind`` of index
    (default: the engine's choice); the folder is removed on exit."""
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as folder, \
            mock.patch.object(store, "EXACT_UP_TO", EXACT_UP_TO.get(kind, store.EXACT_UP_TO)):
        start = time.perf_counter()
        build_index(model, sentences, folder, layers, **options)
        yield Path(folder), time.perf_counter() - start


# -- 1. build throughput ---------------------------------------------------------------------------------------------


def bare_passes(model: LoadedModel, sentences: Sentences, shard_sentences: int) -> None:
    """What no build can skip: tokenization and a forward pass with hidden states of each of encode_sentences'
    batches (sorted by length, at most BATCH_TOKENS padded tokens), the outputs discarded; one shard of
    ``shard_sentences`` at a time, as encode_shards cuts them (all of them at once for the least padding)."""
    for start in range(0, len(sentences), shard_sentences):
        encodings = model.tokenizer(list(sentences.part(start, start + shard_sentences).texts), truncation=True,
                                    max_length=model.max_tokens)
        for batch in _length_batches([len(ids) for ids in encodings["input_ids"]], BATCH_TOKENS):
            inputs = model.tokenizer.pad({name: [encodings[name][i] for i in batch] for name in encodings},
                                         return_tensors="pt")
            with torch.inference_mode():
                model.encoder(**inputs, output_hidden_states=True)


def build_throughput(model: LoadedModel, sentences: Sentences, shard_sentences: int, encode: EncodeShards,
                     atlas: bool, repeat: int) -> list[float]:
    """Best seconds of [the bare passes shard by shard, the bare passes of all sentences at once, build_index at
    every layer with ``encode`` and ``atlas``], timed in turns."""
    def build() -> None:
        with built(model, sentences, None, encode=encode, atlas=atlas):
            pass
    return interleaved([lambda: bare_passes(model, sentences, shard_sentences),
                        lambda: bare_passes(model, sentences, len(sentences)), build], repeat)


def build_table(names: list[str], tokens: int, repeat: int) -> None:
    header(f"### Build throughput: about {tokens:,} tokens of train.txt, every layer, best of {repeat}; bare: "
           "tokenization and forward passes batched shard by shard as the build does, or over all sentences at once",
           "model", "encoder", "tokens", "sentences a shard", "bare s, shards", "bare s, at once", "build s",
           "build tokens/s", "build s / bare s, shards", "build s / bare s, at once")
    for name in names:
        model = load(name)
        with tempfile.TemporaryDirectory() as folder:  # a Ray build reads its corpus from a file
            corpus = Path(folder) / "corpus.txt"
            corpus.write_text("\n".join(train_sentences(model, tokens).texts), encoding="utf-8")
            sentences = read_sentences(corpus)
            count = int(indexed_tokens(model, sentences).sum())
            shard_sentences = store.sentences_per_shard(model, sentences, store.checked_layers(model, None),
                                                      store.SHARD_MB)
            for encoder, (encoding, atlas) in BUILDS.items():
                build_row(name, model, encoder, count, shard_sentences,
                          build_throughput(model, sentences, shard_sentences, encoding(corpus), atlas, repeat))


def build_row(name: str, model: LoadedModel, encoder: str, count: int, shard_sentences: int,
              seconds: list[float]) -> None:
    by_shard, at_once, build = seconds
    row(f"{name} {model.num_layers}x{model.config.hidden_size}", encoder, f"{count:,}", shard_sentences,
        f"{by_shard:.1f}", f"{at_once:.1f}", f"{build:.1f}", f"{count / build:,.0f}",
        f"{build / by_shard:.2f}", f"{build / at_once:.2f}")


def ray_build(corpus: Path) -> EncodeShards:
    from bertviz_core.corpus.on_ray import ray_encoder

    return ray_encoder(None, corpus, progress_bars=False)


# -- 2. search latency and recall ------------------------------------------------------------------------------------


def held_out_queries(model: LoadedModel, layer: int, count: int) -> np.ndarray:
    """Unit vectors [count, D] of tokens of the shipped corpus at ``layer``, drawn with a fixed seed."""
    table = encode_sentences(model, read_sentences(SHIPPED, labels=True), 0, [layer]).tokens
    vectors = layer_vectors(table, layer)
    chosen = vectors[np.random.default_rng(0).choice(len(vectors), count, replace=False)]
    faiss.normalize_L2(chosen)
    return chosen


def exact_rows(folder: Path, layer: int, queries: np.ndarray) -> np.ndarray:
    """Metadata rows [Q, K] of each query's true nearest tokens: IndexFlatIP over the index's unit vectors, added
    a part at a time in row order."""
    flat = faiss.IndexFlatIP(queries.shape[1])
    for vectors in unit_vectors(folder, layer):
        flat.add(vectors)
    return flat.search(queries, K)[1]


def unit_vectors(folder: Path, layer: int, part: int = 100_000) -> Iterator[np.ndarray]:
    """An index's unit vectors at ``layer`` in row order, a part at a time: from its shards, or from a compressed
    index's .npy (its shards then hold no vectors)."""
    stored_file = folder / f"layer-{layer}.npy"
    if not stored_file.exists():
        yield from shard_vectors(sorted((folder / "shards").glob("*.parquet")), layer)
        return
    stored = np.load(stored_file, mmap_mode="r")
    for start in range(0, len(stored), part):
        vectors = np.array(stored[start:start + part])
        faiss.normalize_L2(vectors)
        yield vectors


def searched(corpus: CorpusIndex, layer: int, queries: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(milliseconds of each query, searched one at a time, after one untimed query that loads the index;
    metadata rows found for each)."""
    corpus._nearest(queries[:1], layer, K)
    milliseconds, found = [], []
    for vector in queries:
        start = time.perf_counter()
        _, rows = corpus._nearest(vector[None], layer, K)
        milliseconds.append((time.perf_counter() - start) * 1e3)
        found.append(rows)
    return np.array(milliseconds), found


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(rows, best)) / K for rows, best in zip(found, truth)]))


def timed_threads(corpus: CorpusIndex, layer: int, queries: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """(p50 and p95 ms with each of THREADS, the rows found), leaving FAISS on its default threads."""
    cells = []
    for threads in THREADS:
        faiss.omp_set_num_threads(threads)
        milliseconds, found = searched(corpus, layer, queries)
        cells += [f"{np.percentile(milliseconds, 50):.2f}", f"{np.percentile(milliseconds, 95):.2f}"]
    faiss.omp_set_num_threads(THREADS[-1])
    return cells, found


def sweep(model: LoadedModel, folder: Path, layer: int, queries: np.ndarray, truth: np.ndarray, nprobes: list[int],
          reranks: list[int]) -> Iterator[list[str]]:
    """Table rows of recall@10 and latency of a compressed index for each NPROBE and RERANK, set as the engine reads
    them (NPROBE when an index is loaded, RERANK at each search)."""
    for nprobe in nprobes:
        with mock.patch.object(search, "NPROBE", nprobe):
            corpus = CorpusIndex(folder, model)
            for rerank in reranks:
                with mock.patch.object(search, "RERANK", rerank):
                    milliseconds, found = searched(corpus, layer, queries)
                yield [str(nprobe), str(rerank), f"{recall(found, truth):.3f}",
                       f"{np.percentile(milliseconds, 50):.2f}", f"{np.percentile(milliseconds, 95):.2f}"]


def faiss_bytes_per_token(folder: Path, layer: int) -> float:
    """A compressed index's file, or the memory an exact index takes once built from the shards."""
    manifest = store.read_manifest(folder)
    return manifest.data["indexes"][str(layer)]["bytes"] / manifest.data["tokens"]


def search_tables(name: str, sizes: list[int], count: int, pq_dims: list[int], nprobes: list[int],
                  reranks: list[int]) -> None:
    model = load(name)
    layer = model.num_layers
    cache = cached_vectors(model, max(sizes), layer)
    queries = held_out_queries(model, layer, count)
    size_table(model, cache, layer, queries, sizes)
    sweep_table(model, cache, layer, queries, pq_dims, nprobes, reranks)


def size_table(model: LoadedModel, cache: Cached, layer: int, queries: np.ndarray, sizes: list[int]) -> None:
    latency = [f"p{p} ms {t} thread{'s' * (t > 1)}" for t in THREADS for p in (50, 95)]
    header(f"### Search: {model.name} layer {layer}, {len(queries)} held-out query tokens one at a time, k={K}, "
           f"NPROBE={search.NPROBE}, RERANK={search.RERANK}; goal p95 <= 10 ms, recall@10 >= 0.95",
           "vectors", "kind", "index build s", "FAISS B/token", *latency, "recall@10")
    for size in sorted(sizes):
        part = first_tokens(model, cache.sentences, size)
        for kind in EXACT_UP_TO:
            with built(model, part, [layer], kind, **cache.build_options()) as (folder, seconds):
                truth = exact_rows(folder, layer, queries)
                corpus = CorpusIndex(folder, model)
                cells, found = timed_threads(corpus, layer, queries)
                row(f"{len(corpus.ids):,}", kind, f"{seconds:.1f}", f"{faiss_bytes_per_token(folder, layer):.0f}",
                    *cells, f"{recall(found, truth):.3f}")


def sweep_table(model: LoadedModel, cache: Cached, layer: int, queries: np.ndarray, pq_dims: list[int],
                nprobes: list[int], reranks: list[int]) -> None:
    """The compressed index of every cached vector with each PQ layout (``store._pq_parts`` replaced), NPROBE and
    RERANK."""
    header(f"### Compressed index of all {indexed_tokens(model, cache.sentences).sum():,} vectors: PQ layout, NPROBE "
           f"and RERANK (FAISS threads: {THREADS[-1]})", "PQ", "FAISS B/token", "NPROBE", "RERANK", "recall@10",
           "p50 ms", "p95 ms")
    for dims_per_code in pq_dims:
        with mock.patch.object(store, "_pq_parts", lambda dimensions: dimensions // dims_per_code), \
                built(model, cache.sentences, [layer], "compressed", **cache.build_options()) as (folder, _):
            truth = exact_rows(folder, layer, queries)
            layout = [f"PQ{model.config.hidden_size // dims_per_code}x4fs",
                      f"{faiss_bytes_per_token(folder, layer):.0f}"]
            for cells in sweep(model, folder, layer, queries, truth, nprobes, reranks):
                row(*layout, *cells)


# -- 3. bytes on disk and in memory ----------------------------------------------------------------------------------


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def held_bytes(folder: Path, spec: str, layer: int) -> dict[str, int]:
    """Run in a new process: the resident bytes each step of a server's first search of a corpus adds, and
    CorpusIndex.nbytes then. The steps: model_fingerprint (once per loaded model); Arrow's first Parquet read (its
    modules, thread pools and allocator, once per process: one shard's metadata, read and dropped); opening the
    CorpusIndex (every token's metadata); loading its index of ``layer``."""
    pa.set_memory_pool(pa.system_memory_pool())  # as the app does (app_pages/compute.py)
    model = load_model(spec)
    sizes = [resident_bytes()]
    model_fingerprint(model)
    sizes.append(resident_bytes())
    pq.read_table(shard_path(folder, 0), columns=METADATA.names)
    sizes.append(resident_bytes())
    corpus = CorpusIndex(folder, model)
    sizes.append(resident_bytes())
    corpus._layer(layer)
    sizes.append(resident_bytes())
    return dict(zip(["fingerprint", "first read", "metadata", "index"], np.diff(sizes).tolist()), nbytes=corpus.nbytes)


def held_in_new_process(folder: Path, model: LoadedModel, layer: int) -> dict[str, int]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(held_bytes, folder, model_spec(model), layer).result()


def disk_bytes(folder: Path) -> dict[str, int]:
    """Bytes on disk of: the shards' vector and norm columns, the rest of the shards (metadata columns and
    Parquet's own), the FAISS files, the exact vectors (.npy), and everything else (sentences, manifest)."""
    shards = list((folder / "shards").glob("*.parquet"))
    vectors = sum(chunk.total_compressed_size for shard in shards for chunk in column_chunks(shard)
                  if chunk.path_in_schema.startswith(("vector_", "norm_")))
    parts = {"vectors": vectors, "metadata": size_of(shards) - vectors, "faiss": size_of(folder.glob("*.faiss")),
             "npy": size_of(folder.glob("*.npy"))}
    return dict(parts, rest=size_of(folder.rglob("*")) - sum(parts.values()))


def vector_bytes(model: LoadedModel, manifest: store.Manifest) -> int:
    """The float32 vectors of an index: every token at every layer."""
    return manifest.data["tokens"] * len(manifest.layers) * model.config.hidden_size * 4


def column_chunks(shard: Path):
    meta = pq.ParquetFile(shard).metadata
    return [meta.row_group(group).column(column) for group in range(meta.num_row_groups)
            for column in range(meta.num_columns)]


def size_of(paths) -> int:
    return sum(path.stat().st_size for path in paths if path.is_file())


def per_token_table(names: list[str], tokens: int) -> None:
    header(f"### Bytes per token per layer: about {tokens:,} tokens of train.txt at the last layer; resident bytes "
           "in a new process after Arrow's first read", "model", "kind", "tokens", "Parquet metadata",
           "Parquet vectors", "FAISS", ".npy", "disk / float32 vector", "resident metadata", "resident index",
           "CorpusIndex.nbytes")
    for name in names:
        model = load(name)
        layer = model.num_layers
        cache = cached_vectors(model, tokens, layer)
        for kind in EXACT_UP_TO:
            with built(model, cache.sentences, [layer], kind, **cache.build_options()) as (folder, _):
                count = store.read_manifest(folder).data["tokens"]
                disk = disk_bytes(folder)
                held = held_in_new_process(folder, model, layer)
                row(f"{name} {model.config.hidden_size}d", kind, f"{count:,}",
                    *(f"{value / count:.0f}" for value in (disk["metadata"], disk["vectors"], disk["faiss"],
                                                           disk["npy"])),
                    f"{sum(disk.values()) / (count * model.config.hidden_size * 4):.3f}",
                    *(f"{value / count:.0f}" for value in (held["metadata"], held["index"], held["nbytes"])))


def shipped_table(names: list[str]) -> None:
    sentences = shipped_sentences()
    header(f"### The shipped corpus (the app's: written.tsv and {SHIPPED.name}, {len(sentences)} sentences) at "
           "every layer, built as the app builds it: one build, "
           "what a fresh server pays before its first search", "model", "layers", "kind", "tokens", "build s",
           "Parquet MB", "FAISS MB", ".npy MB", "total MB", "total / float32 vectors", "resident MB: model_fingerprint",
           "resident MB: first Parquet read", "resident MB: corpus, one layer loaded")
    for name in names:
        model = load(name)
        with built(model, sentences, None, shard_mb=SERVER_SHARD_MB) as (folder, seconds):
            manifest = store.read_manifest(folder)
            disk = disk_bytes(folder)
            held = held_in_new_process(folder, model, model.num_layers)
            row(name, len(manifest.layers), manifest.data["indexes"][str(model.num_layers)]["kind"],
                f"{manifest.data['tokens']:,}", f"{seconds:.1f}",
                *(f"{value / 1e6:.1f}" for value in (disk["metadata"] + disk["vectors"], disk["faiss"], disk["npy"],
                                                     sum(disk.values()))),
                f"{sum(disk.values()) / vector_bytes(model, manifest):.3f}",
                *(f"{value / 1e6:.1f}" for value in (held["fingerprint"], held["first read"],
                                                     held["metadata"] + held["index"])))


# -- output ----------------------------------------------------------------------------------------------------------


def views_table(names: list[str], sentences: int) -> None:
    """The Corpus atlas's views in Chromium (bench/pages.py): bytes sent, and seconds until drawn, also once the data
    is cached on the server. First on the shipped corpus (the corpus page first, so its visit builds the index),
    then on an index folder of ``sentences`` sentences of train.txt, big enough for the views' sample limits."""
    from bench.pages import ATLAS_VIEWS, PAGES, measure

    for name in names:
        folder = large_index(load(name), sentences)
        large = {f"{label} of {sentences:,} sentences": (path, dict(extra, atlas_corpus="folder",
                                                                    atlas_folder=str(folder)))
                 for label, (path, extra) in ATLAS_VIEWS.items()}
        PAGES.update(large)
        measure(name, [128], ["corpus", *ATLAS_VIEWS, *(f"{label}, again" for label in ATLAS_VIEWS), *large])


def large_index(model: LoadedModel, count: int) -> Path:
    """An index of the first ``count`` sentences of train.txt at the layers the atlas's default views read (0, the
    first layer's input, and the last), built once in CACHE."""
    folder = CACHE / f"atlas-{model_fingerprint(model)[:12]}-{count}-v{store.FORMAT}"
    with contextlib.suppress(store.CorpusIndexError):
        store.read_manifest(folder)
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    sentences = train_sentences(model, count * 30)
    if len(sentences) < count:
        raise SystemExit(f"train.txt gave {len(sentences):,} sentences; {count:,} were asked for.")
    build_index(model, sentences.part(0, count), folder, [0, model.num_layers],
                progress=progress(f"index of {count:,} sentences"))
    return folder


def header(title: str, *columns: str) -> None:
    print(f"\n{title}\n\n| {' | '.join(columns)} |\n|{'---|' * len(columns)}", flush=True)


def row(*cells) -> None:
    print(f"| {' | '.join(map(str, cells))} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["build", "search", "bytes", "views"]
    parser.add_argument("--parts", nargs="+", choices=parts, default=parts)
    parser.add_argument("--models", nargs="+", default=["offline", "bert-base-sized"], help="for build and bytes")
    parser.add_argument("--build-tokens", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2, help="builds timed, best of this many")
    parser.add_argument("--ray", action="store_true", help="time builds on a local Ray too (requirements-ray.txt)")
    parser.add_argument("--search-model", default="offline")
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pq-dims", nargs="+", type=int, default=[4, 2],
                        help="dimensions per 4-bit PQ code of the compressed indexes swept (the engine's: 4)")
    parser.add_argument("--nprobes", nargs="+", type=int, default=[8, 16, 32, 64])
    parser.add_argument("--reranks", nargs="+", type=int, default=[10, 20, 40, 80])
    parser.add_argument("--bytes-tokens", type=int, default=100_000)
    parser.add_argument("--view-sentences", type=int, default=20_000, help="sentences of the views' big index")
    args = parser.parse_args()
    if not TRAIN.exists():
        parser.exit(2, f"{TRAIN.relative_to(ROOT)} is missing: fetch it first with "
                       ".venv/bin/python training/corpus.py (a few seconds, from the package registries)\n")
    began = time.perf_counter()
    if args.ray:
        BUILDS["local Ray"] = (ray_build, True)
    if "build" in args.parts:
        build_table(args.models, args.build_tokens, args.repeat)
    if "search" in args.parts:
        search_tables(args.search_model, args.sizes, args.queries, args.pq_dims, args.nprobes, args.reranks)
    if "bytes" in args.parts:
        per_token_table(args.models, args.bytes_tokens)
        shipped_table(args.models)
    if "views" in args.parts:
        views_table(args.models, args.view_sentences)
    print(f"\ntotal {(time.perf_counter() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
