"""Many users at once: start the app, open N concurrent browser sessions (default 20), each analysing its own
sentence and switching pages; report errors, p50 / p95 response time and the server's peak memory, and check that
every session saw the results for its own sentence.

    .venv/bin/python bench/load.py [--sessions 20] [--model offline] [--pages attention tokenization qkv positions]
        [--client browser | websocket] [--warm] [--one-link]

Needs Debian's chromium (/usr/bin/chromium). Sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import websockets
from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.server import CHROMIUM_ARGS, IDLE, cpu_seconds, running_app  # noqa: E402
TOKEN_PAGES = {"attention", "tokenization", "qkv"}
"""Pages whose charts label tokens, so the session's own word must appear in them."""
NOUNS = ("apples", "rivers", "guitars", "castles", "tigers", "pencils", "oceans", "rockets", "gardens", "violins",
         "islands", "lemons", "bridges", "dolphins", "mountains", "candles", "forests", "engines", "blankets", "comets")


def sentence_of(number: int) -> tuple[str, str]:
    """(the session's own sentence, the noun that marks it)."""
    noun = NOUNS[number % len(NOUNS)]
    return f"Student number {number} reads about {noun} today.", noun


def problems(number: int, name: str, noun: str, error_box: bool, sidebar_text_ok: bool, charts_text: str,
             token_pages: set[str] = TOKEN_PAGES) -> list[str]:
    """What is wrong with one page a session received: an error, or another session's sentence."""
    found = []
    if error_box:
        found.append(f"session {number} {name}: an error box")
    if not sidebar_text_ok:
        found.append(f"session {number} {name}: another sentence in the sidebar")
    if name in token_pages and noun not in charts_text and noun.rstrip("s") not in charts_text:
        found.append(f"session {number} {name}: its charts do not show '{noun}'")
    return found


async def browser_session(browser, url: str, number: int, pages: list[str], model: str, sentence: int):
    """One user in Chromium: sentence number ``sentence``, every page in turn; returns response times and errors."""
    text, noun = sentence_of(sentence)
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
            errors += problems(number, name, noun, await page.locator("[data-testid='stException']").count() > 0,
                               await page.locator("textarea").first.input_value() == text,
                               " ".join(await page.locator(".js-plotly-plot text").all_text_contents()))
        except Exception as error:  # a timeout or a crash is a result to report, not a reason to stop the others
            errors.append(f"session {number} {name}: {type(error).__name__}: {str(error).splitlines()[0]}")
    await context.close()
    return times, errors


async def websocket_session(url: str, number: int, pages: list[str], model: str, sentence: int):
    """One user speaking Streamlit's own protocol, as the browser does, without drawing anything: the server's
    share of the response time, free of 20 Chromium renderers competing for the same cores."""
    text, noun = sentence_of(sentence)
    query = urlencode({"text": text, "model": model})
    times, errors = [], []
    async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None) as socket:
        for name in pages:
            start = time.perf_counter()
            try:
                elements = await asyncio.wait_for(run_page(socket, name, query), 180)
                times.append(time.perf_counter() - start)
                kinds = [element.WhichOneof("type") for element in elements]
                charts = " ".join(element.plotly_chart.spec for element in elements if element.HasField("plotly_chart"))
                # After the first run the browser keeps the text box's value, so the server sends one only if it
                # changes it: any it sends must be this session's sentence.
                sent = [element.text_area.value for element in elements
                        if element.HasField("text_area") and element.text_area.set_value]
                errors += problems(number, name, noun, "exception" in kinds, all(t == text for t in sent), charts)
                errors += [f"    {element.exception.type}: {element.exception.message.splitlines()[0]}\n"
                           + "\n".join(element.exception.stack_trace[-4:])
                           for element in elements if element.HasField("exception")]
            except Exception as error:  # as in the browser sessions: report, go on
                errors.append(f"session {number} {name}: {type(error).__name__}: {error}")
    return times, errors


async def run_page(socket, name: str, query: str) -> list:
    """Ask for one page, as a click in the sidebar does, and collect the elements drawn until the run finishes."""
    request = BackMsg()
    request.rerun_script.query_string = query
    request.rerun_script.page_name = name
    await socket.send(request.SerializeToString())
    elements = []
    while True:
        message = ForwardMsg()
        message.ParseFromString(await socket.recv())
        if message.WhichOneof("type") == "script_finished":
            return elements
        if message.HasField("delta") and message.delta.HasField("new_element"):
            elements.append(message.delta.new_element)


async def run(url: str, sessions: int, pages: list[str], model: str, client: str, one_link: bool):
    sentence = (lambda n: 0) if one_link else (lambda n: n)
    if client == "websocket":
        results = await asyncio.gather(*(websocket_session(url, n, pages, model, sentence(n)) for n in range(sessions)))
    else:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            results = await asyncio.gather(*(browser_session(browser, url, n, pages, model, sentence(n))
                                             for n in range(sessions)))
            await browser.close()
    return [t for times, _ in results for t in times], [e for _, errors in results for e in errors]


def percentiles(times: list[float]) -> str:
    """p50, p95 and the slowest of some response times."""
    if not times:
        return "none"
    times = sorted(times)
    return (f"p50 {statistics.median(times):.2f} s, p95 {times[min(len(times) - 1, int(0.95 * len(times)))]:.2f} s, "
            f"max {times[-1]:.2f} s ({len(times)} loads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--model", default="offline")
    parser.add_argument("--pages", nargs="+", default=["attention", "tokenization", "qkv", "positions"])
    parser.add_argument("--client", choices=["browser", "websocket"], default="browser",
                        help="Chromium pages, or bare websocket clients (the server's time alone)")
    parser.add_argument("--warm", action="store_true",
                        help="load the model and run every page once before the sessions start, so the figures "
                             "are those of a server already serving")
    parser.add_argument("--one-link", action="store_true",
                        help="every session opens the same sentence, as a class following the teacher's link")
    args = parser.parse_args()
    with running_app() as (url, memory):
        if args.warm:  # one session of its own first: the model is loaded and every page has run once
            asyncio.run(websocket_session(url, -1, args.pages, args.model, sentence=-1))  # a sentence no one opens
        cpu_before, started = cpu_seconds(memory.pid), time.perf_counter()
        times, errors = asyncio.run(run(url, args.sessions, args.pages, args.model, args.client, args.one_link))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(memory.pid) - cpu_before
    print(f"{args.sessions} {args.client} sessions x {len(args.pages)} pages on {args.model}"
          f"{', one link' if args.one_link else ''}: {len(times)} page loads in {elapsed:.1f} s, {len(errors)} errors")
    if times:
        print(f"response time: {percentiles(times)}")
        print(f"server CPU: {cpu:.1f} s, {cpu / len(times):.3f} s per page load")
    print(f"server peak resident memory: {memory.peak:.0f} MB")
    for error in errors:
        print("  " + error)


if __name__ == "__main__":
    main()
