"""Command line: ``python -m bertviz_core info | fill-mask | analyze | export-html | compare | lesson | explain |
ablate | sweep | patch | index | search | occurrences | atlas | query-keys | corpus-map``. Bad input -> one line, exit code
2."""

from __future__ import annotations

import argparse
import json
import sys

from . import InputError, LoadedModel, ModelLoadError, analyze, load_model, model_summary
from .corpus import CorpusIndex, build_index, read_manifest, read_sentences
from .corpus.text import SPLITS
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

    export = commands.add_parser("export-html", help="an attention view as one HTML file that works offline")
    export.add_argument("text")
    export.add_argument("--view", choices=["model", "head", "heatmap"], required=True)
    export.add_argument("--layer", type=int, default=1, help="1-based, as in the app (head and heatmap views)")
    export.add_argument("--head", type=int, default=1, help="1-based")
    export.add_argument("--model", **model_option)
    export.add_argument("--out", required=True, help="output .html file")
    export.set_defaults(run=_export_html)

    compare = commands.add_parser("compare", help="two models' tokens, and how alike their layers are (CKA)")
    compare.add_argument("text")
    compare.add_argument("--model", **model_option)
    compare.add_argument("--model-b", required=True, help="the second model, named like --model")
    compare.add_argument("--sentences", default=None, help="text file, one sentence per line (default: the "
                                                           "shipped corpus)")
    compare.add_argument("--plain", action="store_true", help="plain CKA instead of the debiased estimator")
    compare.add_argument("--json", action="store_true", help="print JSON instead of text")
    compare.set_defaults(run=_compare)

    lesson = commands.add_parser("lesson", help="check a lesson file and print what the model answers at each step")
    lesson.add_argument("lesson", help="a lesson's name (lessons/NAME.yaml) or the path of a lesson file")
    lesson.add_argument("--model", **model_option)
    lesson.add_argument("--json", action="store_true", help="print JSON instead of text")
    lesson.set_defaults(run=_lesson)
    _explain_commands(commands, model_option)
    _corpus_commands(commands, model_option)
    return parser


def _explain_commands(commands, model_option: dict) -> None:
    from .explain.attributions import IG_STEPS, METHODS

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
    targeted("sweep", "every head ablated in turn: the change in the target's log-probability", _sweep)
    patch = targeted("patch", "copy each hidden state from the clean sentence into the corrupted one", _patch)
    patch.add_argument("corrupt", help="the corrupted sentence, of the same token length")

    ablate = commands.add_parser("ablate", help="the masked-word guesses with some heads zeroed")
    ablate.add_argument("text")
    ablate.add_argument("--heads", required=True, help="layer:head pairs counted from 1, like 3:7,10:1")
    ablate.add_argument("--top-k", type=int, default=5)
    ablate.add_argument("--model", **model_option)
    ablate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ablate.set_defaults(run=_ablate)


def _corpus_commands(commands, model_option: dict) -> None:
    index = commands.add_parser("index", help="index every token of a text file, layer by layer, for search")
    index.add_argument("corpus", help="UTF-8 text file")
    index.add_argument("--model", **model_option)
    index.add_argument("--out", required=True, help="folder for the index (new or empty; or a killed build's)")
    index.add_argument("--layers", type=_layer_list, default=None,
                       help="comma-separated, 0 = the embedding output (default: every layer)")
    index.add_argument("--split", choices=SPLITS, default="lines",
                       help="one sentence per line, or prose cut into sentences (pySBD)")
    index.add_argument("--labels", action="store_true", help="lines are label<TAB>sentence")
    index.add_argument("--no-atlas", action="store_true",
                       help="skip every head's statistics per sentence (the head atlas): a search-only index")
    index.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                       help="build on Ray: a local Ray, or the cluster at ADDRESS (requirements-ray.txt)")
    index.set_defaults(run=_index)

    search = _index_reader(commands, "search", "the corpus tokens closest to one token of a sentence", _search)
    search.add_argument("text")
    search.add_argument("--token", type=int, required=True, help="token position, 0 = [CLS]")
    search.add_argument("--top-k", type=int, default=10)

    occurrences = _index_reader(commands, "occurrences", "every occurrence of a word, grouped by meaning",
                                _occurrences)
    occurrences.add_argument("word")
    occurrences.add_argument("--groups", type=int, default=None, help="default: the best-separated count")
    _atlas_commands(commands)


