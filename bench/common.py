"""What the benchmarks share: the models they run on and a timer. Benchmarks print; tests never time."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, BertConfig, BertTokenizerFast

from bertviz_core import LoadedModel, load_model
from bertviz_core.loading import embedded_model_dir


def bert_base_sized(directory: Path | None = None, seed: int = 0) -> LoadedModel:
    """A randomly initialised model with BERT-base's sizes (12 x 12 heads, hidden 768), for speed and memory figures
    when the real bert-base-uncased cannot be downloaded; its tokenizer is the embedded model's uncased vocabulary."""
    directory = Path(directory or tempfile.mkdtemp(prefix="bert-base-sized-"))
    if not (directory / "config.json").exists():
        torch.manual_seed(seed)
        AutoModelForMaskedLM.from_config(BertConfig()).save_pretrained(directory)
        BertTokenizerFast.from_pretrained(embedded_model_dir()).save_pretrained(directory)
    return load_model(str(directory))


def models(names: list[str]) -> dict[str, LoadedModel]:
    chosen = {}
    for name in names:
        chosen[name] = bert_base_sized() if name == "bert-base-sized" else load_model(name)
    return chosen


def timed(function, *args, repeat: int = 3, **kwargs):
    """(best seconds over ``repeat`` runs, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result


def text_of(tokens: int) -> str:
    """A text of exactly ``tokens`` tokens for an uncased WordPiece model once [CLS] and [SEP] are added."""
    return " ".join(["word"] * (tokens - 2))
