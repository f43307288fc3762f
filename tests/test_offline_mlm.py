"""The shipped offline masked-LM model: what is in the repository, how it loads, and how well it fills masks."""

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from transformers import AutoTokenizer

from bertviz_core import analyze
from bertviz_core.loading import OFFLINE_MLM_DIR, embedded_model_dir

PROBES = json.loads((Path(__file__).parent / "data" / "cloze_probes.json").read_text())
METRICS = json.loads((OFFLINE_MLM_DIR / "metrics.json").read_text())


def test_weights_are_fp16_safetensors_of_at_most_50_mb():
    weights = OFFLINE_MLM_DIR / "model.safetensors"
    assert weights.stat().st_size <= 50_000_000
    with safe_open(str(weights), "np") as tensors:
        dtypes = {tensors.get_tensor(key).dtype for key in tensors.keys()}
    assert dtypes == {np.dtype("float16")}


def test_model_card_reports_the_measured_metric():
    card = (OFFLINE_MLM_DIR / "README.md").read_text()
    assert METRICS["val_accuracy"] >= 0.35
    assert f"{100 * METRICS['val_accuracy']:.1f}%" in card
    for needed in ("Apache-2.0", "all-MiniLM-L6-v2", "train_offline_mlm.py", *METRICS["sources"]):
        assert needed in card, needed
    for source in METRICS["sources"].values():
        assert source["licence"] in card


def test_loads_in_float32_with_its_trained_head(offline, embedded):
    assert offline.has_mlm_head and offline.source == "offline"
    assert {p.dtype for p in offline.model.parameters()} == {torch.float32}
    # Fine-tuned, not reshaped: the sizes of the encoder it started from.
    assert (offline.num_layers, offline.num_heads, offline.config.hidden_size) == (
        embedded.num_layers, embedded.num_heads, embedded.config.hidden_size)
    assert "fine-tuned by this project" in offline.banner and "far weaker than BERT-base" in offline.banner


def test_keeps_the_embedded_vocabulary():
    ours = AutoTokenizer.from_pretrained(OFFLINE_MLM_DIR).get_vocab()
    assert ours == AutoTokenizer.from_pretrained(embedded_model_dir()).get_vocab()


def test_fills_at_least_half_of_the_cloze_probes(offline):
    assert len(PROBES) >= 30
    hits = []
    for probe in PROBES:
        guesses = analyze(offline, probe["text"]).masks[0].tokens[:5]
        hits.append(bool(set(guesses) & set(probe["answers"])))
    assert sum(hits) >= len(PROBES) / 2, [p["text"] for p, hit in zip(PROBES, hits) if not hit]
