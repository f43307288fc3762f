"""The tour notebook, run in Jupyter and exported to HTML by nbconvert, draws every figure in Chromium with the
network blocked: the plotly.js it needs is the one copy the notebook embeds."""

from nbconvert import HTMLExporter

from browser_helpers import draws_offline
from notebook_run import figures


def test_the_tours_html_export_draws_every_figure_offline(executed_tour, browser, tmp_path):
    exporter = HTMLExporter()
    html, _ = exporter.from_notebook_node(executed_tour)
    page = tmp_path / "tour.html"
    page.write_text(html, encoding="utf-8")
    attempted = draws_offline(browser, page, figures=len(figures(executed_tour)))
    # nbconvert's own page asks for require.js and MathJax; the figures need neither, and ask for nothing.
    assert all(url.startswith(("https://cdnjs.cloudflare.com/ajax/libs/require.js/",
                               "https://cdnjs.cloudflare.com/ajax/libs/mathjax/")) for url in attempted), attempted