def _atlas_commands(commands) -> None:
    from .corpus.heads import STATISTICS

    atlas = _index_opener(commands, "atlas", "every head's statistic over the corpus, or one head's top sentences",
                          _atlas)
    atlas.add_argument("--statistic", choices=list(STATISTICS), default="to_previous")
    atlas.add_argument("--layer", type=int, default=None, help="with --head: one head (1-based), its top sentences")
    atlas.add_argument("--head", type=int, default=None)
    space = _index_opener(commands, "query-keys", "one head's queries and keys over a sample, in 2-D", _query_keys)
    space.add_argument("--layer", type=int, required=True, help="1-based attention layer")
    space.add_argument("--head", type=int, required=True, help="1-based")
    projected = _index_opener(commands, "corpus-map", "the corpus's sentence vectors at a layer, in 2-D",
                              _corpus_map)
    projected.add_argument("--layer", type=int, required=True, help="0 = the embedding output")
    projected.add_argument("--pooling", choices=["mean", "cls"], default="mean")


def _index_reader(commands, name: str, summary: str, run) -> argparse.ArgumentParser:
    """A command that reads an index folder at one layer: the options every such command takes."""
    reader = _index_opener(commands, name, summary, run)
    reader.add_argument("--layer", type=int, required=True, help="0 = the embedding output")
    return reader


def _index_opener(commands, name: str, summary: str, run) -> argparse.ArgumentParser:
    """A command that opens an index folder."""
    reader = commands.add_parser(name, help=summary)
    reader.add_argument("index", help="index folder")
    reader.add_argument("--model", default=None, help="default: the model the index was built with")
    reader.add_argument("--json", action="store_true", help="print JSON instead of text")
    reader.set_defaults(run=run)
    return reader


def _layer_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"layers are comma-separated numbers, not {text!r}") from None


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
    model, result = _with_masks(args)
    _print_masks({"model": model.name, "masks": _masks_json(result.masks)}, args.json)
    return 0


def _with_masks(args):
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


def _masks_json(masks) -> list[dict]:
    return [{"position": m.position,
             "predictions": [{"token": t, "token_id": int(i), "logit": float(l), "probability": float(p)}
                             for t, i, l, p in zip(m.tokens, m.token_ids, m.logits, m.probs)]}
            for m in masks]


def _print_masks(found: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(found, indent=2))
        return
    for mask in found["masks"]:
        print(f"mask at token {mask['position']}:")
        for rank, guess in enumerate(mask["predictions"], start=1):
            print(f"  {rank:>2}. {guess['token']:<16} p={guess['probability']:.4f}  logit={guess['logit']:.3f}")


def _targeted(args, text: str | None = None):
    """The model, the analysis of ``text`` (default: the command's text) and the target the options name."""
    from .explain.target import mask_target

    model = load_model(args.model)
    result = analyze(model, args.text if text is None else text)
    return model, result, mask_target(model, result, args.mask, args.target)


def _explain(args) -> int:
    from .explain.attributions import attribute

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
    from .explain.interventions import ablate, parse_heads

    model, result = _with_masks(args)
    found = ablate(model, result, parse_heads(model, args.heads), args.top_k)
    _print_masks({"model": model.name, "masks": _masks_json(found.masks),
                  "ablated": [[layer + 1, head + 1] for layer, head in found.heads]}, args.json)
    return 0


def _sweep(args) -> int:
    from .explain.interventions import head_sweep

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
    from .explain.interventions import patch_activations

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


def _analyze(args) -> int:
    result = analyze(load_model(args.model), args.text, args.pair, max_length=args.max_length)
    save_npz(args.out, result)
    shape = "x".join(map(str, result.attentions.shape))
    note = f" (truncated from {result.original_length})" if result.truncated else ""
    print(f"{args.out}: {result.num_tokens} tokens{note}, attentions {shape}")
    return 0


def _export_html(args) -> int:
    from .charts.attention import view_figure
    from .export import save_html

    model = load_model(args.model)
    layer, head = _one_head(model, args.layer, args.head)
    result = analyze(model, args.text)
    size = save_html(view_figure(result, args.view, layer, head), args.out)
    print(f"{args.out}: the {args.view} view of {result.num_tokens} tokens, {size / 1e6:.1f} MB, works offline")
    return 0


