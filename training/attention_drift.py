"""How far fine-tuning moved each head's attention away from the original all-MiniLM-L6-v2.

    python training/attention_drift.py [model folder]    # default: the shipped offline model

Per head: the total variation distance between the two models' attention rows (half the L1 distance, 0 when
identical, 1 when they share nothing), averaged over the query tokens of a few sentences. For scale it also
prints how far the original model's heads are from each other (the mean distance between two different heads of
the same layer): a fine-tuned head far below that number still does what it did before.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bertviz_core import analyze, load_model  # noqa: E402
from bertviz_core.loading import OFFLINE_MLM_DIR  # noqa: E402

SENTENCES = (
    "The bank of the river was flooded after the storm.",
    "She deposited the money at the bank on Monday.",
    "The cat sat on the mat, and the dog slept by the door.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "When the program crashed, the engineers read the logs to find the bug.",
)


def total_variation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[..., T, T] x2 -> [...] half the L1 distance between matching rows, mean over the rows."""
    return 0.5 * np.abs(a - b).sum(axis=-1).mean(axis=-1)


def drift(folder: Path = OFFLINE_MLM_DIR) -> dict:
    """Per-head distance from the original model, and the distance between different heads of the original."""
    tuned, original = load_model(str(folder)), load_model("embedded")
    moved, apart = [], []
    for sentence in SENTENCES:
        a, b = analyze(original, sentence).attentions, analyze(tuned, sentence).attentions  # [L, H, T, T] each
        moved.append(total_variation(a, b))  # [L, H]
        H = a.shape[1]
        pairs = [(h, g) for h in range(H) for g in range(H) if h != g]
        apart.append(np.mean([total_variation(a[:, h], a[:, g]) for h, g in pairs], axis=0))  # [L]
    per_head = np.mean(moved, axis=0)  # [L, H]
    return dict(per_head=np.round(per_head.astype(float), 3).tolist(), mean=float(per_head.mean()), max=float(per_head.max()),
                between_heads_of_original=float(np.mean(apart)), sentences=len(SENTENCES))


if __name__ == "__main__":
    print(json.dumps(drift(Path(sys.argv[1]) if len(sys.argv) > 1 else OFFLINE_MLM_DIR), indent=1))
