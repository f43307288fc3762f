"""Many users at once: start the app, open N concurrent browser sessions (default 20), each analysing its own
sentence and switching pages; report errors, p50 / p95 response time and the server's peak memory, and check that
every session saw the results for its own sentence.

    .venv/bin/python bench/load.py [--sessions 20] [--model embedded] [--pages attention tokenization qkv positions]

Needs Debian's chromium (/usr/bin/chromium). Sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TOKEN_PAGES = {"attention", "tokenization", "qkv"}
"""Pages whose charts label tokens, so the session's own word must appear in them."""
NOUNS = ("apples", "rivers", "guitars", "castles", "tigers", "pencils", "oceans", "rockets", "gardens", "violins",
         "islands", "lemons", "bridges", "dolphins", "mountains", "candles", "forests", "engines", "blankets", "comets")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("Pid", 0)) == pid or int(fields.get("PPid", 0)) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total / 1024


class PeakMemory(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, resident_mb(self.pid))
            time.sleep(0.2)


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
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        results = await asyncio.gather(*(session(browser, url, n, pages, model) for n in range(sessions)))
        await browser.close()
    return [t for times, _ in results for t in times], [e for _, errors in results for e in errors]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--pages", nargs="+", default=["attention", "tokenization", "qkv", "positions"])
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "BERT_LENS_ALLOW_LOCAL_PATHS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
                               str(port), "--server.address", "127.0.0.1"], cwd=ROOT, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        memory = PeakMemory(server.pid)
        memory.start()
        started = time.perf_counter()
        times, errors = asyncio.run(run(url, args.sessions, args.pages, args.model))
        memory.running = False
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
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
