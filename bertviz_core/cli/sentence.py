"""Commands on one sentence or one model: info, fill-mask, analyze, export-html, compare, lesson."""

from __future__ import annotations

import json

from .. import analyze, load_model, model_summary
from .common import masks_json, one_head, print_masks, with_masks


def add_commands(commands, model_option: dict) -> None:
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
    lesson.add_argument("lesson", help="a lesson's name (bertviz_core/lessons_data/NAME.yaml, or in "
                                       "BERT_LENS_LESSONS_DIR) or the path of a lesson file")
    lesson.add_argument("--model", **model_option)
    lesson.add_argument("--json", action="store_true", help="print JSON instead of text")
    lesson.set_defaults(run=_lesson)


def _info(args) -> int:
    from ..facts import model_facts

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
    print("read from the checkpoint:")
    facts = model_facts(model)
    for name in ("has_pooler", "sentence_head", "segment_types", "positions", "lowercases", "vocabulary",
                 "trained_with"):
        print(f"{name:>18}: {getattr(facts, name)}")
    return 0


def _fill_mask(args) -> int:
    model, result = with_masks(args)
    print_masks({"model": model.name, "masks": masks_json(result.masks)}, args.json)
    return 0


def _analyze(args) -> int:
    from ..export import save_npz

    result = analyze(load_model(args.model), args.text, args.pair, max_length=args.max_length)
    save_npz(args.out, result)
    shape = "x".join(map(str, result.attentions.shape))
    note = f" (truncated from {result.original_length})" if result.truncated else ""
    print(f"{args.out}: {result.num_tokens} tokens{note}, attentions {shape}")
    return 0


def _export_html(args) -> int:
    from ..charts.attention import view_figure
    from ..export import save_html

    model = load_model(args.model)
    layer, head = one_head(model, args.layer, args.head)
    result = analyze(model, args.text)
    size = save_html(view_figure(result, args.view, layer, head), args.out)
    print(f"{args.out}: the {args.view} view of {result.num_tokens} tokens, {size / 1e6:.1f} MB, works offline")
    return 0


def _compare(args) -> int:
    from ..compare import compare_layers
    from ..corpus import read_sentences
    from ..corpus.library import shipped_sentences

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

    from ..lessons import load_lesson, read_lesson, step_answer

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
