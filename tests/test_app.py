"""The app shell in Streamlit's own test harness: real script runs, real model, no browser."""

import ast
import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.catalog import HOME, PAGES
from bad_inputs import BAD_INPUTS
from bertviz_core import load_model
from bertviz_core.corpus import build_index, read_sentences

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_app(page: str | None = None, **params) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        app.query_params[name] = value
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def heatmap_of(app: AppTest) -> dict:
    charts = app.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def chart_titles(app: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")]


def default_layers() -> str:
    """The default model's layer count as the Home page shows it, read from the model the app serves."""
    from app_pages.compute import model_for
    return str(model_for("").num_layers)


def test_home_shows_the_loaded_models_numbers():
    from app_pages.compute import model_for
    config = model_for("").config
    app = open_app()
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Layers"], metrics["Heads per layer"], metrics["Hidden size"]) == (
        str(config.num_hidden_layers), str(config.num_attention_heads), str(config.hidden_size))
    assert "all-MiniLM-L6-v2" in app.sidebar.info[0].value


def test_link_opens_the_same_view():
    app = open_app(text="Cats chase mice.", pair="Dogs sleep.", layer="4", head="7", model="embedded")
    assert app.sidebar.text_area(key="text").value == "Cats chase mice."
    assert app.sidebar.text_input(key="pair").value == "Dogs sleep."
    assert app.sidebar.selectbox(key="model_choice").value.startswith("all-MiniLM-L6-v2")
    app.switch_page("app_pages/attention.py").run()
    assert app.selectbox(key="layer").value == 4 and app.selectbox(key="head").value == 7
    figure = heatmap_of(app)
    assert "Layer 4, head 7" in figure["layout"]["title"]["text"]
    assert figure["data"][0]["x"] == ["0 [CLS]", "1 cats", "2 chase", "3 mice", "4 .", "5 [SEP]", "6 dogs", "7 sleep",
                                      "8 .", "9 [SEP]"]


def test_choices_are_written_to_the_url():
    app = open_app(text="Dogs bark.")
    app.sidebar.text_area(key="text").set_value("Birds sing loudly.").run()
    app.sidebar.selectbox(key="model_choice").set_value("all-MiniLM-L6-v2 (embedded, offline)").run()
    assert app.query_params["text"] == "Birds sing loudly." and app.query_params["model"] == "embedded"
    app.switch_page("app_pages/attention.py").run()
    assert app.sidebar.text_area(key="text").value == "Birds sing loudly."  # the sidebar is drawn on every page
    app.selectbox(key="layer").set_value(2).run()
    app.selectbox(key="head").set_value(11).run()
    assert (app.query_params["layer"], app.query_params["head"]) == ("2", "11")
    figure = heatmap_of(app)
    assert "Layer 2, head 11" in figure["layout"]["title"]["text"] and "1 birds" in figure["data"][0]["x"]


def test_empty_text_gets_a_message_not_a_crash():
    app = open_app(text="   ")
    assert any("Enter some text" in info.value for info in app.info)
    app.switch_page("app_pages/attention.py").run()
    assert not app.exception and not app.get("plotly_chart")
    assert any("Type a sentence" in info.value for info in app.info)


def test_a_bad_model_keeps_the_previous_one(monkeypatch):
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")
    app = open_app(text="Cats chase mice.")
    app.sidebar.selectbox(key="model_choice").set_value("Other (hub id or local folder)").run()
    app.sidebar.text_input(key="model_custom").set_value("/no/such/model/dir").run()
    assert not app.exception
    assert any("No model directory" in error.value for error in app.sidebar.error)
    assert any("Still showing bert-lens-minilm-mlm" in caption.value.replace("\\", "") for caption in app.sidebar.caption)
    assert {m.label: m.value for m in app.metric}["Layers"] == default_layers()


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<b>bold</b> $x^2$ **star**"])
def test_markup_in_text_is_escaped_in_charts(text):
    app = open_app("app_pages/attention.py", text=text)
    labels = heatmap_of(app)["data"][0]["x"]
    assert not any("<" in label for label in labels)


