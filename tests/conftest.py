"""Fixtures: tiny models of every layout (loaded by path, the real loading code) and the two shipped models."""

from pathlib import Path

import pytest

from bertviz_core import load_model
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
