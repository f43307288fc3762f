"""Commands on a corpus index: index, search, occurrences, atlas, query-keys, corpus-map. FAISS and Arrow are
imported when one of them runs (or its help is shown), not when the command line starts."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from .. import InputError, LoadedModel, analyze, load_model
from .common import one_head

if TYPE_CHECKING:
    from ..corpus import CorpusIndex


SUMMARIES = {
    "index": "index every token of a text file, layer by layer, for search",
    "search": "the corpus tokens closest to one token of a sentence",
    "occurrences": "every occurrence of a word, grouped by meaning",
    "atlas": "every head's statistic over the corpus, or one head's top sentences",
    "query-keys": "one head's queries and keys over a sample, in 2-D",
    "corpus-map": "the corpus's sentence vectors at a layer, in 2-D",
}


def add_commands(commands, model_option: dict, wanted: bool = True) -> None:
    """The corpus commands; unless one of them is ``wanted`` (run or its help shown), only their names and summaries:
    their options' choices come from the corpus modules, and importing those loads FAISS and Arrow."""
    if not wanted:
        for name, summary in SUMMARIES.items():
            commands.add_parser(name, help=summary)
        return
    from ..corpus.text import SPLITS

    index = commands.add_parser("index", help=SUMMARIES["index"])
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

    search = _index_reader(commands, "search", SUMMARIES["search"], _search)
    search.add_argument("text")
    search.add_argument("--token", type=int, required=True, help="token position, 0 = [CLS]")
    search.add_argument("--top-k", type=int, default=10)

    occurrences = _index_reader(commands, "occurrences", SUMMARIES["occurrences"], _occurrences)
    occurrences.add_argument("word")
    occurrences.add_argument("--groups", type=int, default=None, help="default: the best-separated count")
    _atlas_commands(commands)


def _atlas_commands(commands) -> None:
    from ..corpus.heads import STATISTICS

    atlas = _index_opener(commands, "atlas", SUMMARIES["atlas"], _atlas)
    atlas.add_argument("--statistic", choices=list(STATISTICS), default="to_previous")
    atlas.add_argument("--layer", type=int, default=None, help="with --head: one head (1-based), its top sentences")
    atlas.add_argument("--head", type=int, default=None, help="1-based")
    space = _index_opener(commands, "query-keys", SUMMARIES["query-keys"], _query_keys)
    space.add_argument("--layer", type=int, required=True, help="1-based attention layer")
    space.add_argument("--head", type=int, required=True, help="1-based")
    projected = _index_opener(commands, "corpus-map", SUMMARIES["corpus-map"], _corpus_map)
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


def _index(args) -> int:
    from ..corpus import build_index, read_sentences

    sentences = read_sentences(args.corpus, args.split, args.labels)
    model = load_model(args.model)
    encode = None
    if args.ray:
        from ..corpus.on_ray import ray_encoder
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
    from ..corpus import CorpusIndex, read_manifest

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
    from ..corpus.atlas import head_atlas

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
    layer, head = one_head(model, args.layer, args.head)
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


def _query_keys(args) -> int:
    from ..corpus.atlas import query_key_space

    corpus, model = _opened(args)
    space = query_key_space(model, corpus, *one_head(model, args.layer, args.head))
    points = [{"kind": "query" if q else "key", "sentence_id": int(s), "token_index": int(t), "token": token,
               "x": round(float(x), 5), "y": round(float(y), 5)}
              for q, s, t, token, (x, y) in zip(space.is_query, space.sentence_ids, space.token_indexes,
                                                space.tokens, space.coords)]
    _print_points({"layer": args.layer, "head": args.head, "explained": space.explained.round(4).tolist(),
                   "scale": space.scale, "points": points}, args.json)
    return 0


def _corpus_map(args) -> int:
    from ..corpus.atlas import corpus_map

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