@pytest.mark.parametrize("view", ["Heatmap", "Head view", "Model view", "Rollout and norms", "Head roles",
                                  "Compare sentences"])
def test_every_attention_view_runs_with_every_option(view):
    app = open_app("app_pages/attention.py", text="The unaffable clerk, sadly, left.", pair="He never returned.",
                   view=view, words="1", hide_special="1", hide_punct="1", pair_block="A->B",
                   compare_text="The unaffable dog, sadly, left.")
    assert app.radio(key="view").value == view
    assert app.query_params["view"] == view and app.query_params["pair_block"] == "A->B"
    assert app.get("plotly_chart"), "every view draws at least one chart"


def test_local_folders_are_refused_unless_the_operator_allows_them(monkeypatch, tiny_dirs):
    monkeypatch.delenv("BERT_LENS_ALLOW_LOCAL_PATHS", raising=False)
    app = open_app(text="Cats chase mice.", model=str(tiny_dirs["bert"]))
    assert any("switched off here" in error.value for error in app.sidebar.error)
    assert {m.label: m.value for m in app.metric}["Layers"] == default_layers()  # the default model instead
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")
    allowed = open_app(text="Cats chase mice.", model=str(tiny_dirs["bert"]))
    layers = str(load_model(str(tiny_dirs["bert"])).num_layers)
    assert not allowed.sidebar.error and {m.label: m.value for m in allowed.metric}["Layers"] == layers


def test_a_model_over_the_operators_size_limit_is_refused(monkeypatch, tiny_dirs):
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")
    monkeypatch.setenv("BERT_LENS_MAX_MODEL_MB", "1")
    app = open_app(text="Cats chase mice.", model=str(tiny_dirs["albert"]))  # a model no other test caches
    assert any(re.search(r"needs about \d+ MB for its weights; this server allows 1 MB", error.value.replace("\\", ""))
               for error in app.sidebar.error)
    assert {m.label: m.value for m in app.metric}["Layers"] == default_layers()  # the default model still serves the page


def test_masked_lm_page_with_thirty_masks(monkeypatch, tiny_dirs):
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")
    text = " ".join(["[MASK]"] * 30) + " end."
    app = open_app("app_pages/masked_lm.py", model=str(tiny_dirs["bert"]), text=text, k="3",
                   recipe="1")
    titles = chart_titles(app)
    assert sum(title.startswith("Token ") for title in titles) == 30
    assert any("Logit lens" in title for title in titles) and any(title.startswith("Seed 0") for title in titles)


@pytest.mark.parametrize("script", [page.script for page in PAGES])
@pytest.mark.parametrize("name", BAD_INPUTS)
def test_every_page_takes_bad_input(script, name):
    params, message = BAD_INPUTS[name]
    app = open_app(script, **params)  # fails on any exception
    shown = [element.value.replace("\\", "") for element in (*app.info, *app.warning)]
    assert any(message in value for value in shown) if message else not app.warning, shown
    assert not app.error, [error.value for error in app.error]


def test_one_session_walks_every_page_after_training_a_head():
    """Pages share one session state: the trained classifier must not collide with the head pickers' state."""
    app = open_app("app_pages/qkv.py")
    app.switch_page("app_pages/applications.py").run()
    next(button for button in app.button if button.label == "Train the head").click().run()
    assert any("training accuracy 100%" in title for title in chart_titles(app))
    for page in PAGES:
        app.switch_page(page.script).run()
        assert not app.exception, (page.script, app.exception)
    app.switch_page("app_pages/applications.py").run()
    assert any("training accuracy 100%" in title for title in chart_titles(app)), "the trained head is kept"


@pytest.mark.parametrize("width", ["2", "4", "7"])
def test_positions_page_takes_a_narrow_sinusoid(width):
    app = open_app("app_pages/positions.py", width=width)
    assert app.multiselect[0].value == [d for d in (0, 1, 6, 7) if d < int(width)]
    assert len(app.get("plotly_chart")) == 8


def test_automatic_shares_the_copy_loaded_by_name():
    from app_pages.compute import model_for
    automatic, by_name = model_for(""), model_for("offline")
    assert automatic.model is by_name.model and automatic.lock is by_name.lock  # one copy, one lock
    assert automatic.reason.startswith("Offline") and by_name.reason.startswith("Chosen by name")


