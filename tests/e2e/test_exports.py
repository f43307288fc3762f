"""Exported HTML files open and draw in Chromium with the network blocked: one written by the command line, one
downloaded from the app's button under a chart."""

import subprocess
import sys
from urllib.parse import quote

from browser_helpers import draws_offline, outside_scripts, wait_for_first_run, wait_idle


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
