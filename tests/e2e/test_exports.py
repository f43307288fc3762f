"""Exported HTML files open and draw in Chromium with the network blocked: one written by the command line, one
downloaded from the app's button under a chart."""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from browser_helpers import wait_for_first_run, wait_idle


def outside_scripts(html: str) -> list[str]:
    """Script tags that would load code from elsewhere."""
    return re.findall(r"<script[^>]*\bsrc\s*=", html, flags=re.IGNORECASE)


def draws_offline(browser, path: Path) -> list[str]:
    """Open ``path`` with every network request refused; return the requests that were attempted."""
    context = browser.new_context(offline=True)
    attempted = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (attempted.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    assert page.locator(".js-plotly-plot .gtitle").count() == 1
    assert page.locator(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .scatterlayer path").count() > 0
    context.close()
    return attempted


def test_the_command_lines_model_view_at_512_tokens_draws_offline(browser, tmp_path):
    out = tmp_path / "model.html"
    text = " ".join(["word"] * 510)
    done = subprocess.run([sys.executable, "-m", "bertviz_core", "export-html", text, "--view", "model", "--model",
                           "offline", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert not outside_scripts(html) and "Plotly.newPlot" in html
    assert draws_offline(browser, out) == []


def test_a_charts_html_button_downloads_a_file_that_draws_offline(app_url, page, browser, tmp_path):
    page.goto(f"{app_url}/attention?text={quote('Cats chase mice.')}&view=Heatmap")
    wait_for_first_run(page)
    wait_idle(page)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="HTML").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("bert-lens-layer-1-head-1")
    html = saved.read_text(encoding="utf-8")
    assert not outside_scripts(html) and "each row is where one token looks" in html
    assert draws_offline(browser, saved) == []