def test_a_name_that_is_no_hub_id_gets_a_message(monkeypatch):
    monkeypatch.setenv("BERT_LENS_MODELS", "any")
    app = open_app(text="Cats chase mice.", model="https://huggingface.co/bert-base-uncased")
    assert any("neither a hub id" in error.value.replace("\\", "") for error in app.sidebar.error)
    assert {m.label: m.value for m in app.metric}["Layers"] == default_layers()


def test_visitors_choose_among_the_models_the_operator_allows(monkeypatch):
    """A hosted server lets visitors load the presets and the shipped models unless the operator lists others."""
    refused = open_app(text="Cats chase mice.", model="some-org/some-model")
    assert any("lets visitors choose among bert-base-uncased, distilbert-base-uncased, roberta-base, albert-base-v2, "
               "google/electra-small-generator, offline, embedded" in error.value.replace("\\", "")
               for error in refused.sidebar.error)
    assert {m.label: m.value for m in refused.metric}["Layers"] == default_layers()
    monkeypatch.setenv("BERT_LENS_MODELS", "embedded")
    shipped = open_app(text="Cats chase mice.", model="all-MiniLM-L6-v2")  # allowed by another of its names
    assert not shipped.sidebar.error and "all-MiniLM-L6-v2" in shipped.sidebar.info[0].value
    assert any("choose among embedded" in error.value for error in
               open_app(text="Cats chase mice.", model="offline").sidebar.error)


def test_masked_lm_results_are_computed_once(monkeypatch):
    """Changing the recipe's seed must not rerun the masked guess: it comes from the shared results cache."""
    import bertviz_core.mlm as mlm

    calls = []
    original = mlm.mask_and_predict
    monkeypatch.setattr(mlm, "mask_and_predict", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    app = open_app("app_pages/masked_lm.py", text="The cat sat on the [MASK] today.", k="4", left_only="1",
                   recipe="1")
    app.number_input[0].set_value(7).run()
    assert not app.exception and len(calls) == 1
    assert any(title.startswith("Seed 7") for title in chart_titles(app))
    assert any("Left-only input: [CLS] the cat sat on the [MASK]" == text.value for text in app.text)


def test_isolate_picker_numbers_tokens_like_the_chart():
    app = open_app("app_pages/attention.py", text="The clerk left.", view="Head view", focus="3")
    options = app.selectbox(key="focus").options
    assert options[:4] == ["(every token)", "0 [CLS]", "1 the", "2 clerk"]
    assert app.selectbox(key="focus").value == 3 and app.query_params["focus"] == "3"


@pytest.mark.parametrize("script", [HOME.script, *(page.script for page in PAGES)])
def test_no_page_has_a_bare_string_that_streamlit_would_draw(script):
    """Streamlit's "magic" writes every bare expression of a page script to the page, docstrings after the first
    statement included (a constant's docstring once showed above the Masked LM page's title)."""
    body = ast.parse((Path(APP).parent / script).read_text(encoding="utf-8")).body
    assert not [node.lineno for node in body[1:] if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]


def test_corpus_page_searches_the_shipped_corpus_from_the_first_content_word():
    app = open_app("app_pages/corpus.py")
    said = " ".join(markdown.value for markdown in app.markdown)
    headings = " ".join(h.value.replace("\\", "") for h in app.subheader)
    assert "The 10 corpus tokens closest to “bank” (token 2) at layer 6" in headings
    assert said.count("**bank**") >= 10  # the shipped corpus has ten "bank"s, each shown in its sentence
    assert [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")] == [
        "Which words the 10 matches are (layer 6)", "The matches, layer by layer"]
    app.pills(key="corpus_token").set_value(5).run()  # "river"
    app.slider(key="corpus_layer").set_value(0)
    app.slider(key="corpus_k").set_value(3).run()
    assert not app.exception
    headings = " ".join(h.value.replace("\\", "") for h in app.subheader)
    assert "The 3 corpus tokens closest to “river” (token 5) at layer 0" in headings
    assert (app.query_params["corpus_token"], app.query_params["corpus_layer"]) == ("5", "0")


def test_atlas_page_shows_every_heads_statistic_its_sentences_queries_keys_and_a_map():
    app = open_app("app_pages/atlas.py")
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")]
    assert titles[0] == "attention to the previous token: mean over 440 sentences; click a head"
    headings = " ".join(h.value.replace("\\", "") for h in app.subheader)
    assert "Layer 1, head 1: attention to the previous token" in headings
    links = [m.value for m in app.markdown if "open on the Attention page" in m.value]
    assert len(links) == 10 and all("attention?text=" in link and "layer=1" in link for link in links)
    app.radio(key="atlas_stat").set_value("entropy").run()
    app.selectbox(key="layer").set_value(3).run()
    assert not app.exception
    assert "Layer 3, head 1: entropy / log T" in " ".join(h.value.replace("\\", "") for h in app.subheader)
    assert (app.query_params["atlas_stat"], app.query_params["layer"]) == ("entropy", "3")

    app.radio(key="atlas_view").set_value("Query/key space").run()
    assert not app.exception
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in spec["data"]] == ["queries", "keys"]
    assert all(trace["type"] == "scattergl" and trace["x"]["dtype"] == "f4" for trace in spec["data"])

    app.radio(key="atlas_view").set_value("Corpus map").run()
    assert not app.exception
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert sum(len(trace["customdata"]["bdata"]) > 0 for trace in spec["data"]) == len(spec["data"]) >= 2
    assert app.query_params["atlas_view"] == "Corpus map"


