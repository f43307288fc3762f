"""A class on one server: N sessions over every page, a share of them on models of their own, a few uploading a
corpus, some on the Explain page; errors, p50 / p95 of light and of heavy pages apart, the server's peak resident
memory against its budget, and the disk its indexes take.

    .venv/bin/python bench/class_load.py [--sessions 30] [--models 3] [--own-share 0.67] [--uploads 2]
        [--memory-mb 2200] [--visitor-models 1] [--pages attention masked-lm qkv context explain corpus atlas positions]

Sessions speak Streamlit's own protocol (bench/load.py's websocket client); the uploads run in Chromium, which the
upload needs. Models: ``--models`` BERT-base-sized folders (random weights, bench/common.py) stand in for the hub
models visitors type; a session with a model of its own picks one of them in turn, the others use the server's
default. A refusal ("in use, try again") is a message the visitor reads, counted apart from errors. Sends traffic to
127.0.0.1 only; needs Debian's chromium for the uploads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import websockets
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import bert_base_sized  # noqa: E402
from bench.load import percentiles, problems, run_page, sentence_of  # noqa: E402
from bench.server import CHROMIUM_ARGS, IDLE, running_app  # noqa: E402

HEAVY = {"explain", "corpus", "atlas"}
"""Pages whose first visit runs heavy work: attributions with deletion curves, a corpus index build."""
REFUSED = "Cannot load"


async def class_session(url: str, number: int, pages: list[str], model: str) -> dict:
    """One student: every page in turn on a sentence of their own with a mask to explain."""
    text, noun = sentence_of(number)
    query = urlencode({"text": text.replace("today", "[MASK] today"), "model": model})
    found = {"first": [], "light": [], "heavy": [], "errors": [], "refusals": 0, "pages": []}
    async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None) as socket:
        for name in pages:
            start = time.perf_counter()
            try:
                elements = await asyncio.wait_for(run_page(socket, name, query), 600)
            except Exception as error:  # a timeout or a crash is a result to report, not a reason to stop
                found["errors"].append(f"session {number} {name}: {type(error).__name__}: {error}")
                continue
            kind = "first" if name == pages[0] else "heavy" if name in HEAVY else "light"
            found[kind].append(time.perf_counter() - start)
            found["pages"].append((name, time.perf_counter() - start))
            kinds = [element.WhichOneof("type") for element in elements]
            found["refusals"] += any(REFUSED in element.alert.body for element in elements if element.HasField("alert"))
            charts = " ".join(element.plotly_chart.spec for element in elements if element.HasField("plotly_chart"))
            # With a mask in the sentence, Q/K/V opens on the mask: only the heatmap labels every token.
            found["errors"] += problems(number, name, noun, "exception" in kinds, True, charts, {"attention"})
            found["errors"] += [f"    {element.exception.message.splitlines()[0]}" for element in elements
                                if element.HasField("exception")]
    return found


async def upload_session(browser, url: str, number: int, corpus: Path) -> dict:
    """A visitor who uploads a corpus on the Corpus search page and waits for its first matches."""
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    start, found = time.perf_counter(), {"first": [], "light": [], "heavy": [], "errors": [], "refusals": 0,
                                         "pages": []}
    try:
        await page.goto(f"{url}/corpus?corpus=upload&text=The+bank+of+the+river.", timeout=180_000)
        await page.wait_for_selector("input[type=file]", state="attached", timeout=180_000)
        await page.set_input_files("input[type=file]", str(corpus))
        await page.wait_for_selector(".js-plotly-plot .main-svg", timeout=600_000)
        await page.wait_for_selector(IDLE, timeout=600_000)
        found["heavy"].append(time.perf_counter() - start)
        if await page.locator("[data-testid='stException']").count():
            found["errors"].append(f"upload {number}: an error box")
    except Exception as error:
        found["errors"].append(f"upload {number}: {type(error).__name__}: {str(error).splitlines()[0]}")
    return found


def corpus_file(folder: Path, number: int, sentences: int = 400) -> Path:
    """A corpus of its own for each uploader: real sentences from the shipped corpus, numbered apart."""
    shipped = (Path(__file__).resolve().parents[1] / "bertviz_core" / "corpus_data" / "held_out.tsv").read_text()
    lines = [line.split("\t")[-1] for line in shipped.splitlines()[1:] if line.strip()]
    path = folder / f"class-corpus-{number}.txt"
    path.write_text("\n".join(f"{line} ({number})" for line in (lines * 3)[:sentences]) + "\n")
    return path


async def run(url: str, args, models: list[str]) -> list[dict]:
    own = round(args.sessions * args.own_share)
    chosen = [models[n % len(models)] if n < own else "" for n in range(args.sessions)]
    folder = Path(tempfile.mkdtemp(prefix="bert-lens-class-"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        results = await asyncio.gather(
            *(class_session(url, n, args.pages, chosen[n]) for n in range(args.sessions)),
            *(upload_session(browser, url, n, corpus_file(folder, n)) for n in range(args.uploads)))
        await browser.close()
    return results


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--models", type=int, default=3, help="BERT-base-sized folders standing in for hub models")
    parser.add_argument("--own-share", type=float, default=0.67, help="share of sessions on a model of their own")
    parser.add_argument("--uploads", type=int, default=2, help="Chromium sessions uploading a corpus")
    parser.add_argument("--memory-mb", type=int, default=2200, help="the server's BERT_LENS_MEMORY_MB")
    parser.add_argument("--visitor-models", type=int, default=1, help="the server's BERT_LENS_VISITOR_MODELS")
    parser.add_argument("--pages", nargs="+", default=["attention", "masked-lm", "qkv", "context", "explain",
                                                       "corpus", "atlas", "positions"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bert-lens-class-models-"))
    models = [str(bert_base_sized(root / f"model-{n}", seed=n).location) for n in range(args.models)]
    indexes = Path(tempfile.mkdtemp(prefix="bert-lens-class-indexes-"))
    os.environ.update(BERT_LENS_MEMORY_MB=str(args.memory_mb), BERT_LENS_VISITOR_MODELS=str(args.visitor_models),
                      BERT_LENS_INDEX_DIR=str(indexes), BERT_LENS_MODELS="any")
    with running_app() as (url, memory):
        started = time.perf_counter()
        results = asyncio.run(run(url, args, models))
        elapsed = time.perf_counter() - started
    first = [t for r in results for t in r["first"]]
    light = [t for r in results for t in r["light"]]
    heavy = [t for r in results for t in r["heavy"]]
    errors = [e for r in results for e in r["errors"]]
    print(f"{args.sessions} sessions x {len(args.pages)} pages and {args.uploads} uploads, {args.models} "
          f"BERT-base-sized models ({args.own_share:.0%} of sessions on one of their own), budget "
          f"{args.memory_mb:,} MB, {args.visitor_models} visitor model(s): {elapsed:.0f} s, {len(errors)} errors, "
          f"{sum(r['refusals'] for r in results)} page loads told a model could not be loaded now")
    print(f"each session's first page (its model loaded, the server cold): {percentiles(first)}")
    print(f"light pages after it: {percentiles(light)}")
    print(f"heavy pages: {percentiles(heavy)}")
    for name in args.pages:
        print(f"  {name}: {percentiles([t for r in results for page, t in r['pages'] if page == name])}")
    print(f"server peak resident memory: {memory.peak:,.0f} MB of a {args.memory_mb:,} MB budget")
    print(f"disk: indexes and uploads {folder_mb(indexes):,.0f} MB")
    for error in errors:
        print("  " + error)


if __name__ == "__main__":
    main()
