"""analyze() against a bare forward pass at 16, 128 and 512 tokens, and the memory one analysis holds.

    .venv/bin/python bench/engine.py [--models offline bert-base-sized] [--lengths 16 128 512] [--repeat 10]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import models, text_of  # noqa: E402
from bertviz_core import analyze  # noqa: E402


def bare_forward(model, text: str, length: int):
    """What any script would run: tokenize and one forward pass with attentions and hidden states."""
    inputs = model.tokenizer(text, truncation=True, max_length=length, return_tensors="pt")
    with torch.inference_mode():
        return model.encoder(**inputs, output_attentions=True, output_hidden_states=True)


def released_forward(model, text: str, length: int) -> None:
    """The same pass with its outputs freed on return, as analyze() frees torch's once it has its copies. Timing
    both matters at 512 tokens on a small model: kept outputs pin the allocator's memory, released ones let it
    hand memory back, and the next pass pays page faults to get it again (tens of milliseconds)."""
    bare_forward(model, text, length)


def interleaved(functions, repeat: int) -> list[float]:
    """Best seconds of each function over ``repeat`` rounds, one call of each per round: on a shared machine whose
    speed drifts, timing one function's runs back to back and then the next's would compare different moments."""
    best = [float("inf")] * len(functions)
    for _ in range(repeat):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            function()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["offline", "bert-base-sized"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[16, 128, 512])
    parser.add_argument("--repeat", type=int, default=10, help="best of this many runs")
    args = parser.parse_args()
    print(f"{'model':<24}{'tokens':>7}{'kept s':>9}{'released s':>12}{'analyze s':>11}{'ratio':>7}"
          f"{'vs kept':>9}{'analysis MB':>13}")
    for name, model in models(args.models).items():
        for length in args.lengths:
            text = text_of(length)
            kept, released, seconds = interleaved([lambda: bare_forward(model, text, length),
                                                   lambda: released_forward(model, text, length),
                                                   lambda: analyze(model, text, max_length=length)], args.repeat)
            result = analyze(model, text, max_length=length)
            print(f"{name + f' {model.num_layers}x{model.num_heads}':<24}{result.num_tokens:>7}{kept:>9.3f}"
                  f"{released:>12.3f}{seconds:>11.3f}{seconds / released:>7.2f}{seconds / kept:>9.2f}"
                  f"{result.nbytes / 1e6:>13.1f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("ratio: analyze / a bare forward pass whose outputs are released (the same allocator state); "
          "vs kept: / one whose outputs stay alive")
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
