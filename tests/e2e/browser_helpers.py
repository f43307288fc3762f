"""What the browser tests share besides fixtures."""

import re
from pathlib import Path

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