def test_atlas_page_works_on_a_model_without_a_masked_lm_head():
    app = open_app("app_pages/atlas.py", model="embedded")
    title = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert title == "attention to the previous token: mean over 440 sentences; click a head"


def test_atlas_page_on_a_one_sentence_corpus_and_on_an_index_without_its_atlas(monkeypatch, tmp_path, tiny_dirs):
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")
    (tmp_path / "one.txt").write_text("Cats chase mice.\n", encoding="utf-8")
    model = load_model(str(tiny_dirs["bert"]))
    build_index(model, read_sentences(tmp_path / "one.txt"), tmp_path / "index")
    params = dict(model=str(tiny_dirs["bert"]), atlas_corpus="folder", atlas_folder=str(tmp_path / "index"))
    for view, charts in (("Head atlas", 2), ("Query/key space", 1), ("Corpus map", 1)):
        app = open_app("app_pages/atlas.py", atlas_view=view, **params)
        assert not app.error and len(app.get("plotly_chart")) == charts, view
    assert "mean over 1 sentences" in json.loads(open_app("app_pages/atlas.py", **params).get("plotly_chart")[0]
                                                  .proto.spec)["layout"]["title"]["text"]
    shutil.copytree(tmp_path / "index", tmp_path / "without")  # another folder: the first one's atlas is cached
    (tmp_path / "without" / "atlas.parquet").unlink()
    app = open_app("app_pages/atlas.py", **dict(params, atlas_folder=str(tmp_path / "without")))
    assert "head statistics" in app.error[0].value and "damaged" in app.error[0].value


NURSE = "The nurse said that [MASK] was tired."


def info_texts(app: AppTest) -> list[str]:
    return [element.value.replace("\\", "") for element in (*app.info, *app.warning)]


def plotly_array(data) -> np.ndarray:
    """A figure's array as Plotly sends it: a list, or typed binary ({dtype, bdata, shape})."""
    if not isinstance(data, dict):
        return np.asarray(data, dtype=float)
    flat = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return flat.reshape([int(n) for n in str(data.get("shape", len(flat))).split(",")])


