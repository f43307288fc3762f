"""What is true of a checkpoint, read straight from its files (safetensors names and shapes, config.json,
tokenizer.json, the model card) with none of the engine's code: the reference the pages' sentences are checked
against. Also the checkpoints that test it: one saved with BERT's pre-training heads (pooler and next-sentence
head, as bert-base-uncased has them) and a cased DistilBERT with sinusoidal positions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import BertForPreTraining

from bertviz_core.loading import OFFLINE_MLM_DIR, embedded_model_dir
from tiny_models import _save_tokenizer, save_tiny_model, tiny_config


@dataclass(frozen=True)
class Truth:
    name: str
    pooler: bool
    next_sentence_head: bool
    segments: int
    positions: str
    lowercase: bool
    vocabulary: str
    card: str
    """The model card's text where the checkpoint has one, else ''."""


def read_truth(folder: Path, name: str) -> Truth:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    with safe_open(str(folder / "model.safetensors"), framework="pt") as weights:
        shapes = {key: weights.get_slice(key).get_shape() for key in weights.keys()}
    ending = lambda suffix: [shape for key, shape in shapes.items() if key.split(".")[-3:] == suffix.split(".")]  # noqa: E731
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    segments = ending("embeddings.token_type_embeddings.weight")
    if config.get("sinusoidal_pos_embds"):
        positions = "sinusoidal"
    else:
        positions = "learned" if ending("embeddings.position_embeddings.weight") else "none"
    card = folder / "README.md"
    return Truth(name=name, pooler=bool(ending("pooler.dense.weight")),
                 next_sentence_head=bool(ending("cls.seq_relationship.weight")),
                 segments=segments[0][0] if segments else 0, positions=positions,
                 lowercase=_lowercases(tokenizer["normalizer"]), vocabulary=_vocabulary(tokenizer),
                 card=card.read_text(encoding="utf-8") if card.is_file() else "")


def _lowercases(normalizer: dict | None) -> bool:
    if not normalizer:
        return False
    if normalizer["type"] == "Sequence":
        return any(_lowercases(part) for part in normalizer["normalizers"])
    return normalizer["type"] == "Lowercase" or bool(normalizer.get("lowercase"))


def _vocabulary(tokenizer: dict) -> str:
    kind = tokenizer["model"]["type"]
    if kind == "BPE" and "ByteLevel" in json.dumps(tokenizer["pre_tokenizer"]):
        return "byte-level BPE"
    return {"WordPiece": "WordPiece", "Unigram": "SentencePiece"}.get(kind, kind)


def save_pretraining_model(directory: Path) -> Path:
    """A tiny BERT saved the way bert-base-uncased is: BertForPreTraining, so its checkpoint holds the pooler and
    the next-sentence head. Its folder is named bert-base-uncased, the only way a checkpoint is taken for BERT-base."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab = _save_tokenizer("bert", directory)
    torch.manual_seed(0)
    BertForPreTraining(tiny_config("bert", vocab)).save_pretrained(directory)
    return directory


def save_cased_sinusoidal_model(directory: Path) -> Path:
    """A tiny DistilBERT with sinusoidal positions whose tokenizer keeps case."""
    save_tiny_model("distilbert", directory, sinusoidal_pos_embds=True)
    tokenizer = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["normalizer"]["lowercase"] = False
    (directory / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    settings = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    settings["do_lower_case"] = False
    (directory / "tokenizer_config.json").write_text(json.dumps(settings), encoding="utf-8")
    return directory


def shipped_folder(spec: str) -> Path:
    return {"offline": OFFLINE_MLM_DIR, "embedded": embedded_model_dir()}[spec]
