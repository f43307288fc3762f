"""Command line: ``python -m bertviz_core info | fill-mask | analyze | export-html | compare | lesson | explain |
ablate | sweep | patch | index | search | occurrences | atlas | query-keys | corpus-map``. Bad input -> one line,
exit code 2.

One module per group of commands (``sentence``, ``explain``, ``corpus``); each command imports what it needs when it
runs, so ``info`` and ``fill-mask`` load neither FAISS nor Arrow nor Ray.
"""

from __future__ import annotations

import argparse
import sys

from .. import InputError, ModelLoadError
from . import corpus, explain, sentence

LAYERS = ("Layers: 0 is the embedding output wherever hidden states are meant (hidden states, CKA rows, patching "
          "rows, corpus indexes); attention layers and heads count from 1, as in the app.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    wanted = not argv or argv[0].startswith("-") or argv[0] in corpus.SUMMARIES  # a corpus command, or --help
    args = _parser(wanted).parse_args(argv)
    try:
        return args.run(args)
    except (InputError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. --out into a folder that does not exist
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


def _parser(wanted: bool) -> argparse.ArgumentParser:
    """Every command; the corpus commands' options only if ``wanted`` (``corpus.add_commands``)."""
    parser = argparse.ArgumentParser(prog="python -m bertviz_core", description="Look inside a BERT-family model. "
                                     + LAYERS)
    commands = parser.add_subparsers(required=True, metavar="command")
    model_option = dict(default=None, help="hub id, model directory, 'offline' or 'embedded' (default: "
                                           "bert-base-uncased, or 'offline' when the hub is unreachable)")
    sentence.add_commands(commands, model_option)
    explain.add_commands(commands, model_option)
    corpus.add_commands(commands, model_option, wanted)
    return parser
