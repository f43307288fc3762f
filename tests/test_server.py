"""The shared server's parts working together: heavy work in turns, computed once; light work served meanwhile; a
model sent away while a page still uses it."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from app_pages import compute
from bertviz_core import analyze, load_model
from bertviz_core.cache import ModelShelf


def test_the_same_heavy_request_from_many_visitors_is_computed_once():
    runs, results = [], []

    def heavy(progress):
        runs.append(1)
        for step in range(5):
            time.sleep(0.05)
            progress(step + 1, 5)
        return ("sweep result",)

    def visitor():
        results.append(compute.progressing(("test sweep", time.time_ns() // 10**12), "Ablating…", heavy))

    threads = [threading.Thread(target=visitor) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1 and results == [("sweep result",)] * 4
    assert compute.admission().line() == (0, 0)


def test_a_light_analysis_is_served_between_a_heavy_jobs_batches(offline):
    started, heavy_done, batches = threading.Event(), threading.Event(), 40

    def heavy(progress):
        for batch in range(batches):  # each batch holds the model's lock, as an attribution's do
            with offline.lock:
                started.set()
                time.sleep(0.05)
            progress(batch + 1, batches)
        heavy_done.set()
        return ("done",)

    worker = threading.Thread(target=compute.progressing, args=(("test heavy", time.time_ns()), "Working…", heavy))
    worker.start()
    started.wait(10)
    light = analyze(offline, "A light page reads one sentence.")
    assert not heavy_done.is_set(), "the light analysis waited for the whole heavy job"
    worker.join()
    assert light.attentions.shape[-1] == len(light.tokens)


def test_a_model_sent_away_while_someone_still_holds_it_keeps_working(tiny_dirs):
    """A page run's models are not sent away (tests/test_cache.py); one held outside a run may be, and stays whole:
    the shelf only lets go of it."""
    shelf = ModelShelf(load_model, visitors=1)
    held = shelf.get(str(tiny_dirs["bert"]))
    shelf.get(str(tiny_dirs["roberta"]))  # another visitor's model: bert leaves the shelf
    assert shelf.resident() == (str(tiny_dirs["roberta"]),)
    analysis = analyze(held, "Still here after the shelf let go.")
    np.testing.assert_allclose(analysis.attentions.sum(axis=-1), 1.0, atol=1e-5)
    reference = analyze(load_model(str(tiny_dirs["bert"])), "Still here after the shelf let go.")
    np.testing.assert_allclose(analysis.hidden_states, reference.hidden_states, atol=1e-6)


def test_the_server_runs_every_blas_library_on_one_thread():
    """In a fresh process, as the server starts: NumPy's OpenBLAS (loaded before), FAISS's and SciPy's (loaded
    after) each run on one thread, since concurrent sessions' calls into multi-threaded OpenBLAS spin."""
    code = ("from app_pages.compute import configure_server_process; configure_server_process()\n"
            "import scipy.linalg, threadpoolctl, json\n"
            "print(json.dumps([(i['filepath'], i['num_threads']) for i in threadpoolctl.threadpool_info() "
            "if i['user_api'] == 'blas']))")
    found = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      cwd=Path(__file__).resolve().parents[1]).stdout.splitlines()[-1])
    libraries = " ".join(path for path, _ in found)
    assert all(lib in libraries for lib in ("numpy", "scipy", "faiss")), libraries
    assert [threads for _, threads in found] == [1] * len(found)
