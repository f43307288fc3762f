"""The ``app`` command: the Streamlit app, started as ``scripts/run_app.sh`` starts it from a clone."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .. import InputError

OWN_MACHINE = {"BERT_LENS_ALLOW_LOCAL_PATHS": "1", "BERT_LENS_MODELS": "any"}
"""What ``scripts/run_app.sh`` sets unless already set: on one's own machine the app may load models from local
folders and any hub id (a hosted server leaves both unset: docs/deploy.md)."""


def add_commands(commands) -> None:
    app = commands.add_parser("app", allow_abbrev=False, help="start the app in the browser (the app extra)",
                              description="Start the app, as scripts/run_app.sh does from a clone (it needs the app "
                                          "extra: pip install 'bert-lens[app]'). Every further argument goes to "
                                          "`streamlit run`, e.g. --server.port 8502.")
    app.set_defaults(run=_app, passes_on=True)


def entry_script() -> Path:
    """``app_pages/app.py``, wherever ``app_pages`` is (a clone, or an installed copy's site-packages); found without
    importing the app, which imports Streamlit."""
    spec = importlib.util.find_spec("app_pages")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("The app's files (app_pages) are not installed beside bertviz_core.")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def _app(args) -> int:
    from streamlit.web.cli import main as streamlit  # the app extra: a missing one is named (cli.main)

    for name, value in OWN_MACHINE.items():
        os.environ.setdefault(name, value)
    # Streamlit reads app_pages/.streamlit/config.toml beside the entry script (the clone's .streamlit, linked), so an
    # installed copy keeps the clone's settings: headless, no usage statistics, no file watcher, small uploads.
    streamlit(["run", str(entry_script()), *args.extra], prog_name="streamlit")  # exits when the server stops
    return 0
