"""Start the real app on a free local port and drive it with Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from browser_helpers import streamlit_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def app_url():
    # The masked-LM tests load a tiny model from a folder, and the model picker's test a hub id that does not exist:
    # the operator allows both, as scripts/run_app.sh does on one's own machine.
    environment = {**os.environ, "BERT_LENS_ALLOW_LOCAL_PATHS": "1", "BERT_LENS_MODELS": "any"}
    environment.pop("BERT_LENS_MEMORY_MB", None)  # the server's own default budget, as deployed
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")]
    with streamlit_server(command, ROOT, environment, ROOT / "artifacts" / "e2e-server.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package.")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
