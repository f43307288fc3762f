"""Commands that explain one masked-word prediction: explain, sweep, patch, ablate, decompose; and routes."""

from __future__ import annotations

import argparse
import json

from .. import analyze, load_model
from .common import masks_json, print_masks, with_masks


def add_commands(commands, model_option: dict) -> None:
    from ..explain.attributions import IG_STEPS, METHODS
    from ..explain.decompose import ROUTE_THRESHOLD

    def targeted(name: str, summary: str, run) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=summary)
        command.add_argument("text", help="a sentence with [MASK]")
        command.add_argument("--model", **model_option)
        command.add_argument("--mask", type=int, default=None, help="token position of the mask (default: the first)")
        command.add_argument("--target", default=None, help="the word to explain (default: the top guess)")
        command.add_argument("--json", action="store_true", help="print JSON instead of text")
        command.set_defaults(run=run)
        return command

    explain = targeted("explain", "which input tokens one masked-word prediction depends on", _explain)
    explain.add_argument("--method", choices=list(METHODS), required=True)
    explain.add_argument("--steps", type=int, default=IG_STEPS, help="Integrated Gradients' steps")
    targeted("sweep", "every head ablated in turn: the change in the target's log-probability (layers from 1)", _sweep)
    patch = targeted("patch", "copy each hidden state from the clean sentence into the corrupted one (layer 0 = the "
                              "embeddings)", _patch)
    patch.add_argument("corrupt", help="the corrupted sentence, of the same token length")

    ablate = commands.add_parser("ablate", help="the masked-word guesses with some heads zeroed")
    ablate.add_argument("text")
    ablate.add_argument("--heads", required=True, help="layer:head pairs counted from 1, like 3:7,10:1")
    ablate.add_argument("--top-k", type=int, default=5)
    ablate.add_argument("--model", **model_option)
    ablate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ablate.set_defaults(run=_ablate)

    decompose = targeted("decompose", "the target's logit taken apart exactly: one part per input token (or per "
                                      "component: embeddings, each head, each feed-forward) plus a bias", _decompose)
    decompose.add_argument("--by", choices=["tokens", "components"], default="tokens",
                           help="sources: token positions (0 = [CLS]) or components named L3.H7, L3.ffn (from 1)")

    routes = commands.add_parser("routes", help="ALTI's routes into one token: what share each layer's output takes "
                                                "from each token below (layer 0 = the embeddings)")
    routes.add_argument("text")
    routes.add_argument("--position", type=int, default=None,
                        help="token whose routes are traced (default: the first mask, else 0)")
    routes.add_argument("--threshold", type=float, default=ROUTE_THRESHOLD,
                        help=f"smallest share an edge keeps (default {ROUTE_THRESHOLD})")
    routes.add_argument("--model", **model_option)
    routes.add_argument("--json", action="store_true", help="print JSON instead of text")
    routes.set_defaults(run=_routes)


def _targeted(args, text: str | None = None):
    """The model, the analysis of ``text`` (default: the command's text) and the target the options name."""
    from ..explain.target import mask_target

    model = load_model(args.model)
    result = analyze(model, args.text if text is None else text)
    return model, result, mask_target(model, result, args.mask, args.target)


def _explain(args) -> int:
    from ..explain.attributions import attribute

    model, result, target = _targeted(args)
    found = attribute(model, result, target, args.method, steps=args.steps)
    output = {"method": found.method, "mask_index": target.mask_index, "target": target.name,
              "target_id": target.output_id, "score": found.score, "tokens": list(result.tokens),
              "scores": [float(v) for v in found.scores]}
    if found.baseline_score is not None:
        output["baseline_score"] = found.baseline_score
    if args.json:
        print(json.dumps(output, indent=2))
        return 0
    print(f"{found.method} for {target.name!r} at token {target.mask_index} (logit {found.score:.3f}):")
    for position, (token, value) in enumerate(zip(result.tokens, found.scores)):
        print(f"  {position:>3} {token:<16} {value:+.4f}")
    return 0


def _ablate(args) -> int:
    from ..explain.interventions import ablate, parse_heads

    model, result = with_masks(args)
    found = ablate(model, result, parse_heads(model, args.heads), args.top_k)
    print_masks({"model": model.name, "masks": masks_json(found.masks),
                  "ablated": [[layer + 1, head + 1] for layer, head in found.heads]}, args.json)
    return 0


