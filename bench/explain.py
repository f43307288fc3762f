"""The Explain page's computations, timed: each attribution (Integrated Gradients at 64 steps), the deletion curves of
all of them, the head sweep, activation patching; and the exact decompositions (by token in float64 and float32, by
component, ALTI's routes) with the peak memory each adds. Targets: on the BERT-base-sized model the sweep at 32 tokens
within 10 s, Integrated Gradients (64 steps) at 64 tokens within 15 s, and the decomposition by token at 64 tokens
within 10 s and 1 GB.

    .venv/bin/python bench/explain.py [--models offline bert-base-sized] [--lengths 32 64 128] [--repeat 2]
                                      [--only-decompositions]
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import models, timed, text_of  # noqa: E402
from bertviz_core import analyze  # noqa: E402
from bertviz_core.explain.attributions import FLOW_MAX_TOKENS, METHODS, attribute, faithfulness  # noqa: E402
from bertviz_core.explain.decompose import decompose_components, decompose_tokens, routes  # noqa: E402
from bertviz_core.explain.interventions import PATCH_MAX_TOKENS, head_sweep, patch_activations  # noqa: E402
from bertviz_core.explain.target import mask_target  # noqa: E402


def masked_text(tokens: int) -> str:
    """``tokens`` tokens with [CLS] and [SEP], the middle word masked."""
    words = text_of(tokens).split()
    words[len(words) // 2] = "[MASK]"
    return " ".join(words)


def measure(model, tokens: int, repeat: int) -> list[tuple[str, float]]:
    text = masked_text(tokens)
    result = analyze(model, text)
    target = mask_target(model, result)
    rows, attributions = [], []
    for method in METHODS:
        if method == "flow" and tokens > FLOW_MAX_TOKENS:
            continue
        seconds, found = timed(attribute, model, result, target, method, repeat=repeat)
        rows.append((METHODS[method], seconds))
        attributions.append(found)
    rows.append(("deletion curves of them all", timed(faithfulness, model, result, attributions, repeat=repeat)[0]))
    rows.append(("head sweep", timed(head_sweep, model, result, target, repeat=repeat)[0]))
    if tokens > PATCH_MAX_TOKENS:
        return rows
    corrupt = analyze(model, text.replace("word", "thing", 1))
    rows.append(("activation patching", timed(patch_activations, model, result, corrupt, target, repeat=repeat)[0]))
    return rows


def resident_mb(field: str) -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), from /proc."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in lines if line.startswith(field + ":")).split()[1]) / 1024


def with_peak(function, *args, **kwargs) -> tuple[float, object]:
    """(MB the call added at its peak over the resident memory before it, its result). Memory freed earlier is first
    handed back to the system (malloc_trim), so that the call cannot hide its peak in it; then writing 5 to
    clear_refs restarts the kernel's peak count (VmHWM) at the present resident size."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    before = resident_mb("VmRSS")
    result = function(*args, **kwargs)
    return resident_mb("VmHWM") - before, result


def decompositions(model, tokens: int, repeat: int) -> list[tuple[str, float, float]]:
    """(what, best seconds, peak MB added) of each exact decomposition of the middle mask's top guess."""
    result = analyze(model, masked_text(tokens))
    target = mask_target(model, result)
    runs = {"decomposition by token (float64)": lambda: decompose_tokens(model, result, target),
            "decomposition by token (float32)": lambda: decompose_tokens(model, result, target, dtype=torch.float32),
            "decomposition by component": lambda: decompose_components(model, result, target),
            "routes (ALTI, every layer)": lambda: routes(model, result)}
    rows = []
    for what, run in runs.items():
        peak, _ = with_peak(run)
        rows.append((what, timed(run, repeat=repeat)[0], peak))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["offline", "bert-base-sized"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[32, 64, 128])
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--only-decompositions", action="store_true", help="time the exact decompositions alone")
    args = parser.parse_args()
    for name, model in models(args.models).items():
        for tokens in args.lengths:
            print(f"\n{name}, {tokens} tokens (best of {args.repeat}):")
            for what, seconds in [] if args.only_decompositions else measure(model, tokens, args.repeat):
                print(f"  {what:<44} {seconds:7.2f} s")
            for what, seconds, peak in decompositions(model, tokens, args.repeat):
                print(f"  {what:<44} {seconds:7.2f} s  {peak:6.0f} MB at peak")


if __name__ == "__main__":
    main()
