"""Command line: ``python -m bertviz_core info | fill-mask | analyze``. Bad input -> one line, exit code 2."""

from __future__ import annotations

import argparse
import json
import sys

from . import InputError, ModelLoadError, analyze, load_model, model_summary
from .export import save_npz


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (InputError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. --out into a folder that does not exist
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bertviz_core", description="Look inside a BERT-family model.")
    commands = parser.add_subparsers(required=True, metavar="command")
    model_option = dict(default=None, help="hub id, model directory, 'offline' or 'embedded' (default: "
                                           "bert-base-uncased, or 'offline' when the hub is unreachable)")

    info = commands.add_parser("info", help="the model's sizes and parameter counts")
    info.add_argument("--model", **model_option)
    info.set_defaults(run=_info)

    fill = commands.add_parser("fill-mask", help="predict each [MASK] in a sentence")
    fill.add_argument("text")
    fill.add_argument("--model", **model_option)
    fill.add_argument("--top-k", type=int, default=5)
    fill.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fill.set_defaults(run=_fill_mask)

    run = commands.add_parser("analyze", help="run the model once and save its arrays as .npz")
    run.add_argument("text")
    run.add_argument("--model", **model_option)
    run.add_argument("--pair", default=None, help="a second sentence")
    run.add_argument("--max-length", type=int, default=512)
    run.add_argument("--out", required=True, help="output .npz file")
    run.set_defaults(run=_analyze)
    return parser


def _info(args) -> int:
    model = load_model(args.model)
    summary = model_summary(model)
    print(model.banner)
    for name in ("family", "layers", "heads", "hidden_size", "head_size", "intermediate_size", "embedding_size",
                 "vocab_size", "max_positions", "has_mlm_head"):
        print(f"{name:>18}: {getattr(summary, name)}")
    print("parameters:")
    for component, count in summary.parameters:
        print(f"{component:>24}: {count:,}")
    print(f"{'total':>24}: {summary.total_parameters:,}")
    return 0


def _fill_mask(args) -> int:
    model = load_model(args.model)
    if not model.has_mlm_head:
        raise InputError(f"{model.name} has no trained masked-LM head; choose a model that has one.")
    if args.top_k < 1:
        raise InputError("--top-k must be at least 1.")
    result = analyze(model, args.text, top_k=args.top_k)
    if not result.masks:
        raise InputError("No mask in the text: write [MASK] where a word should be guessed.")
    predictions = [
        {"position": m.position,
         "predictions": [{"token": t, "token_id": int(i), "logit": float(l), "probability": float(p)}
                         for t, i, l, p in zip(m.tokens, m.token_ids, m.logits, m.probs)]}
        for m in result.masks
    ]
    if args.json:
        print(json.dumps({"model": model.name, "masks": predictions}, indent=2))
        return 0
    for mask in predictions:
        print(f"mask at token {mask['position']}:")
        for rank, guess in enumerate(mask["predictions"], start=1):
            print(f"  {rank:>2}. {guess['token']:<16} p={guess['probability']:.4f}  logit={guess['logit']:.3f}")
    return 0


def _analyze(args) -> int:
    result = analyze(load_model(args.model), args.text, args.pair, max_length=args.max_length)
    save_npz(args.out, result)
    shape = "x".join(map(str, result.attentions.shape))
    note = f" (truncated from {result.original_length})" if result.truncated else ""
    print(f"{args.out}: {result.num_tokens} tokens{note}, attentions {shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