def _sweep(args) -> int:
    from ..explain.interventions import head_sweep

    model, result, target = _targeted(args)
    found = head_sweep(model, result, target)
    output = {"target": target.name, "target_id": target.output_id, "mask_index": target.mask_index,
              "log_prob": found.log_prob, "change": found.change.round(6).tolist()}
    if args.json:
        print(json.dumps(output))
        return 0
    print(f"log p({target.name}) = {found.log_prob:.4f}; change with each head ablated (rows: layers, columns: heads)")
    print("\n".join(f"{n:>3} " + " ".join(f"{v:+6.3f}" for v in row) for n, row in enumerate(output["change"], 1)))
    return 0


def _patch(args) -> int:
    from ..explain.interventions import patch_activations

    model, clean, target = _targeted(args)
    found = patch_activations(model, clean, analyze(model, args.corrupt), target)
    output = {"target": target.name, "target_id": target.output_id, "mask_index": target.mask_index,
              "clean_score": found.clean_score, "corrupt_score": found.corrupt_score,
              "clean_tokens": list(found.clean_tokens), "corrupt_tokens": list(found.corrupt_tokens),
              "restored": found.restored.round(6).tolist()}
    if args.json:
        print(json.dumps(output))
        return 0
    print(f"logit of {target.name!r}: clean {found.clean_score:.3f}, corrupted {found.corrupt_score:.3f}; share "
          "restored by patching (rows: layer 0 = embeddings .. L, columns: tokens)")
    print("    " + " ".join(f"{t[:6]:>6}" for t in found.corrupt_tokens))
    print("\n".join(f"{n:>3} " + " ".join(f"{v:+6.2f}" for v in row) for n, row in enumerate(output["restored"])))
    return 0


def _decompose(args) -> int:
    from ..explain.decompose import decompose_components, decompose_tokens

    model, result, target = _targeted(args)
    decompose = decompose_components if args.by == "components" else decompose_tokens
    found = decompose(model, result, target)
    output = {"target": target.name, "target_id": target.output_id, "mask_index": target.mask_index,
              "logit": found.logit, "tokens": list(result.tokens),
              "parts": [{"source": source, "value": value} for source, value in found.named()], "bias": found.bias}
    if args.json:
        print(json.dumps(output, indent=2))
        return 0
    print(f"logit of {target.name!r} at token {target.mask_index}: {found.logit:.4f} = the parts by {args.by} "
          f"({found.total - found.bias:+.4f}) + the bias ({found.bias:+.4f})")
    if args.by == "tokens":
        print("\n".join(f"  {n:>3} {token:<16} {value:+.4f}" for n, (token, value) in enumerate(zip(result.tokens,
                                                                                                  found.parts))))
        return 0
    print(f"  embeddings {found.embeddings:+.4f}; layers (rows, from 1) by heads and the feed-forward (last column):")
    columns = [f"H{h + 1}" for h in range(model.num_heads)] + ["ffn"]
    print("    " + " ".join(f"{c:>7}" for c in columns))
    print("\n".join(f"{n:>3} " + " ".join(f"{v:+7.3f}" for v in row) for n, row in enumerate(found.grid, 1)))
    return 0


def _routes(args) -> int:
    from ..explain.decompose import route_graph, routes
    from ..explain.target import mask_positions

    model = load_model(args.model)
    result = analyze(model, args.text)
    masks = mask_positions(model, result) if model.tokenizer.mask_token_id is not None else ()
    position = args.position if args.position is not None else (masks[0] if masks else 0)
    graph = route_graph(routes(model, result), position, args.threshold)
    output = {"tokens": list(result.tokens), "position": graph.position, "threshold": graph.threshold,
              "nodes": [list(node) for node in graph.nodes],
              "edges": [{"from": list(source), "to": list(to), "share": share} for source, to, share in graph.edges]}
    if args.json:
        print(json.dumps(output))
        return 0
    print(f"routes into token {position} ({result.tokens[position]}) at layer {model.num_layers}, edges carrying at "
          f"least {graph.threshold:.0%} (layer 0 = the embeddings):")
    for (below, j), (layer, i), share in graph.edges:
        print(f"  layer {layer:>2} {i:>3} {result.tokens[i]:<12} <- {j:>3} {result.tokens[j]:<12} {share:6.1%}")
    return 0
