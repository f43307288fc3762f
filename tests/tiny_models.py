"""Tiny random models of every supported layout, saved to a folder and loaded by path like any user model."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import (AlbertConfig, AutoModel, AutoModelForMaskedLM, BertConfig, DistilBertConfig, ElectraConfig,
                          RobertaConfig, RobertaTokenizer)

from bertviz_core.loading import embedded_model_dir

FAMILIES = ("bert", "distilbert", "roberta", "albert", "electra")
WORDPIECE_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
BPE_CORPUS = ["The cat sat on the mat.", "She loves cats and dogs.", "Paris is the capital of France.",
              "The bank of the river was flooded.", "I deposited money at the bank."] * 4


def tiny_config(family: str, vocab_size: int):
    """Small in the manner of transformers' own BertModelTester: seconds for the whole suite."""
    shared = dict(vocab_size=vocab_size, max_position_embeddings=64, pad_token_id=0)
    if family == "distilbert":
        return DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=37, **shared)
    sizes = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37, **shared)
    if family == "bert":
        return BertConfig(**sizes)
    if family == "roberta":
        return RobertaConfig(**{**sizes, "pad_token_id": 1, "max_position_embeddings": 66, "type_vocab_size": 1})
    if family == "albert":
        return AlbertConfig(embedding_size=16, **sizes)
    return ElectraConfig(embedding_size=16, **sizes)


def _save_tokenizer(family: str, directory: Path) -> int:
    """WordPiece (the embedded model's real uncased vocab) for most layouts, a freshly trained byte-level BPE for RoBERTa."""
    if family != "roberta":
        for name in WORDPIECE_FILES:
            shutil.copy(embedded_model_dir() / name, directory / name)
        return sum(1 for _ in open(directory / "vocab.txt", encoding="utf-8"))
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(BPE_CORPUS, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(directory))
    # transformers 5 takes the files as vocab= and merges= (unknown keywords are silently ignored).
    tokenizer = RobertaTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"))
    tokenizer.save_pretrained(directory)
    return len(tokenizer)


def save_tiny_model(family: str, directory: Path, with_head: bool = True, seed: int = 0, **settings) -> Path:
    """A tiny random model saved like a checkpoint; ``settings`` change its config (``sinusoidal_pos_embds=True``)."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab_size = _save_tokenizer(family, directory)
    torch.manual_seed(seed)
    model_class = AutoModelForMaskedLM if with_head else AutoModel
    config = tiny_config(family, vocab_size)
    config.update(settings)
    model = model_class.from_config(config)
    model.save_pretrained(directory)
    return directory


def value_and_output_weights(model, layer):
    """(W_V, b_V, W_O) of ``layer`` read straight from the state dict, by each family's own names: a reference
    that does not go through the engine's layouts."""
    state = model.encoder.state_dict()
    if model.family == "distilbert":
        prefix = f"transformer.layer.{layer}.attention."
        names = ("v_lin.weight", "v_lin.bias", "out_lin.weight")
    elif model.family == "albert":
        config = model.config
        group = layer // (config.num_hidden_layers // config.num_hidden_groups)
        prefix = f"encoder.albert_layer_groups.{group}.albert_layers.0.attention."
        names = ("value.weight", "value.bias", "dense.weight")
    else:
        prefix = f"encoder.layer.{layer}.attention."
        names = ("self.value.weight", "self.value.bias", "output.dense.weight")
    return [state[prefix + name].double().numpy() for name in names]
