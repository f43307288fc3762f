"""Fixtures: tiny models of every layout (loaded by path, the real loading code) and the two shipped models."""

import os
import tempfile
from pathlib import Path

# Hermetic on any machine: no hub, and an empty model cache, so a teacher's cached bert-base-uncased or a network
# connection cannot change what the default model is. Set before huggingface_hub reads them at import; the CLI
# and the browser tests' app server inherit them.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="bert-lens-hub-cache-")
# Corpus indexes the app builds go to a fresh folder too: built once per test session, never the user's own.
os.environ["BERT_LENS_INDEX_DIR"] = tempfile.mkdtemp(prefix="bert-lens-indexes-")
# The test process holds every test's models at once, several GB: the app tests running in it get a memory budget to
# match. The budget itself is tested with a process of known size (test_cache.py), and the browser tests' server
# runs with the default one (tests/e2e/conftest.py).
os.environ["BERT_LENS_MEMORY_MB"] = "100000"

import pytest  # noqa: E402

from bertviz_core import load_model  # noqa: E402
from tiny_models import FAMILIES, save_tiny_model


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: save_tiny_model(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="session")
def tiny_models(tiny_dirs):
    return {family: load_model(str(path)) for family, path in tiny_dirs.items()}


@pytest.fixture(scope="session")
def embedded():
    return load_model("embedded")


@pytest.fixture(scope="session")
def offline():
    """BERT Lens's own masked-LM model (all-MiniLM-L6-v2 fine-tuned by training/train_offline_mlm.py)."""
    return load_model("offline")


@pytest.fixture(scope="session")
def executed_tour(tmp_path_factory):
    """notebooks/tour.ipynb run once, top to bottom, in a Jupyter kernel (the notebook tests and the browser test)."""
    from notebook_run import TOUR, executed

    return executed(TOUR, tmp_path_factory.mktemp("tour"))
