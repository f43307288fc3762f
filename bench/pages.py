"""What each page costs a browser: bytes sent over the websocket and the time until every chart is drawn in
Chromium, at 128 and 512 tokens, for the offline default and a BERT-base-sized model; and the server's peak memory.

    .venv/bin/python bench/pages.py [--models offline bert-base-sized] [--lengths 128 512] [--pages PAGE ...]

Each model gets a fresh server. A first visit with the same text loads the model and runs the analysis (timed
apart as "model + analysis"), so the page figures are what a reader waits for when moving between pages.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import bert_base_sized, text_of  # noqa: E402
from bench.server import CHROMIUM_ARGS, running_app  # noqa: E402

ATLAS_VIEWS = {"atlas, head atlas": ("atlas", {}),
               "atlas, query/key space": ("atlas", {"atlas_view": "Query/key space"}),
               "atlas, corpus map": ("atlas", {"atlas_view": "Corpus map"})}
PAGES = {  # row label -> (path, extra query parameters): each page as a link opens it, plus the heavier views
    "home": ("", {}),
    **{path: (path, {}) for path in ("tokenization", "positions", "input", "architecture", "attention")},
    "attention, model view": ("attention", {"view": "Model view"}),
    "attention, rollout and norms": ("attention", {"view": "Rollout and norms"}),
    "masked-lm, token 1 clicked": ("masked-lm", {"masked": "1"}),
    **{path: (path, {}) for path in ("qkv", "context", "applications", "corpus")},
    **ATLAS_VIEWS,  # after corpus, whose visit built the shipped corpus's index
    # Again, the data now cached on the server: what drawing each view costs once its data is ready.
    **{f"{label}, again": ATLAS_VIEWS[label] for label in ATLAS_VIEWS},
}
STATE = ("() => [!!document.querySelector(\"[data-testid='stApp'][data-test-script-state='notRunning']\"), "
         "!!document.querySelector('h1'), document.querySelectorAll('[data-testid=stPlotlyChart]').length, "
         "document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg').length, "
         "document.querySelectorAll('[data-testid=stMain] [data-testid=stSkeleton]').length]")
SETTLE_SECONDS = 1.0
DATA_FRAME = 10_000
"""Bytes above which a websocket frame carries a chart's data (Streamlit's other messages are smaller)."""


def model_spec(name: str) -> str:
    if name != "bert-base-sized":
        return name
    directory = Path(tempfile.gettempdir()) / "bert-lens-bench-bert-base-sized"
    bert_base_sized(directory)  # saved once, then loaded by the app from the folder
    return str(directory)


def visit(browser, url: str) -> tuple[float, float, int, int]:
    """(seconds until the page's charts are drawn, of which the seconds after the last frame of chart data arrived
    over the websocket (the last of over DATA_FRAME bytes, or the last of all): drawing once the data is in the
    browser; bytes received over the websocket; charts)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frames: list[tuple[float, int]] = []  # (when, bytes)
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(
        (time.perf_counter(), len(frame if isinstance(frame, bytes) else frame.encode())))))
    start = time.perf_counter()
    page.goto(url, timeout=600_000)
    done, charts = settled(page)
    page.close()
    before = [(when, size) for when, size in frames if when <= done]
    data_in = max((when for when, size in before if size > DATA_FRAME),
                  default=max((when for when, _ in before), default=start))
    return done - start, done - data_in, sum(size for _, size in frames), charts


def settled(page) -> tuple[float, int]:
    """(when the page was finished, as time.perf_counter, charts): idle, a title, no placeholder left (Streamlit
    shows one while it fetches a chart's code), every chart drawn, and no change for SETTLE_SECONDS (the idle marker
    is also there before the first run starts, so it alone proves nothing)."""
    done_at, last = None, None
    while True:
        idle, titled, charts, drawn, placeholders = state = page.evaluate(STATE)
        finished = idle and titled and not placeholders and drawn >= charts
        if finished and state == last and time.perf_counter() - done_at >= SETTLE_SECONDS:
            return done_at, charts
        if not finished or state != last:
            done_at = time.perf_counter()
        last = state
        page.wait_for_timeout(100)


def measure(model: str, lengths: list[int], pages: list[str]) -> None:
    spec = model_spec(model)
    with running_app() as (url, memory), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for length in lengths:
            query = urlencode({"model": spec, "text": text_of(length)})
            first, _, _, _ = visit(browser, f"{url}/?{query}")
            print(f"\n{model}, {length} tokens: model + analysis on first visit {first:.1f} s")
            print("| page | charts | MB sent | seconds until drawn | of which after the data arrived |\n"
                  "|---|---|---|---|---|")
            for label in pages:
                path, extra = PAGES[label]
                seconds, drawing, sent, charts = visit(browser, f"{url}/{path}?{query}&{urlencode(extra)}")
                print(f"| {label} | {charts} | {sent / 1e6:.2f} | {seconds:.1f} | {drawing:.1f} |", flush=True)
        browser.close()
        print(f"\n{model}: server peak resident memory {memory.peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["offline", "bert-base-sized"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES), metavar="PAGE")
    args = parser.parse_args()
    for model in args.models:
        measure(model, args.lengths, args.pages)


if __name__ == "__main__":
    main()
