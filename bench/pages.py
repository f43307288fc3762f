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

ATLAS_VIEWS = {"atlas, head atlas": ("atlas", {}), "atlas, query/key space": ("atlas", {"atlas_view": "Query/key space"}),
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


def model_spec(name: str) -> str:
    if name != "bert-base-sized":
        return name
    directory = Path(tempfile.gettempdir()) / "bert-lens-bench-bert-base-sized"
    bert_base_sized(directory)  # saved once, then loaded by the app from the folder
    return str(directory)


def visit(browser, url: str) -> tuple[float, int, int]:
    """(seconds until the page's charts are drawn, bytes received over the websocket, charts)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    received = [0]
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: received.__setitem__(
        0, received[0] + len(frame if isinstance(frame, bytes) else frame.encode()))))
    start = time.perf_counter()
    page.goto(url, timeout=600_000)
    seconds, charts = settled(page, start)
    page.close()
    return seconds, received[0], charts


def settled(page, start: float) -> tuple[float, int]:
    """(seconds from ``start`` until the page was finished, charts): idle, a title, no placeholder left (Streamlit
    shows one while it fetches a chart's code), every chart drawn, and no change for SETTLE_SECONDS (the idle marker
    is also there before the first run starts, so it alone proves nothing)."""
    done_at, last = None, None
    while True:
        idle, titled, charts, drawn, placeholders = state = page.evaluate(STATE)
        finished = idle and titled and not placeholders and drawn >= charts
        if finished and state == last and time.perf_counter() - done_at >= SETTLE_SECONDS:
            return done_at - start, charts
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
            first, _, _ = visit(browser, f"{url}/?{query}")
            print(f"\n{model}, {length} tokens: model + analysis on first visit {first:.1f} s")
            print(f"| page | charts | MB sent | seconds until drawn |\n|---|---|---|---|")
            for label in pages:
                path, extra = PAGES[label]
                seconds, sent, charts = visit(browser, f"{url}/{path}?{query}&{urlencode(extra)}")
                print(f"| {label} | {charts} | {sent / 1e6:.2f} | {seconds:.1f} |", flush=True)
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
