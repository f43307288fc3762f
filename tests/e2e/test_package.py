"""BERT Lens as a pip package: a wheel built from this checkout, installed into a fresh virtual environment, works
offline like a clone, from a folder where no clone is on the path: the command line, the shipped model, corpus and
lessons, and the app (served by ``bert-lens app``, opened in Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser_helpers import streamlit_server, wait_for_first_run
from bertviz_core import analyze
from bertviz_core.cli import EXTRAS
from bertviz_core.lessons import load_lesson
from bertviz_core.loading import OFFLINE_MLM_DIR
from app_pages.catalog import PAGES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = ("bertviz_core/offline_mlm/model.safetensors", "bertviz_core/offline_mlm/tokenizer.json",
                "bertviz_core/corpus_data/written.tsv", "bertviz_core/corpus_data/held_out.tsv",
                "bertviz_core/lessons_data/bert-path.yaml", "app_pages/app.py", "app_pages/.streamlit/config.toml")
PARIS = "Paris is the [MASK] of France."
NEED_THE_CORPUS_EXTRA = ("bertviz_core.corpus", "bertviz_core.charts.atlas", "bertviz_core.charts.corpus")
WITHOUT_EXTRAS = """
import importlib, pkgutil, sys
blocked, corpus_modules, *argv = sys.argv[1:]
sys.modules.update(dict.fromkeys(blocked.split(",")))  # importing any of them fails, as if it were not installed
import bertviz_core
from bertviz_core.cli import main
for found in pkgutil.walk_packages(bertviz_core.__path__, "bertviz_core."):
    if not found.name.startswith(tuple(corpus_modules.split(","))):
        importlib.import_module(found.name)
