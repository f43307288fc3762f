"""One cached path for every model run: re-reading a layer, a head or a view runs the model no more, on any page;
only a computation new by nature (a masked input, a recipe draw, another sentence) runs it, once."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bertviz_core import analysis_key, analyze
from bertviz_core.cache import BoundedCache
from app_pages.catalog import HOME, PAGES, SHARED_PARAMS
from app_pages.compute import model_for

from test_app import APP, open_app


@pytest.fixture
def passes():
    """Every forward pass of the model the app serves by default: the encoder's and the masked-LM head's."""
    model = model_for("")
    runs: list[str] = []
    handles = [model.encoder.register_forward_hook(lambda *_: runs.append("encoder"))]
    if model.has_mlm_head:
        handles.append(model.model.get_output_embeddings().register_forward_hook(lambda *_: runs.append("head")))
    yield runs
    for handle in handles:
        handle.remove()


def rereads(app, passes: list[str], *changes) -> None:
    """Apply each change (a widget set to a new value) and check that none of them ran the model."""
    before = len(passes)
    for change in changes:
        change(app).run()
        assert not app.exception, app.exception
    assert len(passes) == before, f"re-reading ran the model {len(passes) - before} times: {passes[before:]}"


def test_the_attention_page_rereads_layers_heads_views_and_options(passes):
    app = open_app("app_pages/attention.py", text="Foxes dig burrows under the old bank.")
    assert passes, "the first look runs the model"
    model = model_for("")
    rereads(app, passes,
            lambda a: a.selectbox(key="layer").set_value(model.num_layers),
            lambda a: a.selectbox(key="head").set_value(model.num_heads),
            *[lambda a, view=view: a.radio(key="view").set_value(view)
              for view in ("Head view", "Model view", "Rollout and norms", "Head roles", "Heatmap")],
            lambda a: a.checkbox(key="words").check(),
            lambda a: a.checkbox(key="hide_special").check(),
            lambda a: a.radio(key="view").set_value("Rollout and norms"),
            lambda a: a.selectbox(key="layer").set_value(1))


def test_comparing_a_second_version_runs_it_once(passes):
    app = open_app("app_pages/attention.py", text="Badgers dig burrows.", view="Compare sentences",
                   compare_text="Rabbits dig burrows.")
    before = len(passes)
    rereads(app, passes, lambda a: a.selectbox(key="layer").set_value(2), lambda a: a.checkbox(key="words").check())
    assert len(passes) == before


@pytest.mark.parametrize("page, changes", [
    ("app_pages/qkv.py", [lambda a: a.selectbox(key="layer").set_value(2),
                          lambda a: a.selectbox(key="head").set_value(3),
                          lambda a: a.selectbox(key="query").set_value(1)]),
    ("app_pages/context.py", [lambda a: a.slider(key="context_layer").set_value(1),
                              lambda a: a.slider(key="context_layer").set_value(3)]),
    ("app_pages/applications.py", [lambda a: a.radio(key="pooling").set_value("cls"),
                                   lambda a: a.radio(key="pooling").set_value("mean")]),
    ("app_pages/corpus.py", [lambda a: a.slider(key="corpus_layer").set_value(2),
                             lambda a: a.slider(key="corpus_k").set_value(4),
                             lambda a: a.pills(key="corpus_token").set_value(1)]),
    *[(page.script, [lambda a: a]) for page in (HOME, *PAGES) if page.script not in
      ("app_pages/qkv.py", "app_pages/context.py", "app_pages/applications.py", "app_pages/corpus.py")],
])
def test_every_page_rereads_without_running_the_model(passes, page, changes):
    app = open_app(page, text="Otters slide down the muddy river bank.")
    rereads(app, passes, *changes)


def test_masked_guesses_run_once_and_rereading_them_runs_nothing(passes):
    app = open_app("app_pages/masked_lm.py", text="Beavers build [MASK] across the stream.", k="3", recipe="1")
    # The typed mask is in the analysed input: the guess reads the analysis; the recipe's draw is the only other pass.
    assert passes.count("encoder") == 2
    first = len(passes)
    rereads(app, passes,
            lambda a: a.slider(key="k").set_value(8),
            lambda a: a.checkbox(key="whole_word").check(),  # a typed mask has no other pieces: the same input
            lambda a: a.slider(key="k").set_value(2))
    app.number_input[0].set_value(5).run()  # a new draw of the recipe is new by nature: one encoder pass
    assert passes[first:].count("encoder") == 1
    rereads(app, passes, lambda a: a.slider(key="k").set_value(6), lambda a: a.number_input[0].set_value(0))


def test_applications_keeps_all_its_analyses(passes):
    app = open_app("app_pages/applications.py")
    next(button for button in app.button if button.label == "Train the head").click().run()
    assert not app.exception
    rereads(app, passes, lambda a: a, lambda a: a.switch_page("app_pages/context.py"),
            lambda a: a.switch_page("app_pages/applications.py"))


def test_keys_use_the_normalised_text(offline):
    assert analysis_key(offline, "  The [MASK] sat.  ") == analysis_key(offline, "The [MASK] sat.")
    assert analysis_key(offline, "Cats.", "   ") == analysis_key(offline, "Cats.") == (offline.location, "Cats.", None)
    result = analyze(offline, " The [MASK] sat. ")
    assert result.key == analysis_key(offline, "The [MASK] sat.")


def test_a_key_asked_for_by_many_threads_at_once_is_computed_once():
    cache, started, runs = BoundedCache(max_bytes=10**9), threading.Barrier(8), []

    def compute():
        runs.append(1)
        time.sleep(0.2)  # long enough for every other thread to ask meanwhile
        return b"result"

    def ask():
        started.wait()
        results.append(cache.get_or_compute("key", compute))

    results: list[bytes] = []
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1 and results == [b"result"] * 8


def test_a_failed_computation_lets_the_next_caller_try_again():
    cache = BoundedCache(max_bytes=10**9)
    with pytest.raises(ValueError):
        cache.get_or_compute("key", lambda: (_ for _ in ()).throw(ValueError("bad input")))
    assert cache.get_or_compute("key", lambda: b"fine") == b"fine"


def test_url_names_are_shared_or_owned_by_exactly_one_page():
    owned = [name for page in (HOME, *PAGES) for name in page.params]
    assert len(owned) == len(set(owned)), "a page's own URL name is read by another page"
    assert not set(owned) & set(SHARED_PARAMS)


def test_a_page_writing_an_undeclared_url_name_fails_at_once(monkeypatch):
    import app_pages.catalog as catalog

    monkeypatch.setattr(catalog, "PAGES", tuple(replace(page, params=()) if page.url_path == "qkv" else page
                                                for page in catalog.PAGES))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page("app_pages/qkv.py").run()
    assert app.exception and "'query' is neither shared nor declared" in app.exception[0].message


def test_the_readme_lists_every_page_and_its_own_url_names():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `/([\w-]*)`[^|]* \|(.*)\|$", readme, flags=re.MULTILINE))
    listed = {path: re.findall(r"`(\w+)`", names) for path, names in rows.items()}
    assert listed == {page.url_path: list(page.params) for page in (HOME, *PAGES)}
