"""Where the app keeps corpus indexes: one folder per (model, corpus) under a root that outlives the server process,
so the first visitor's build serves every later visitor and every restart; uploaded corpora in their own corner. The
app keeps them all within its disk budget (``cache.DiskBudget``), the least recently used removed first."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from ..analysis import InputError
from ..loading import LoadedModel
from .search import CorpusIndex
from .store import FORMAT, Progress, build_index, model_fingerprint, read_manifest
from .text import Sentences, read_sentences

SHIPPED = tuple(Path(__file__).resolve().parents[1] / "corpus_data" / name for name in ("written.tsv", "held_out.tsv"))
"""40 sentences written for BERT Lens, then 400 held out of the offline model's training; each labelled with its
source (corpus_data/README.md)."""
UPLOADS = "uploads"
SERVER_SHARD_MB = 32
"""Shards of builds the app makes: within a shared server's memory (a BERT-base-sized server on the Corpus page peaks
at 1.36 to 1.39 GB with them, its build included), at some cost in speed that a corpus of 20,000 tokens at most does
not feel."""


@functools.cache
def shipped_sentences() -> Sentences:
    """Read once per process: the Corpus page asks for them on every run."""
    parts = [read_sentences(path, labels=True) for path in SHIPPED]
    return Sentences(sum((part.texts for part in parts), ()), sum((part.labels for part in parts), ()))


def index_root() -> Path:
    """``BERT_LENS_INDEX_DIR``, or the user's cache folder."""
    return Path(os.environ.get("BERT_LENS_INDEX_DIR") or Path.home() / ".cache" / "bert-lens" / "indexes")


def index_folder(root: Path, model: LoadedModel, sentences: Sentences) -> Path:
    """The folder of this corpus indexed by this model: the names are checksums, so equal inputs meet again, and an
    index of an older format is not found but built anew beside it."""
    return root / f"{model_fingerprint(model)[:16]}-{sentences.checksum[:16]}-v{FORMAT}"


def opened(model: LoadedModel, sentences: Sentences, folder: Path, progress: Progress | None = None,
           keep_layers: int | None = None) -> CorpusIndex:
    """The index in ``folder``: opened when finished, otherwise built (or a killed build resumed) first; an index
    of the same model and corpus in an older format is removed when its successor is built."""
    if not is_built(folder):
        build_index(model, sentences, folder, source=str(folder.name), shard_mb=SERVER_SHARD_MB, progress=progress)
        for older in _older_formats(folder):
            shutil.rmtree(older, ignore_errors=True)
    os.utime(folder)  # the least recently used index is removed first when the disk budget needs room
    return CorpusIndex(folder, model, keep_layers=keep_layers)


def _older_formats(folder: Path) -> list[Path]:
    """The folders ``index_folder`` named for the same model and corpus in another format."""
    stem = folder.name.removesuffix(f"-v{FORMAT}")
    return [other for other in folder.parent.glob(f"{stem}-v*") if other != folder and other.is_dir()]


def token_count(model: LoadedModel, sentences: Sentences) -> int:
    """Tokens the index would hold: every token but the special ones, up to the model's limit per sentence."""
    encoded = model.tokenizer(list(sentences.texts), truncation=True, max_length=model.max_tokens,
                              return_special_tokens_mask=True)
    return sum(len(mask) - sum(mask) for mask in encoded["special_tokens_mask"])


def is_built(folder: Path) -> bool:
    """Does ``folder`` hold a finished index (opening it then builds nothing)?"""
    try:
        read_manifest(folder)
    except InputError:
        return False
    return True


def index_folders(root: Path) -> list[Path]:
    """Every index the app built under ``root``: one per model and shipped corpus, and one per upload."""
    return [f for f in root.glob("*") if f.is_dir() and f.name != UPLOADS] + list((root / UPLOADS).glob("*"))
