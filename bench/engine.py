"""analyze() against a bare forward pass at 16, 128 and 512 tokens, and the memory one analysis holds.

    .venv/bin/python bench/engine.py [--models offline bert-base-sized] [--lengths 16 128 512]
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import models, text_of, timed  # noqa: E402
from bertviz_core import analyze  # noqa: E402


def bare_forward(model, text: str, length: int):
    """What any script would run: tokenize and one forward pass with attentions and hidden states."""
    inputs = model.tokenizer(text, truncation=True, max_length=length, return_tensors="pt")
    with torch.inference_mode():
        return model.encoder(**inputs, output_attentions=True, output_hidden_states=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["offline", "bert-base-sized"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[16, 128, 512])
    args = parser.parse_args()
    print(f"{'model':<24}{'tokens':>7}{'forward s':>11}{'analyze s':>11}{'ratio':>8}{'analysis MB':>13}")
    for name, model in models(args.models).items():
        for length in args.lengths:
            text = text_of(length)
            forward, _ = timed(bare_forward, model, text, length, repeat=5)
            seconds, result = timed(analyze, model, text, max_length=length, repeat=5)
            print(f"{name + f' {model.num_layers}x{model.num_heads}':<24}{result.num_tokens:>7}{forward:>11.3f}"
                  f"{seconds:>11.3f}{seconds / forward:>8.2f}{result.nbytes / 1e6:>13.1f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
