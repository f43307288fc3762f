"""What the pages say about a model is checked against that model, for every family the app offers (tiny models of
each layout, loaded by path) and for the two shipped models."""

from __future__ import annotations

import pytest

from bertviz_core import analyze, load_model, model_summary
from test_app import chart_titles, open_app
from tiny_models import FAMILIES, save_tiny_model


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")


def texts(app) -> str:
    """Everything the page wrote, Markdown escapes removed."""
    parts = [element.value for kind in ("markdown", "caption", "info", "warning") for element in getattr(app, kind)]
    return "\n".join(parts).replace("\\", "")


@pytest.mark.parametrize("family", FAMILIES)
def test_home_credits_the_familys_recipe_to_its_original_model(local, tiny_dirs, family):
    said = texts(open_app(model=str(tiny_dirs[family])))
    assert "masked language modelling" in said and "next sentence prediction" in said  # what BERT-base itself did
    original = {"bert": "BERT", "distilbert": "DistilBERT", "roberta": "RoBERTa", "albert": "ALBERT",
                "electra": "ELECTRA"}[family]
    assert f"For comparison, the original {original} (" in said  # a random tiny model was not trained that way
    summary = model_summary(load_model(str(tiny_dirs[family])))
    assert summary.positions_phrase in said


def test_roberta_positions_are_described_alike_on_every_page(local, tiny_dirs):
    model = load_model(str(tiny_dirs["roberta"]))
    phrase = model_summary(model).positions_phrase
    reserved = model.config.max_position_embeddings - model.max_tokens
    assert phrase == (f"{model.max_tokens} positions (a table of {model.config.max_position_embeddings} rows; the "
                      f"first {reserved} are never used as positions)")
    for page in ("app_pages/home.py", "app_pages/positions.py", "app_pages/architecture.py"):
        assert phrase in texts(open_app(page, model=str(tiny_dirs["roberta"]))), page


@pytest.mark.parametrize("family", FAMILIES)
def test_masked_lm_page_says_what_bert_was_trained_on(local, tiny_dirs, family):
    app = open_app("app_pages/masked_lm.py", model=str(tiny_dirs[family]), text="The cat sat on the [MASK].")
    said = texts(app)
    assert "next sentence prediction" in said and "it works for every model" not in said
    assert "not** a left-to-right model" in said or "not a left-to-right model" in said.replace("**", "")


def test_the_masked_lm_page_without_a_head_does_not_promise_it_works(local, tmp_path):
    folder = save_tiny_model("bert", tmp_path / "no-head", with_head=False)
    app = open_app("app_pages/masked_lm.py", model=str(folder))
    assert app.warning and "no trained masked-LM head" in app.warning[0].value.replace("\\", "")
    assert "Write [MASK]" not in texts(app)


def test_the_embedded_models_pooler_is_counted_and_not_credited_to_next_sentence_prediction(local):
    said = texts(open_app("app_pages/architecture.py", model="embedded"))
    assert "It is counted above." in said and "holds pooler weights but no next-sentence head" in said
    assert "28,996" in said and "30,522" in said  # cased vs uncased vocabulary


def test_the_offline_model_has_no_pooler_and_the_page_says_so(local):
    said = texts(open_app("app_pages/architecture.py", model="offline"))
    assert "has no pooler weights" in said and "Pre-training trained it" not in said


def test_positions_page_reads_learned_or_sinusoidal_from_the_model(local, tiny_dirs, tmp_path):
    assert "uses **learned** position embeddings" in texts(open_app("app_pages/positions.py",
                                                                     model=str(tiny_dirs["distilbert"])))
    folder = save_tiny_model("distilbert", tmp_path / "sinusoidal", sinusoidal_pos_embds=True)
    app = open_app("app_pages/positions.py", model=str(folder))
    assert "uses **sinusoidal** position embeddings" in texts(app)
    assert any(title.startswith("Sinusoidal (sinusoidal)") for title in chart_titles(app))


def test_tokenization_states_the_whole_word_unk_rule():
    said = texts(open_app("app_pages/tokenization.py", text="a☃ cats"))
    assert "If any remaining part finds no match at all" in said and "the **whole word** becomes `[UNK]`" in said


def test_rollout_caption_credits_each_tokens_own_information():
    said = texts(open_app("app_pages/attention.py", view="Rollout and norms"))
    assert "each token's own information (the diagonal)" in said and "early tokens" not in said


def test_the_recipe_chart_and_the_chips_count_the_same_total(offline):
    text = "The farmers cultivate the [MASK] to grow crops."
    app = open_app("app_pages/masked_lm.py", text=text, recipe="1")
    titles = chart_titles(app)
    chips = next(title for title in titles if title.startswith("Seed 0"))
    shares = next(title for title in titles if title.startswith("Over "))
    selectable = int(chips.split(" of the ")[1].split()[0])
    assert f"of the {selectable} selectable tokens" in shares and "selectable tokens selected" in chips
    tokens = offline.tokenizer.convert_ids_to_tokens(offline.tokenizer(text)["input_ids"])
    assert selectable == sum(token not in offline.tokenizer.all_special_tokens for token in tokens)  # nor [MASK]


def test_qkv_points_from_a_special_token_sink_to_heads_that_read_words(offline):
    text = "The bank of the river was flooded."
    analysis = analyze(offline, text)
    query = analysis.tokens.index("bank")
    rows = analysis.attentions[:, :, query, :]  # [L, H, T]
    sink = next((layer, head) for layer in range(offline.num_layers) for head in range(offline.num_heads)
                if analysis.special_mask[rows[layer, head].argmax()])
    app = open_app("app_pages/qkv.py", text=text, layer=str(sink[0] + 1), head=str(sink[1] + 1), query=str(query))
    said = " ".join(info.value.replace("\\", "") for info in app.info)
    assert "no-op" in said and f"to “{analysis.tokens[rows[sink].argmax()]}”, a special token" in said
    buttons = [button for button in app.button if button.label.startswith("Layer ")]
    assert buttons and "river" in " ".join(button.label for button in buttons)
    buttons[0].click().run()
    layer, head = (int(n) for n in buttons[0].label.split(":")[0].replace("Layer ", "").split(", head "))
    assert (app.selectbox(key="layer").value, app.selectbox(key="head").value) == (layer, head)
    assert not any("no-op" in info.value.replace("\\", "") for info in app.info)  # the head it opened reads a word


def test_contextual_meaning_shows_the_sense_gap_and_the_exact_input_rule():
    app = open_app("app_pages/context.py")
    said = texts(app)
    assert any("the gap, not the fall" in title for title in chart_titles(app))
    assert "exactly 1 only where the word stands at the same position" in said
    assert "Falling similarity alone is not the model separating senses" in said
    same_place = open_app("app_pages/context.py", sentences="The bank is open.\nThe bank is shut.")
    assert "(here: 1 and 2)" in texts(same_place)