def test_explain_page_draws_every_part_for_the_mask():
    app = open_app("app_pages/explain.py", text=NURSE, model="offline", corrupt="The man said that [MASK] was tired.")
    titles = chart_titles(app)
    assert titles[0].startswith("Each method's scores for “")
    assert any(t.startswith("Deletion curves") for t in titles) and any(t.startswith("Do the methods") for t in titles)
    assert any(t.startswith("Each head ablated") for t in titles) and any(t.startswith("Activation patching") for t in
                                                                          titles)
    rows = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]["y"]
    assert len(rows) == 9  # every method, flow included at this length, DecompX last
    assert app.text_input(key="ablate").value  # the most harmful head of the sweep, ablated by default
    said = " ".join(element.value.replace("\\", "") for element in (*app.markdown, *app.caption))
    sweep = next(json.loads(c.proto.spec) for c in app.get("plotly_chart")
                 if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Each head ablated"))
    lowest = float(plotly_array(sweep["data"][0]["z"]).min())
    assert ("lowers it most" in said) == (lowest < 0) and ("no single head lowers it" in said) == (lowest >= 0)
    assert "score 0 by construction" in said and "a variant of Mohebbi et al. (2023)" in said
    before = plotly_array(json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]["customdata"])
    app.text_input(key="explain_target").set_value("he").run()
    assert "“he”" in chart_titles(app)[0] and app.query_params["explain_target"] == "he"
    after = plotly_array(json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]["customdata"])
    np.testing.assert_allclose(before[:4], after[:4], atol=1e-6)  # the attention rows: the same for any word
    assert not np.allclose(before[4:], after[4:])  # the gradient and removal rows depend on it


@pytest.mark.parametrize("params, message", [
    ({"text": "No mask here."}, "No mask in the text"),
    ({"text": NURSE, "explain_target": "supercalifragilistic"}, "not one entry"),
    ({"text": NURSE, "ablate": "99:1"}, "there is no head 99:1"),
    ({"text": NURSE, "ablate": "three"}, "written layer:head"),
    ({"text": NURSE, "corrupt": "The young man said that [MASK] was tired."}, "same number of tokens"),
    ({"text": NURSE, "corrupt": NURSE}, "nothing to restore"),
    ({"text": NURSE, "model": "embedded"}, "no trained masked-LM head"),
    ({"text": "word " * 130 + "[MASK]."}, "inputs of up to 128 tokens"),
    ({"text": "word " * 70 + "[MASK].", "corrupt": "thing " + "word " * 69 + "[MASK]."}, "up to 64 tokens"),
])
def test_explain_page_answers_bad_input_with_a_message(params, message):
    app = open_app("app_pages/explain.py", **{"model": "offline", **params})
    assert any(message in text for text in info_texts(app)), info_texts(app)
    assert not app.error


def test_explain_page_explains_a_class_of_the_trained_head():
    app = open_app("app_pages/applications.py", model="offline")
    next(button for button in app.button if button.label == "Train the head").click().run()
    app.switch_page("app_pages/explain.py").run()
    app.radio(key="explain_on").set_value("the classifier's class").run()
    app.radio(key="explain_class").set_value("negative").run()
    assert not app.exception
    assert chart_titles(app)[0].startswith("Each method's scores for “negative”")
    assert any(t.startswith("Each head ablated on its own: change in log p(“negative”)") for t in chart_titles(app))


def test_explain_page_explains_classes_on_a_model_without_a_masked_lm_head():
    app = open_app("app_pages/applications.py", model="embedded")
    next(button for button in app.button if button.label == "Train the head").click().run()
    app.switch_page("app_pages/explain.py").run()
    assert not app.exception and not app.warning
    assert chart_titles(app)[0].startswith("Each method's scores for “positive”")


def test_compare_page_shows_both_models_tokens_guesses_views_and_their_cka():
    app = open_app("app_pages/compare.py", text="She is a [MASK] engineer.", model="offline", model_b="offline",
                   cka_sentences="She loves cats.\nThe bank of the river was flooded.\nParis is the capital of France.")
    titles = chart_titles(app)
    assert [t for t in titles if "WordPiece" in t] == ["bert-lens-minilm-mlm: WordPiece, 8 tokens"] * 2
    assert sum(t.startswith("bert-lens-minilm-mlm, first mask") for t in titles) == 2
    assert titles.count("bert-lens-minilm-mlm: 6 layers x 12 heads") == 2
    cka = json.loads(app.get("plotly_chart")[-1].proto.spec)
    assert cka["layout"]["title"]["text"].startswith("How alike the layers are: debiased linear CKA over 19 words of 3")
    z = cka["data"][0]["z"]  # Plotly sends float32 arrays as base64
    matrix = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(7, 7)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-4)


