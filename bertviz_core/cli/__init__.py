"""Command line: ``bert-lens`` (installed) or ``python -m bertviz_core``, then ``app | info | fill-mask | analyze |
export-html | compare | lesson | explain | ablate | sweep | patch | decompose | routes | index | search | occurrences |
atlas | query-keys | corpus-map``. Bad input -> one line, exit code 2; so is a command whose optional dependencies are
not installed.

One module per group of commands (``app``, ``sentence``, ``explain``, ``corpus``); each command imports what it needs
when it runs, so ``info`` and ``fill-mask`` load neither FAISS nor Arrow nor Ray nor Streamlit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import InputError, ModelLoadError
from . import app, corpus, explain, sentence

EXTRAS = {"streamlit": "app", "faiss": "corpus", "pyarrow": "corpus", "pysbd": "corpus", "umap": "corpus",
          "ray": "ray", "captum": "explain"}
"""An optional dependency's import name -> the extra that installs it (pyproject.toml)."""
LAYERS = ("Layers: 0 is the embedding output wherever hidden states are meant (hidden states, CKA rows, patching "
          "rows, corpus indexes); attention layers and heads count from 1, as in the app.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    wanted = not argv or argv[0].startswith("-") or argv[0] in corpus.SUMMARIES  # a corpus command, or --help
    try:
        parser = _parser(wanted)
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "passes_on", False):  # only `app` passes arguments on (to streamlit run)
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.extra = extra
        return args.run(args)
    except (InputError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in EXTRAS:
            raise
        print(f"error: this needs {missing}, which comes with the {EXTRAS[missing]} extra: "
              f"pip install 'bert-lens[{EXTRAS[missing]}]'", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. --out into a folder that does not exist
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


def _parser(wanted: bool) -> argparse.ArgumentParser:
    """Every command; the corpus commands' options only if ``wanted`` (``corpus.add_commands``)."""
    installed = Path(sys.argv[0]).stem == "bert-lens"  # the console script; else python -m bertviz_core
    parser = argparse.ArgumentParser(prog="bert-lens" if installed else "python -m bertviz_core",
                                     description="Look inside a BERT-family model. " + LAYERS)
    commands = parser.add_subparsers(required=True, metavar="command")
    app.add_commands(commands)
    model_option = dict(default=None, help="hub id, model directory, 'offline' or 'embedded' (default: "
                                           "bert-base-uncased, or 'offline' when the hub is unreachable)")
    sentence.add_commands(commands, model_option)
    explain.add_commands(commands, model_option)
    corpus.add_commands(commands, model_option, wanted)
    return parser