def _compare(args) -> int:
    from .compare import compare_layers
    from .corpus.library import shipped_sentences

    first, second = load_model(args.model), load_model(args.model_b)
    sentences = read_sentences(args.sentences) if args.sentences else shipped_sentences()
    found = compare_layers(first, second, list(sentences.texts), debiased=not args.plain)
    output = {"model": first.name, "model_b": second.name, "tokens": list(analyze(first, args.text).tokens),
              "tokens_b": list(analyze(second, args.text).tokens), "words": found.words,
              "sentences": found.sentences, "debiased": found.debiased, "cka": found.cka.round(6).tolist()}
    if args.json:
        print(json.dumps(output, indent=2))
        return 0
    print(f"{first.name}: {' '.join(output['tokens'])}\n{second.name}: {' '.join(output['tokens_b'])}")
    print(f"{'debiased' if found.debiased else 'plain'} CKA over {found.words:,} words of {found.sentences:,} "
          f"sentences (rows: {first.name} layers from the embeddings, columns: {second.name})")
    print("\n".join(f"{n:>3} " + " ".join(f"{v:5.2f}" for v in row) for n, row in enumerate(output["cka"])))
    return 0


def _lesson(args) -> int:
    from pathlib import Path

    from .lessons import load_lesson, read_lesson, step_answer

    path = Path(args.lesson)
    found = read_lesson(path.read_text(encoding="utf-8"), path.name) if path.suffix == ".yaml" else \
        load_lesson(args.lesson)
    model = load_model(args.model)
    steps = [{"step": number, "title": step.title, "kind": step.question.kind, "link": step.link(),
              "answer": step_answer(model, step)} for number, step in enumerate(found.steps, start=1)]
    if args.json:
        print(json.dumps({"lesson": found.name, "title": found.title, "model": model.name, "steps": steps},
                         indent=2))
        return 0
    print(f"{found.title} ({len(steps)} steps), answers of {model.name}:")
    for step in steps:
        print(f"  {step['step']}. {step['title']} [{step['kind']}]: {json.dumps(step['answer'])}")
    return 0


def _index(args) -> int:
    sentences = read_sentences(args.corpus, args.split, args.labels)
    model = load_model(args.model)
    encode = None
    if args.ray:
        from .corpus.on_ray import ray_encoder
        encode = ray_encoder(None if args.ray == "local" else args.ray, args.corpus, args.split, args.labels)
    with _Bars() as bars:
        manifest = build_index(model, sentences, args.out, args.layers, source=str(args.corpus),
                               atlas=not args.no_atlas, progress=bars, encode=encode)
    print(f"{args.out}: {manifest.data['tokens']:,} tokens of {len(sentences):,} sentences, layers "
          f"{','.join(map(str, manifest.layers))}, {model.name}")
    return 0


class _Bars:
    """One tqdm bar per stage of a build (sentences, then layers)."""

    def __enter__(self):
        from tqdm import tqdm
        self._tqdm, self._bars = tqdm, {}
        return self

    def __call__(self, done: int, total: int, what: str) -> None:
        if what not in self._bars:
            self._bars[what] = self._tqdm(total=total, unit=f" {what}", desc=what)
        self._bars[what].update(done - self._bars[what].n)

    def __exit__(self, *error) -> None:
        for bar in self._bars.values():
            bar.close()


def _opened(args) -> tuple[CorpusIndex, LoadedModel]:
    model = load_model(args.model or read_manifest(args.index).data["model"]["spec"])
    return CorpusIndex(args.index, model), model


def _search(args) -> int:
    corpus, model = _opened(args)
    result = corpus.search(analyze(model, args.text), args.token, args.layer, args.top_k)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
        return 0
    print(f"{result.query_token!r} (token {result.query_index}) at layer {result.layer}, {result.model}:")
    for rank, match in enumerate(result.matches, start=1):
        marked = f"{match.sentence[:match.start]}[{match.sentence[match.start:match.end]}]{match.sentence[match.end:]}"
        print(f"  {rank:>2}. {match.score:.4f}  {marked}")
    return 0


