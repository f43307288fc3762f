"""A corpus index on disk: Parquet shards of token rows holding each layer's vectors once, and a manifest that names
the model, the corpus and the library versions it was built with.

    DIR/manifest.json          what was built, from what, with what; "complete" once every file is written
    DIR/sentences.parquet      sentence_id, text, label
    DIR/shards/NNNNN.parquet   token rows of sentences [n * shard_sentences, (n + 1) * shard_sentences), in id order
    DIR/heads/NNNNN.parquet    the same sentences' rows: every head's statistics on each, its [CLS] hidden states
    DIR/atlas.parquet          every head's statistics over the corpus (``heads.HeadAtlas``)
    DIR/layer-L.faiss          (compressed indexes only) layer L's IVF-PQ codes, labelled by metadata row
    DIR/layer-L.npy            (compressed indexes only) layer L's vectors in row order, memory-mapped to re-rank
                               candidates; the shards then keep no vector columns, so every vector is on disk once

An exact layer has no file of its own: its ``IndexFlatIP`` is built from the shards' vectors when the layer is first
searched (``exact_index``).

Every file is written under a temporary name and renamed when whole and on disk (``files.write_whole``), so a killed
build leaves only whole shards, and a restart carries on from them.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from weakref import WeakKeyDictionary

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..analysis import InputError
from ..loading import LoadedModel
from .encode import (METADATA, SENTENCE_HEADS, Encoded, encode_sentences, layer_vectors,
                     sentence_heads, vector_column)
from .files import write_whole
from .heads import STATISTICS, AtlasSums, write_atlas
from .text import Sentences

FORMAT = 4
"""2: vectors stored as fixed-size binary (``encode.float32_field``) instead of lists of floats; 3: head statistics
and [CLS] hidden states per sentence, and the head atlas; 4: each vector stored once (no exact index files; a
compressed layer's vectors in its .npy only), FAISS labels are metadata rows."""
SHARD_MB = 256
"""A build holds one shard's rows at a time, whatever the corpus size, each about this many MB of vectors by default
(some 24,000 tokens of the offline model at its seven layers, 6,400 of BERT-base at thirteen), and writes them before
it encodes the next. Smaller shards cost speed, not only memory: sentences are sorted by length within a shard, so
a small one pads more (BERT-base-sized, 20,000 tokens: bare passes 25 s in shards of 22 sentences, 16 s in one batch
order)."""
SAMPLE_SENTENCES = 1000
EXACT_UP_TO = 50_000
"""Up to this many vectors per layer the index is exact (flat inner product: p95 4.2 ms a query at 50,000 on one
core, 17 ms at 100,000); above it, compressed (IVF-PQ) with its candidates re-ranked against the stored vectors
(docs/benchmarks.md, "Corpus search")."""
RERANK = 40
"""A compressed search fetches k x RERANK candidates and re-ranks them exactly: at 1M real vectors recall@10 is 0.89
with 10, 0.945 with 20 and 0.97 with 40, p95 still under 1 ms (bench/corpus.py)."""
METADATA_BYTES = 48
"""Disk a token's metadata takes at most, besides its vectors (ids, token, word and offsets, as Parquet compresses
them: 28 in the shipped corpus)."""
ATLAS_ROW_BYTES = 200
"""Disk the atlas takes per head and statistic at most (93 measured), which also covers the manifest and Parquet's
own bytes in a small corpus."""
LIBRARIES = ("torch", "transformers", "faiss-cpu", "pyarrow", "numpy")

Progress = Callable[[int, int, str], None]
"""(done, total, what) -> None: called as shards and layers are written."""


class CorpusIndexError(InputError):
    """The index folder cannot be used: missing, damaged, unfinished, or built with another model or corpus."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    data: dict

    @property
    def layers(self) -> list[int]:
        return self.data["layers"]

    @property
    def complete(self) -> bool:
        return self.data.get("complete", False)


# ---------------------------------------------------------------------------------------------
# Naming a model and a corpus
# ---------------------------------------------------------------------------------------------

_FINGERPRINTS: WeakKeyDictionary = WeakKeyDictionary()


def model_fingerprint(model: LoadedModel) -> str:
    """A checksum of the encoder's configuration and weights: two models with the same fingerprint give the same
    vectors. Computed once per loaded model (a second for BERT-base)."""
    encoder = model.encoder
    if encoder not in _FINGERPRINTS:
        digest = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
        for name, tensor in sorted(encoder.state_dict().items()):
            digest.update(name.encode())
            # The tensor's own bytes, seen through a view: a copy of every weight (tobytes) left 440 MB of freed
            # memory that a BERT-base-sized server never got back.
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy())
        _FINGERPRINTS[encoder] = digest.hexdigest()
    return _FINGERPRINTS[encoder]


def model_spec(model: LoadedModel) -> str:
    """What ``load_model`` takes to load this model again: the shipped models by their alias, others by location."""
    return model.source if model.source in ("offline", "embedded") else model.location


def library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **{name: metadata.version(name) for name in LIBRARIES}}


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------

EncodeShards = Callable[[LoadedModel, Sentences, Path, list[int], int, bool, Progress], None]
"""(model, sentences, folder, layers, shard_sentences, atlas, progress): writes every missing shard of a corpus into
a folder, with every head's statistics per sentence if ``atlas``; in-process (``encode_shards``) or on Ray."""


def build_index(model: LoadedModel, sentences: Sentences, directory: str | Path, layers: list[int] | None = None,
                *, source: str = "", shard_sentences: int | None = None, shard_mb: int = SHARD_MB,
                atlas: bool = True, progress: Progress | None = None, encode: EncodeShards | None = None) -> Manifest:
    """Index every token of ``sentences`` at ``layers`` (default: all, 0 = the embedding output) in ``directory``,
    in shards of ``shard_sentences`` (default: about ``shard_mb`` of vectors each), carrying on from the whole shards
    a killed build left there; with every head's statistics (``heads``) unless ``atlas`` is False. Returns the
    finished manifest."""
    layers = checked_layers(model, layers)
    shard_sentences = shard_sentences or sentences_per_shard(model, sentences, layers, shard_mb)
    directory = Path(directory)
    manifest = _started(model, sentences, directory, layers, source, shard_sentences, atlas)
    _write_sentences(directory, sentences)
    progress = progress or (lambda done, total, what: None)
    (encode or encode_shards)(model, sentences, directory, layers, shard_sentences, atlas, progress)
    return _finished(manifest, directory, progress)


def checked_layers(model: LoadedModel, layers: list[int] | None) -> list[int]:
    everything = list(range(model.num_layers + 1))
    if layers is None:
        return everything
    wrong = [layer for layer in layers if layer not in everything]
    if wrong or not layers:
        raise InputError(f"Layers run from 0 (the embedding output) to {model.num_layers}; got {layers}.")
    return sorted(set(layers))


def build_bytes(model: LoadedModel, sentences: Sentences, tokens: int, layers: list[int] | None = None) -> int:
    """The disk a build of ``sentences`` holding ``tokens`` indexed tokens (``library.token_count``) takes at
    ``layers`` (default: all), at most: each token's vector and norm at every layer and its metadata, each
    sentence's text, [CLS] vectors and every head's statistics, and a compressed index's codes."""
    layers, dimensions = checked_layers(model, layers), model.config.hidden_size
    per_token = len(layers) * (dimensions * 4 + 4) + METADATA_BYTES
    if tokens > EXACT_UP_TO:  # 4-bit codes and an 8-byte label per token and layer
        per_token += len(layers) * (_pq_parts(dimensions) // 2 + 8)
    statistics = model.num_layers * model.num_heads * len(STATISTICS)
    per_sentence = len(layers) * dimensions * 4 + statistics * 4
    text = sum(len(text.encode()) for text in sentences.texts)
    return tokens * per_token + len(sentences) * per_sentence + text + statistics * ATLAS_ROW_BYTES


def sentences_per_shard(model: LoadedModel, sentences: Sentences, layers: list[int], shard_mb: int) -> int:
    """Sentences whose vectors make about ``shard_mb``, from the token count of the first SAMPLE_SENTENCES (so the
    same corpus and model always give the same shards)."""
    sample = sentences.part(0, SAMPLE_SENTENCES)
    tokens = sum(map(len, model.tokenizer(list(sample.texts), truncation=True,
                                          max_length=model.max_tokens)["input_ids"])) / len(sample)
    per_sentence = tokens * len(layers) * model.config.hidden_size * 4
    return max(1, int(shard_mb * 1_000_000 // per_sentence))


def encode_shards(model: LoadedModel, sentences: Sentences, directory: Path, layers: list[int],
                  shard_sentences: int, atlas: bool, progress: Progress) -> None:
    """The in-process build: one shard at a time, encoded then written."""
    for number, start in enumerate(range(0, len(sentences), shard_sentences)):
        stop = min(start + shard_sentences, len(sentences))
        if not shard_path(directory, number).exists():
            write_shard(directory, number, encode_sentences(model, sentences.part(start, stop), start, layers, atlas))
        progress(stop, len(sentences), "sentences")


def shard_path(directory: Path, number: int) -> Path:
    return directory / "shards" / f"{number:05d}.parquet"


def heads_path(directory: Path, number: int) -> Path:
    return directory / "heads" / f"{number:05d}.parquet"


def write_shard(directory: Path, number: int, encoded: Encoded) -> None:
    """The sentence rows first, then the token rows: a shard whose token file exists is whole."""
    write_whole(heads_path(directory, number), partial(_write_rows, encoded.sentences))
    write_whole(shard_path(directory, number), partial(_write_rows, encoded.tokens))


def _write_rows(rows: pa.Table, file: BinaryIO) -> None:
    """Vectors do not compress (snappy saved under 1%) and never repeat, so their columns are stored plain: a layer's
    first search reads them back at disk speed."""
    plain = [field.name for field in rows.schema if pa.types.is_fixed_size_binary(field.type)]
    kept = [name for name in rows.column_names if name not in plain]
    pq.write_table(rows, file, compression={name: "none" if name in plain else "snappy" for name in rows.column_names},
                   use_dictionary=kept, write_statistics=kept)


def _started(model: LoadedModel, sentences: Sentences, directory: Path, layers: list[int], source: str,
             shard_sentences: int, atlas: bool) -> Manifest:
    """The manifest of this build: new in an empty folder, or the one a killed build left (which must match)."""
    wanted = {
        "format": FORMAT,
        "model": {"name": model.name, "spec": model_spec(model), "location": model.location, "family": model.family,
                  "fingerprint": model_fingerprint(model), "hidden_size": model.config.hidden_size,
                  "num_layers": model.num_layers, "num_heads": model.num_heads},
        "layers": layers,
        "corpus": {"source": source, "checksum": sentences.checksum, "sentences": len(sentences),
                   "labelled": any(sentences.labels)},
        "shard_sentences": shard_sentences,
        "atlas": atlas,
        "versions": library_versions(),
    }
    path = directory / "manifest.json"
    if path.exists():
        found = _read_manifest(path)
        differ = [key for key in ("format", "layers", "shard_sentences") if found.get(key) != wanted[key]]
        differ += ["head statistics"] * (bool(found.get("atlas")) != atlas)
        differ += ["model weights"] * (found["model"].get("fingerprint") != wanted["model"]["fingerprint"])
        differ += ["corpus"] * (found["corpus"].get("checksum") != wanted["corpus"]["checksum"])
        if differ:
            raise CorpusIndexError(f"{directory} holds an index of another build ({', '.join(differ)} differ); "
                                   "choose an empty folder.")
        return Manifest(path, found)
    if directory.exists() and any(directory.iterdir()):
        raise CorpusIndexError(f"{directory} is not empty and holds no index; choose an empty or new folder.")
    _write_manifest(path, wanted)  # first: a folder with a manifest is this build's, whatever else a kill left out
    return Manifest(path, wanted)


def _write_sentences(directory: Path, sentences: Sentences) -> None:
    if not (directory / "sentences.parquet").exists():
        write_whole(directory / "sentences.parquet", lambda file: pq.write_table(pa.table({
            "sentence_id": pa.array(range(len(sentences)), pa.int64()), "text": sentences.texts,
            "label": sentences.labels}), file))


def _finished(manifest: Manifest, directory: Path, progress: Progress) -> Manifest:
    shards = sorted((directory / "shards").glob("*.parquet"))
    tokens = sum(pq.ParquetFile(shard).metadata.num_rows for shard in shards)
    data = dict(manifest.data, tokens=tokens, shards=[str(s.relative_to(directory)) for s in shards])
    if tokens == 0:
        raise InputError("The corpus has no tokens to index.")
    data["atlas"] = _write_atlas(directory, manifest, len(shards)) if manifest.data["atlas"] else False
    data["indexes"] = _write_indexes(directory, shards, tokens, manifest, progress)
    data["complete"] = True
    _write_manifest(manifest.path, data)
    return Manifest(manifest.path, data)


def _write_atlas(directory: Path, manifest: Manifest, shards: int) -> dict:
    """Every head's statistics over the corpus, summed shard by shard from the sentence rows."""
    sums = AtlasSums()
    model = manifest.data["model"]
    for number in range(shards):
        table = pq.read_table(heads_path(directory, number), columns=["sentence_id", SENTENCE_HEADS])
        sums.add(table.column("sentence_id").to_numpy(),
                 sentence_heads(table, model["num_layers"], model["num_heads"]))
    path = directory / "atlas.parquet"
    write_whole(path, lambda file: write_atlas(file, sums.atlas()))
    return {"file": path.name, "statistics": list(STATISTICS), "sentences": sums.count}


# ---------------------------------------------------------------------------------------------
# FAISS, one index per layer
# ---------------------------------------------------------------------------------------------


def _write_indexes(directory: Path, shards: list[Path], tokens: int, manifest: Manifest,
                   progress: Progress) -> dict[str, dict]:
    """Every layer's index described for the manifest: exact ones are built when first searched; compressed ones are
    written now (FAISS trains and fills each on every core), and their vectors leave the shards for their .npy."""
    exact = tokens <= EXACT_UP_TO
    described = {}
    for done, layer in enumerate(manifest.layers):
        described[str(layer)] = _exact_entry(tokens, manifest.data["model"]["hidden_size"]) if exact else \
            _compressed_entry(directory, shards, layer, tokens)
        progress(done + 1, len(manifest.layers), "layers")
    if not exact:
        _without_vectors(shards, manifest.layers)
    return described


def _exact_entry(tokens: int, dimensions: int) -> dict:
    return {"kind": "exact", "factory": "IndexFlatIP", "vectors": tokens, "bytes": tokens * dimensions * 4}


def _compressed_entry(directory: Path, shards: list[Path], layer: int, tokens: int) -> dict:
    """Layer ``layer``'s codes and vectors, written unless a killed build's end left them (the codes are written
    last, and the shards lose their vectors only once every layer's are written)."""
    path = directory / f"layer-{layer}.faiss"
    if not path.exists():
        built = _compressed_index(shards, layer, tokens, directory / f"layer-{layer}.npy")
        write_whole(path, lambda file: faiss.write_index(built, faiss.PyCallbackIOWriter(file.write)))
        del built
    codes = faiss.read_index(str(path))
    return {"kind": "compressed", "file": path.name, "stored": f"layer-{layer}.npy",
            "factory": type(faiss.extract_index_ivf(codes)).__name__, "vectors": codes.ntotal,
            "bytes": path.stat().st_size}


def _without_vectors(shards: list[Path], layers: list[int]) -> None:
    """Each shard written again without its vector columns, once the .npy files hold them."""
    vectors = set(map(vector_column, layers))
    for shard in shards:
        columns = pq.read_schema(shard).names
        kept = [name for name in columns if name not in vectors]
        if kept != columns:
            table = pq.read_table(shard, columns=kept)
            write_whole(shard, partial(_write_rows, table))


def stored_vectors(shards: list[Path], layer: int) -> Iterator[np.ndarray]:
    """The stored vectors [N, D] float32 (read-only) of each shard in turn, reading only this layer's column."""
    for shard in shards:
        yield layer_vectors(pq.read_table(shard, columns=[vector_column(layer)], memory_map=True), layer)


def shard_vectors(shards: list[Path], layer: int) -> Iterator[np.ndarray]:
    """The unit vectors [N, D] float32 of each shard in turn."""
    for stored in stored_vectors(shards, layer):
        vectors = stored.copy()
        faiss.normalize_L2(vectors)
        yield vectors


def exact_index(shards: list[Path], layer: int, dimensions: int) -> faiss.IndexFlatIP:
    """Layer ``layer``'s unit vectors in an ``IndexFlatIP``, labelled by metadata row: the stored vectors go in as
    read, and are normalised where FAISS holds them (one copy of them fewer than ``shard_vectors``)."""
    index = faiss.IndexFlatIP(dimensions)
    for stored in stored_vectors(shards, layer):
        index.add(stored)
    faiss.normalize_L2(faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d))
    return index


def _compressed_index(shards: list[Path], layer: int, tokens: int, stored_file: Path) -> faiss.Index:
    """IVF-PQ trained on a sample spread over the corpus and labelled by metadata row; the stored vectors go to a
    .npy in row order, which search memory-maps to re-rank the candidates."""
    sample, dimensions = _training_sample(shards, layer, tokens)
    lists = max(1, min(int(4 * np.sqrt(tokens)), len(sample) // 39))  # FAISS wants 39 training points per list
    index = faiss.index_factory(dimensions, f"IVF{lists},PQ{_pq_parts(dimensions)}x4fs", faiss.METRIC_INNER_PRODUCT)
    index.train(sample)
    del sample

    def fill(file: BinaryIO) -> None:
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False,
                                                    "shape": (tokens, dimensions)})
        for stored in stored_vectors(shards, layer):
            file.write(stored)
            vectors = stored.copy()
            faiss.normalize_L2(vectors)
            index.add(vectors)

    write_whole(stored_file, fill)
    return index


def _training_sample(shards: list[Path], layer: int, tokens: int, size: int = 100_000) -> tuple[np.ndarray, int]:
    """About ``size`` vectors drawn evenly from every shard (a fixed seed, so rebuilding gives the same index)."""
    generator = np.random.default_rng(0)
    share = min(1.0, size / tokens)
    parts = [vectors[generator.random(len(vectors)) < share] for vectors in shard_vectors(shards, layer)]
    sample = np.concatenate(parts)
    return sample, sample.shape[1]


def _pq_parts(dimensions: int) -> int:
    """Sub-quantizers of 4 bits over 4 dimensions each (fast-scan PQ, an even count): 48 bytes a vector for 384
    dimensions, 96 for 768; the re-ranking makes up for the coarse codes."""
    return max(2, dimensions // 8 * 2)


# ---------------------------------------------------------------------------------------------
# Reading back
# ---------------------------------------------------------------------------------------------


def _write_manifest(path: Path, data: dict) -> None:
    write_whole(path, lambda file: file.write(json.dumps(data, indent=2).encode("utf-8")))


def _read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CorpusIndexError(f"{path} is damaged: {error}") from None


def read_manifest(directory: str | Path) -> Manifest:
    """The manifest of a finished index; a missing, damaged or unfinished one is an ``CorpusIndexError``."""
    path = Path(directory) / "manifest.json"
    if not path.exists():
        raise CorpusIndexError(f"{directory} holds no corpus index (no manifest.json).")
    manifest = Manifest(path, _read_manifest(path))
    if manifest.data.get("format") != FORMAT:
        raise CorpusIndexError(f"{directory} was built by another version of BERT Lens (format "
                          f"{manifest.data.get('format')}, expected {FORMAT}); rebuild it.")
    if not manifest.complete:
        raise CorpusIndexError(f"The index in {directory} is unfinished; run the build again to complete it.")
    return manifest


def check_model(manifest: Manifest, model: LoadedModel) -> None:
    """Searching with another model than the one that built the index would compare unrelated vectors."""
    built = manifest.data["model"]
    if built["fingerprint"] != model_fingerprint(model):
        raise CorpusIndexError(f"This index was built with {built['name']} ({built['location']}); the loaded model is "
                          f"{model.name}, with other weights. Load the same model or rebuild the index.")


def read_metadata(directory: Path, manifest: Manifest) -> pa.Table:
    """Every indexed token's metadata (no vectors), in id order, with the file sizes checked against the manifest."""
    shards = [directory / shard for shard in manifest.data["shards"]]
    try:
        table = pa.concat_tables(pq.read_table(shard, columns=METADATA.names) for shard in shards)
    except (OSError, pa.ArrowException) as error:
        raise CorpusIndexError(f"The index in {directory} is damaged: {error}") from None
    if table.num_rows != manifest.data["tokens"]:
        raise CorpusIndexError(f"The index in {directory} is damaged: {table.num_rows:,} tokens in its shards, "
                          f"{manifest.data['tokens']:,} in its manifest.")
    return table
