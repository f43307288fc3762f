"""Many users at once: start the app, open N concurrent browser sessions (default 20), each analysing its own
sentence and switching pages; report errors, p50 / p95 response time and the server's peak memory, and check that
every session saw the results for its own sentence.

    .venv/bin/python bench/load.py [--sessions 20] [--model offline] [--pages attention tokenization qkv positions]

Needs Debian's chromium (/usr/bin/chromium). Sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.server import CHROMIUM_ARGS, IDLE, running_app  # noqa: E402
TOKEN_PAGES = {"attention", "tokenization", "qkv"}
"""Pages whose charts label tokens, so the session's own word must appear in them."""
NOUNS = ("apples", "rivers", "guitars", "castles", "tigers", "pencils", "oceans", "rockets", "gardens", "violins",
         "islands", "lemons", "bridges", "dolphins", "mountains", "candles", "forests", "engines", "blankets", "comets")


async def session(browser, url: str, number: int, pages: list[str], model: str) -> tuple[list[float], list[str]]:
    """One user: their own sentence, every page in turn; returns response times and errors."""
    noun = NOUNS[number % len(NOUNS)]
    text = f"Student number {number} reads about {noun} today."
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    times, errors = [], []
    for name in pages:
        start = time.perf_counter()
        try:
            await page.goto(f"{url}/{name}?text={quote(text)}&model={quote(model)}", timeout=180_000)
            await page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180_000)
            await page.wait_for_selector(IDLE, timeout=180_000)
            times.append(time.perf_counter() - start)
            if await page.locator("[data-testid='stException']").count():
                errors.append(f"session {number} {name}: an error box")
            if await page.locator("textarea").first.input_value() != text:
                errors.append(f"session {number} {name}: another sentence in the sidebar")
            shown = " ".join(await page.locator(".js-plotly-plot text").all_text_contents())
            if name in TOKEN_PAGES and noun not in shown and noun.rstrip("s") not in shown:
                errors.append(f"session {number} {name}: its charts do not show '{noun}'")
        except Exception as error:  # a timeout or a crash is a result to report, not a reason to stop the others
            errors.append(f"session {number} {name}: {type(error).__name__}: {str(error).splitlines()[0]}")
    await context.close()
    return times, errors


async def run(url: str, sessions: int, pages: list[str], model: str) -> tuple[list[float], list[str]]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        results = await asyncio.gather(*(session(browser, url, n, pages, model) for n in range(sessions)))
        await browser.close()
    return [t for times, _ in results for t in times], [e for _, errors in results for e in errors]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--model", default="offline")
    parser.add_argument("--pages", nargs="+", default=["attention", "tokenization", "qkv", "positions"])
    args = parser.parse_args()
    with running_app() as (url, memory):
        started = time.perf_counter()
        times, errors = asyncio.run(run(url, args.sessions, args.pages, args.model))
        elapsed = time.perf_counter() - started
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else float("nan")
    print(f"{args.sessions} sessions x {len(args.pages)} pages on {args.model}: {len(times)} page loads in "
          f"{elapsed:.1f} s, {len(errors)} errors")
    if times:
        print(f"response time: p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {times[-1]:.2f} s")
    print(f"server peak resident memory: {memory.peak:.0f} MB")
    for error in errors:
        print("  " + error)


if __name__ == "__main__":
    main()