def _occurrences(args) -> int:
    corpus, _ = _opened(args)
    found = corpus.occurrences(args.word, args.layer, args.groups)
    if args.json:
        print(json.dumps(found.as_json(), indent=2))
        return 0
    separation = "" if found.silhouette is None else f", silhouette {found.silhouette:.2f}"
    print(f"{found.word!r} at layer {found.layer}: {sum(map(len, found.groups))} occurrences in "
          f"{len(found.groups)} groups{separation}")
    for number, group in enumerate(found.groups, start=1):
        print(f"group {number} ({len(group)}):")
        for place in group:
            print(f"  {place.closeness:.3f}  {place.sentence}")
    return 0



def _atlas(args) -> int:
    from .corpus.atlas import head_atlas

    corpus, model = _opened(args)
    atlas = head_atlas(corpus)
    s = atlas.statistic(args.statistic)
    if (args.layer is None) != (args.head is None):
        raise InputError("Give both --layer and --head for one head, or neither for every head.")
    if args.layer is None:
        grid = {"statistic": args.statistic, "sentences": atlas.sentences,
                "mean": atlas.mean[..., s].round(6).tolist(), "std": atlas.std[..., s].round(6).tolist()}
        print(json.dumps(grid) if args.json else _grid_text(grid))
        return 0
    layer, head = _one_head(model, args.layer, args.head)
    top = [{"sentence_id": i, "sentence": corpus.sentences[i], "value": v}
           for i, v in atlas.top_sentences(layer, head, args.statistic)]
    found = {"layer": args.layer, "head": args.head, "statistic": args.statistic,
             "mean": float(atlas.mean[layer, head, s]), "std": float(atlas.std[layer, head, s]), "top": top}
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"layer {args.layer}, head {args.head}, {args.statistic}: {found['mean']:.4f} ± {found['std']:.4f}")
    for rank, sentence in enumerate(top, start=1):
        print(f"  {rank:>2}. {sentence['value']:.4f}  {sentence['sentence']}")
    return 0


def _grid_text(grid: dict) -> str:
    rows = [f"{grid['statistic']}, mean over {grid['sentences']:,} sentences (rows: layers, columns: heads)"]
    rows += [f"{n:>3} " + " ".join(f"{value:6.3f}" for value in values) for n, values in enumerate(grid["mean"], 1)]
    return "\n".join(rows)


def _one_head(model: LoadedModel, layer: int, head: int) -> tuple[int, int]:
    """1-based layer and head -> 0-based, checked."""
    if not (1 <= layer <= model.num_layers and 1 <= head <= model.num_heads):
        raise InputError(f"Layers run from 1 to {model.num_layers} and heads from 1 to {model.num_heads}; "
                         f"got layer {layer}, head {head}.")
    return layer - 1, head - 1


def _query_keys(args) -> int:
    from .corpus.atlas import query_key_space

    corpus, model = _opened(args)
    space = query_key_space(model, corpus, *_one_head(model, args.layer, args.head))
    points = [{"kind": "query" if q else "key", "sentence_id": int(s), "token_index": int(t), "token": token,
               "x": round(float(x), 5), "y": round(float(y), 5)}
              for q, s, t, token, (x, y) in zip(space.is_query, space.sentence_ids, space.token_indexes,
                                                space.tokens, space.coords)]
    _print_points({"layer": args.layer, "head": args.head, "explained": space.explained.round(4).tolist(),
                   "scale": space.scale, "points": points}, args.json)
    return 0


def _corpus_map(args) -> int:
    from .corpus.atlas import corpus_map

    corpus, _ = _opened(args)
    found = corpus_map(corpus, args.layer, args.pooling)
    points = [{"sentence_id": int(s), "label": label, "x": round(float(x), 5), "y": round(float(y), 5)}
              for s, label, (x, y) in zip(found.sentence_ids, found.labels, found.coords)]
    _print_points({"layer": args.layer, "pooling": args.pooling, "explained": found.explained.round(4).tolist(),
                   "points": points}, args.json)
    return 0


def _print_points(found: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(found))
        return
    print(f"{len(found['points']):,} points; the axes explain {found['explained'][0]:.0%} and "
          f"{found['explained'][1]:.0%} of the variance")
    for point in found["points"]:
        print("  " + "  ".join(f"{name}={value}" for name, value in point.items()))


if __name__ == "__main__":
    sys.exit(main())