@pytest.mark.parametrize("model_b, message", [
    ("no/such-model-anywhere", "cannot be reached"),
    ("/etc", "switched off"),
    ("", "Name a second model"),
])
def test_compare_page_answers_a_bad_second_model(monkeypatch, model_b, message):
    monkeypatch.setenv("BERT_LENS_MODELS", "any")  # the hub id is refused by the loader, not the operator's list
    app = open_app("app_pages/compare.py", model="offline", model_b=model_b)
    assert any(message in text for text in info_texts(app)), info_texts(app)


def test_compare_refuses_a_pair_over_the_operators_limit_with_the_sizes(monkeypatch):
    monkeypatch.setenv("BERT_LENS_MAX_MODEL_MB", "150")
    app = open_app("app_pages/compare.py", model="offline", model_b="embedded")
    shown = " ".join(info_texts(app))
    from bertviz_core import load_model
    from bertviz_core.loading import weight_bytes
    each = weight_bytes(load_model("offline"))  # the embedded model has the same sizes
    assert (f"bert-lens-minilm-mlm needs {each / 1e6:.0f} MB and 'embedded' {each / 1e6:.0f} MB for their weights, "
            f"{2 * each / 1e6:.0f} MB together") in shown
    assert "at most 150 MB" in shown and not app.get("plotly_chart")[2:]


def lesson_answers(step, model) -> dict:
    """A right, a wrong and an empty answer (None) to one lesson step's question, the right one found on the model
    with the engine, as the page must find it."""
    from bertviz_core import analyze
    from bertviz_core.lessons import most_similar_pair, query_token, role_head, sentence_pairs

    question, result = step.question, analyze(model, step.sentence, step.pair)
    if question.kind == "guess_mask":
        top = result.masks[0].tokens[0]
        return {"right": top, "wrong": "banana" if top != "banana" else "apple", "empty": ""}
    if question.kind == "token_count":
        return {"right": result.num_tokens, "wrong": result.num_tokens + 3, "empty": None}
    if question.kind == "attended_token":
        layer, head = role_head(result, question.role)
        weights = result.attentions[layer, head, query_token(result, question.query)]
        return {"right": int(weights.argmax()), "wrong": int(weights.argmin()), "empty": None}
    if question.kind == "similar_pair":
        best, _ = most_similar_pair([analyze(model, s) for s in step.sentences])
        return {"right": best, "wrong": next(p for p in sentence_pairs(step.sentences) if p != best), "empty": None}
    if question.kind == "choice":
        return {"right": question.answer, "wrong": next(o for o in question.options if o != question.answer),
                "empty": None}
    return {"right": "Yes, B followed A", "wrong": "No, B is from elsewhere", "empty": None}  # no head: both told so


def answer_widget(app: AppTest, step, key: str):
    kind = step.question.kind
    getter = {"guess_mask": app.text_input, "token_count": app.number_input, "attended_token":
              lambda key: app.get("button_group")[0], "similar_pair": app.radio, "choice": app.radio,
              "next_sentence": app.radio}[kind]
    return getter(key=key)


@pytest.mark.parametrize("answer", ["right", "wrong", "empty"])
def test_every_step_of_every_shipped_lesson_asks_then_reveals(answer):
    from bertviz_core import load_model
    from bertviz_core.lessons import lesson_names, load_lesson

    model = load_model("offline")
    for name in lesson_names():
        lesson = load_lesson(name)
        app = open_app("app_pages/lesson.py", model="offline", name=name)
        for number, step in enumerate(lesson.steps, start=1):
            assert f"Step {number} of {len(lesson.steps)}" in app.get("progress")[0].proto.text
            given = lesson_answers(step, model)[answer]
            assert not app.get("plotly_chart"), "nothing is revealed before an answer"
            if given not in (None, ""):
                answer_widget(app, step, f"answer_{name}_{number}").set_value(given).run()
            assert not app.exception, (name, number, app.exception)
            said = [e.value.replace("\\", "") for e in (*app.success, *app.warning, *app.info)]
            if given in (None, ""):
                assert any("Answer first" in text for text in said) and not app.get("plotly_chart")
            elif step.question.kind == "next_sentence":
                assert any("no next-sentence head" in text for text in said)  # the offline model has none
            else:
                assert (app.success if answer == "right" else app.warning), (name, number, said)
                assert app.get("plotly_chart"), "the reveal draws the model's own charts"
            if number < len(lesson.steps):
                next(b for b in app.button if b.label == "Next").click().run()