sys.exit(main(argv))
"""
"""``python -c WITHOUT_EXTRAS extras corpus_modules command...``: import every engine module but the corpus ones, then
run a command, with no optional dependency importable: what ``pip install bert-lens`` alone gives."""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    folder: Path
    """An empty working folder: no clone on the path."""
    environment: dict[str, str]

    def run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``command`` with the venv's ``bin`` first; a failure shows what it printed."""
        done = subprocess.run([str(self.venv / "bin" / command[0]), *command[1:]], cwd=self.folder,
                              env=self.environment, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("package")
    wheel = _built_wheel(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The dependencies (torch, transformers, streamlit, ...: about 2 GB) are already installed where this test runs:
    # the fresh venv sees them through a .pth file, which adds the running interpreter's site-packages to its
    # sys.path after its own, instead of downloading and installing them again. pip itself comes from there too (the
    # venv has none of its own): it installs the wheel alone into the fresh venv, and pip check reads every
    # distribution on that path, the wheel's requirements against the installed versions.
    fresh = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path("
                                 "'purelib'))"], check=True, capture_output=True, text=True).stdout.strip())
    shared = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    (fresh / "shared-dependencies.pth").write_text("".join(f"{path}\n" for path in shared))
    folder = root / "work"
    folder.mkdir()
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("PYTHONPATH", "VIRTUAL_ENV", "BERT_LENS_MEMORY_MB")}
    environment.update(HF_HUB_OFFLINE="1", PATH=f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}")
    found = Installed(wheel, venv, folder, environment)
    found.run("python", "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel))
    return found


def _built_wheel(root: Path) -> Path:
    """A wheel of the checkout as it is (tracked files and new ones git does not ignore), built from a copy so that
    setuptools' build/ and .egg-info folders stay out of the checkout and no stale build/ can leak into the wheel."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    source = root / "source"
    for name in filter(None, listed):
        if os.path.lexists(ROOT / name):  # a tracked file deleted in the working tree is not part of it
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name, follow_symlinks=False)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--wheel-dir", str(root / "dist"), str(source)], check=True)
    return next((root / "dist").glob("bert_lens-*.whl"))


def test_the_wheel_holds_the_package_data_and_the_command(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = next(wheel.read(name).decode() for name in names if name.endswith("entry_points.txt"))
    assert set(PACKAGE_DATA) <= names, set(PACKAGE_DATA) - names
    assert {page.script for page in PAGES} <= names
    assert not [name for name in names if name.startswith(("tests/", "training/", "bench/", "scripts/"))]
    assert "bert-lens = bertviz_core.cli:main" in entry_points


def test_the_installed_package_is_the_wheel_and_its_dependencies_are_met(installed):
    where = installed.run("python", "-c", "import importlib.util as u; "
                                          "print(u.find_spec('bertviz_core').origin, u.find_spec('app_pages').origin)")
    for origin in where.stdout.split():  # the files Python imports there: bertviz_core.__file__, app_pages.__file__
        assert Path(origin).is_relative_to(installed.venv), origin  # not the checkout
    assert "No broken requirements" in installed.run("python", "-m", "pip", "check").stdout
    # Every extra's requirements are met by the pinned set (requirements*.txt) too: with no index, a range that
    # excluded an installed version (torch 2.13.0+cpu, say) would have nothing to install and fail.
    installed.run("python", "-m", "pip", "install", "--dry-run", "--no-index", "--quiet", f"{installed.wheel}[all]")


def test_the_command_line_works_offline_from_the_installed_copy(installed, offline):
    commands = {"info": ("bert-lens", "info", "--model", "offline"),
                "fill-mask": ("bert-lens", "fill-mask", PARIS, "--model", "offline", "--top-k", "10", "--json"),
                "lesson": ("python", "-c", WITHOUT_EXTRAS, ",".join(EXTRAS), ",".join(NEED_THE_CORPUS_EXTRA),
                           "lesson", "bert-path", "--model", "offline", "--json")}
    with ThreadPoolExecutor(len(commands)) as pool:  # each spends most of its time starting Python and torch
        printed = dict(zip(commands, pool.map(lambda command: installed.run(*command).stdout, commands.values())))

    config = json.loads((OFFLINE_MLM_DIR / "config.json").read_text())
    info = dict(line.strip().split(": ", 1) for line in printed["info"].splitlines()
                if ": " in line and not line.startswith("Using"))
    assert (info["layers"], info["heads"]) == (str(config["num_hidden_layers"]), str(config["num_attention_heads"]))
    assert info["has_mlm_head"] == "True" and info["vocabulary"] == "WordPiece"

    guesses = [guess["token"] for guess in json.loads(printed["fill-mask"])["masks"][0]["predictions"]]
    assert "capital" in guesses and all(guess.isalpha() for guess in guesses), guesses
    assert guesses == list(analyze(offline, PARIS, top_k=10).masks[0].tokens), "the clone guesses the same"

    lesson = json.loads(printed["lesson"])  # the shipped lesson, read from the installed package with no extras
    assert lesson["title"] == load_lesson("bert-path").title
    assert len(lesson["steps"]) == len(load_lesson("bert-path").steps)


def test_bert_lens_app_serves_the_installed_app_with_the_projects_settings(installed, page):
    log = ROOT / "artifacts" / "package-server.log"
    with streamlit_server([str(installed.venv / "bin" / "bert-lens"), "app"], installed.folder,
                          installed.environment, log) as url:
        page.goto(url)
        wait_for_first_run(page)
        links = page.locator("[data-testid='stPageLink']")  # Home links every page by its file
        links.nth(len(PAGES) - 1).wait_for(timeout=60_000)  # drawn last
        assert links.count() == len(PAGES)  # each found in the installed app_pages, or the page would fail
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.get_by_text("The loaded model: bert-lens-minilm-mlm").count() == 1  # no hub: the offline model
        # The project's settings apply (app_pages/.streamlit/config.toml, beside the entry script): without them,
        # Streamlit shows visitors a Deploy button.
        assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    assert "Traceback" not in log.read_text()
