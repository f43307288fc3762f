"""What several groups of commands share: a model's masked-word guesses, and one head named from 1."""

from __future__ import annotations

import json

from .. import InputError, LoadedModel, analyze, load_model


def with_masks(args):
    """The model and the analysis of the command's text, which must have a mask for the model's head to guess."""
    model = load_model(args.model)
    if not model.has_mlm_head:
        raise InputError(f"{model.name} has no trained masked-LM head; choose a model that has one.")
    if args.top_k < 1:
        raise InputError("--top-k must be at least 1.")
    result = analyze(model, args.text, top_k=args.top_k)
    if not result.masks:
        raise InputError("No mask in the text: write [MASK] where a word should be guessed.")
    return model, result


def masks_json(masks) -> list[dict]:
    return [{"position": m.position,
             "predictions": [{"token": t, "token_id": int(i), "logit": float(l), "probability": float(p)}
                             for t, i, l, p in zip(m.tokens, m.token_ids, m.logits, m.probs)]}
            for m in masks]


def print_masks(found: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(found, indent=2))
        return
    for mask in found["masks"]:
        print(f"mask at token {mask['position']}:")
        for rank, guess in enumerate(mask["predictions"], start=1):
            print(f"  {rank:>2}. {guess['token']:<16} p={guess['probability']:.4f}  logit={guess['logit']:.3f}")


def one_head(model: LoadedModel, layer: int, head: int) -> tuple[int, int]:
    """1-based layer and head -> 0-based, checked."""
    if not (1 <= layer <= model.num_layers and 1 <= head <= model.num_heads):
        raise InputError(f"Layers run from 1 to {model.num_layers} and heads from 1 to {model.num_heads}; "
                         f"got layer {layer}, head {head}.")
    return layer - 1, head - 1
