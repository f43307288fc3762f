"""What the browser tests share besides fixtures."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from transformers import AutoConfig

from bertviz_core.loading import OFFLINE_MLM_DIR

SERVED = AutoConfig.from_pretrained(OFFLINE_MLM_DIR)
"""The configuration of the model the test server loads by default (no hub in tests: the offline model)."""
MODEL_VIEW_TITLE = f"All {SERVED.num_hidden_layers} layers x {SERVED.num_attention_heads} heads"

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_idle(page, timeout: float = 120_000) -> None:
    """Streamlit's own e2e tests wait for this: the script has finished its run."""
    page.wait_for_selector(IDLE, timeout=timeout)


def wait_for_first_run(page, timeout: float = 120_000) -> None:
    """The run that draws the page has finished: the sidebar (drawn by every run that renders) is there and the
    script is idle, checked together. A deep link may first make a short run that draws nothing while navigation
    picks the page, and its idle state alone would satisfy ``wait_idle``."""
    page.wait_for_function("() => document.querySelector(\"[data-testid='stSidebar'] textarea\") !== null"
                           " && document.querySelector(\"" + IDLE + "\") !== null", timeout=timeout)


def wait_for_chart_title(page, text: str, timeout: float = 120_000) -> None:
    """Plotly draws a chart after the script run ends: wait for the title itself, not only for the run."""
    page.wait_for_function("t => [...document.querySelectorAll('.gtitle')].some(e => e.textContent.includes(t))",
                           arg=text, timeout=timeout)


@contextmanager
def streamlit_server(command: list[str], cwd: Path, environment: dict[str, str], log: Path) -> Iterator[str]:
    """Run ``command`` (``streamlit run`` or ``bert-lens app``, without an address) on a free local port; yield its
    URL once it answers ``/_stcore/health``, and stop it at the end. Its output goes to ``log``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*command, "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as output:
        server = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, env=environment)
        try:
            _wait_healthy(url, server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not become healthy at {url}")


def outside_scripts(html: str) -> list[str]:
    """Script tags that would load code from elsewhere."""
    return re.findall(r"<script[^>]*\bsrc\s*=", html, flags=re.IGNORECASE)


def draws_offline(browser, path: Path, figures: int = 1) -> list[str]:
    """Open ``path`` with every network request refused and check that its ``figures`` Plotly figures drew, each with
    its title; return the requests that were attempted."""
    context = browser.new_context(offline=True)
    attempted = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (attempted.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_function("n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n && "
                           "document.querySelectorAll('.js-plotly-plot .gtitle').length >= n", arg=figures,
                           timeout=60_000)
    assert page.locator(".js-plotly-plot").count() == figures
    assert page.locator(".js-plotly-plot .gtitle").count() == figures
    assert page.locator(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .scatterlayer path").count() > 0
    context.close()
    return attempted