def test_a_lesson_link_pins_lesson_step_and_model_and_keeps_the_visitors_sentence():
    app = open_app("app_pages/lesson.py", model="offline", name="bert-path", step="5", text="My own sentence.")
    assert "Step 5 of 7: Guessing a hidden word" in app.get("progress")[0].proto.text
    assert app.sidebar.text_area(key="text").value == "My own sentence."
    assert (app.query_params["name"], app.query_params["step"], app.query_params["model"]) == (
        "bert-path", "5", "offline")
    next(b for b in app.button if b.label == "Previous").click().run()
    assert app.query_params["step"] == "4" and app.sidebar.text_area(key="text").value == "My own sentence."
    app.switch_page("app_pages/tokenization.py").run()
    assert "my" in " ".join(json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]["text"])


def test_presenter_mode_hides_the_sidebar_and_enlarges_type():
    app = open_app("app_pages/lesson.py", model="offline", presenter="1")
    styles = [element.proto.body for element in app.get("html")]
    assert any("stSidebar" in style and "display: none" in style and "font-size" in style for style in styles)


def test_a_bad_lesson_file_is_shown_with_its_line_and_the_app_keeps_running(monkeypatch, tmp_path):
    (tmp_path / "broken.yaml").write_text("title: Broken\nsteps:\n  - title: One\n    sentence: Hi.\n"
                                          "    view: {page: attention}\n    question: {kind: guess, prompt: P}\n"
                                          "    reveal: R\n")
    monkeypatch.setenv("BERT_LENS_LESSONS_DIR", str(tmp_path))
    app = open_app("app_pages/lesson.py", model="offline", name="broken")
    errors = [error.value.replace("\\", "") for error in app.error]
    assert errors and errors[0].startswith("broken.yaml, line 6: step 1, question.kind: 'guess' is not one of")
    app.switch_page("app_pages/tokenization.py").run()
    assert not app.exception and app.get("plotly_chart")


def test_a_lesson_steps_link_pins_the_head_it_found():
    from bertviz_core import analyze, load_model
    from bertviz_core.lessons import load_lesson, role_head

    step = load_lesson("bert-path").steps[2]
    layer, head = role_head(analyze(load_model("offline"), step.sentence), step.question.role)
    app = open_app("app_pages/lesson.py", model="offline", name="bert-path", step="3")
    links = [m.value for m in app.markdown if "Explore this view" in m.value]
    assert links == [f"[Explore this view on its page](attention?text=The+cat+sat+on+the+mat.&view=Heatmap&"
                     f"layer={layer + 1}&head={head + 1})"]


def test_a_second_lesson_is_chosen_from_a_list_and_starts_at_its_first_step(monkeypatch, tmp_path):
    from bertviz_core.lessons import LESSONS_DIR

    shutil.copy(LESSONS_DIR / "bert-path.yaml", tmp_path / "bert-path.yaml")
    (tmp_path / "short.yaml").write_text("title: A short one\nsteps:\n  - title: Only step\n    sentence: Hi there.\n"
                                         "    view: {page: tokenization}\n    question: {kind: token_count, prompt: "
                                         "\"How many?\"}\n    reveal: That many.\n")
    monkeypatch.setenv("BERT_LENS_LESSONS_DIR", str(tmp_path))
    app = open_app("app_pages/lesson.py", model="offline", name="bert-path", step="4")
    app.selectbox(key="name").set_value("short").run()
    assert app.query_params["name"] == "short" and app.query_params["step"] == "1"
    assert "Step 1 of 1: Only step" in app.get("progress")[0].proto.text
