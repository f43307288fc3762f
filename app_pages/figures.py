"""Every chart the pages draw, with its download as one HTML file that works offline, built only when clicked."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import streamlit as st

from bertviz_core.export import figure_html

DRAWN = "charts_drawn"
"""Session key: charts drawn so far in this run, which numbers each chart's download button."""


def start_run() -> None:
    """Number this run's charts from 1 again (app.py calls it before each page run), so each chart's button keeps
    its key from one run to the next."""
    st.session_state[DRAWN] = 0


def chart(place, figure: go.Figure, **options):
    """Draw ``figure`` in ``place`` (``st``, a column, a container) with ``st.plotly_chart``'s ``options``; under it,
    a button that downloads it as one HTML file with Plotly's JavaScript inside. The file (about 5 MB) is built when
    the button is clicked, never on a rerun."""
    st.session_state[DRAWN] = number = st.session_state.get(DRAWN, 0) + 1
    # A key by position: two equal figures on one page (one model compared with itself) are still two charts.
    drawn = place.plotly_chart(figure, **{"key": f"chart_{number}", **options})
    place.download_button("HTML", data=lambda: figure_html(figure), file_name=f"bert-lens-{_slug(figure)}.html",
                          mime="text/html", key=f"html_{number}", on_click="ignore", type="tertiary",
                          icon=":material/download:", help="This chart as one HTML file that opens offline")
    return drawn


def _slug(figure: go.Figure) -> str:
    """A file name from the chart's title: 'Layer 3, head 7: ...' -> 'layer-3-head-7'."""
    title = figure.layout.title.text or "chart"
    words = re.sub(r"<[^>]+>", " ", title.split(":")[0]).lower()
    return re.sub(r"[^a-z0-9]+", "-", words).strip("-")[:60] or "chart"
