"""Every sentence a page or the lesson states about the loaded model holds for that model: checked on tiny models of
the five families, a checkpoint with BERT's pre-training heads, a cased one with sinusoidal positions and the two
shipped models, against what their files say (``checkpoint_truth``), never against the engine's own reading."""

from __future__ import annotations

import re

import pytest

from app_pages.catalog import HOME, PAGES
from bertviz_core import load_model
from bertviz_core.facts import model_facts
from bertviz_core.lessons import load_lesson
from checkpoint_truth import (Truth, read_truth, save_cased_sinusoidal_model, save_pretraining_model,
                              shipped_folder)
from test_app import answer_widget, open_app
from test_wording import texts
from tiny_models import FAMILIES

CHECKPOINTS = (*FAMILIES, "bert-base-uncased", "cased-sinusoidal", "offline", "embedded")
SHIPPED_NAMES = {"offline": "bert-lens-minilm-mlm", "embedded": "all-MiniLM-L6-v2"}


@pytest.fixture(autouse=True)
def local(monkeypatch):
    monkeypatch.setenv("BERT_LENS_ALLOW_LOCAL_PATHS", "1")


@pytest.fixture(scope="session")
def checkpoint_dirs(tiny_dirs, tmp_path_factory):
    root = tmp_path_factory.mktemp("facts")
    return {**{family: tiny_dirs[family] for family in FAMILIES},
            "bert-base-uncased": save_pretraining_model(root / "bert-base-uncased"),
            "cased-sinusoidal": save_cased_sinusoidal_model(root / "cased-sinusoidal"),
            **{spec: shipped_folder(spec) for spec in SHIPPED_NAMES}}


def spec_and_truth(checkpoint_dirs, checkpoint) -> tuple[str, Truth]:
    folder = checkpoint_dirs[checkpoint]
    spec = checkpoint if checkpoint in SHIPPED_NAMES else str(folder)
    return spec, read_truth(folder, SHIPPED_NAMES.get(checkpoint, folder.name))


def expected(truth: Truth, topic: str) -> str:
    """A phrase the sentence about ``topic`` must hold for this checkpoint."""
    if topic == "vocabulary":
        return f"{truth.name}'s vocabulary is {truth.vocabulary}"
    if topic == "casing":
        return "lower-cases the text" if truth.lowercase else "keeps case"
    if topic == "segments":
        return {0: "has no segment table", 1: "a segment table of a single row"}.get(
            truth.segments, f"a segment table of {truth.segments} rows")
    if topic == "positions":
        return {"learned": "position table is learned", "sinusoidal": "position table is the fixed sinusoidal formula",
                "none": "has no position table"}[truth.positions]
    if topic == "sentence_head":
        return "holds a next sentence prediction head" if truth.next_sentence_head else "has no next-sentence head"
    if topic == "pooler":
        if not truth.pooler:
            return "has no pooler weights"
        return ("trained the pooler for next sentence prediction" if truth.next_sentence_head
                else "holds pooler weights but no next-sentence head")
    assert topic == "training"
    if "DataCollatorForLanguageModeling" in truth.card:  # the offline model's card: masked LM only
        return f"{truth.name} was trained with masked language modelling only"
    if "contrastive" in truth.card:
        return f"{truth.name} was trained with a contrastive"
    if truth.name == "bert-base-uncased":
        return "BooksCorpus and English Wikipedia (Devlin et al. 2019)"
    return f"How {truth.name} was trained is not recorded in its checkpoint"


def assert_true_of(truth: Truth, said: str, topics) -> None:
    for topic in topics:
        assert expected(truth, topic) in said, (truth.name, topic, said)
    sentences = re.split(r"(?<=[.?!:])\s+", said)
    if not truth.next_sentence_head:  # nothing says this model was trained for, or holds, a next-sentence task
        for wrong in ("pre-trained on pairs of sentences", "trained the pooler for next sentence prediction",
                      "holds a next sentence prediction head", "family was pre-trained"):
            assert wrong not in said, (truth.name, wrong)
    if truth.name != "bert-base-uncased":  # BERT-base's recipe is never said of another model
        assert not [s for s in sentences if truth.name in s and "BooksCorpus" in s], truth.name


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_model_facts_are_what_the_checkpoint_files_say(checkpoint_dirs, checkpoint):
    spec, truth = spec_and_truth(checkpoint_dirs, checkpoint)
    facts = model_facts(load_model(spec))
    assert (facts.has_pooler, facts.has_next_sentence_head, facts.segment_types, facts.positions,
            facts.lowercases, facts.vocabulary) == (truth.pooler, truth.next_sentence_head, truth.segments,
                                                    truth.positions, truth.lowercase, truth.vocabulary)
    assert facts.is_bert_base == (truth.name == "bert-base-uncased")


PAGE_TOPICS = {
    "home": ("vocabulary", "casing", "segments", "positions", "sentence_head", "training"),
    "app_pages/architecture.py": ("pooler",),
    "app_pages/inputs.py": ("casing", "segments", "sentence_head"),
    "app_pages/masked_lm.py": ("training",),
}


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_every_page_says_only_what_holds_for_the_loaded_checkpoint(checkpoint_dirs, checkpoint):
    spec, truth = spec_and_truth(checkpoint_dirs, checkpoint)
    for page, topics in PAGE_TOPICS.items():
        said = texts(open_app(None if page == "home" else page, model=spec))
        assert_true_of(truth, said, topics)
    parts = 1 + (truth.positions != "none") + (truth.segments > 0)
    said = texts(open_app("app_pages/inputs.py", model=spec))
    assert f"the sum of {parts} parts" in said and ("**segment embedding**" in said) == (truth.segments > 0)
    positions = texts(open_app("app_pages/positions.py", model=spec))
    assert f"uses **{truth.positions}** position embeddings" in positions


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_no_page_gives_the_loaded_checkpoint_a_head_or_a_recipe_it_lacks(checkpoint_dirs, checkpoint):
    """Every page, rendered on each checkpoint with a masked sentence and a pair: none says a model without a
    next-sentence head was trained on sentence pairs, and none gives another model BERT-base's corpus."""
    spec, truth = spec_and_truth(checkpoint_dirs, checkpoint)
    for page in (HOME, *PAGES):
        on_demand = {"left_only": "1", "recipe": "1"} if page.url_path == "masked-lm" else {}  # every section drawn
        app = open_app(None if page == HOME else page.script, model=spec, text="The bank of the [MASK] was flooded.",
                       pair="It rained for days.", **on_demand)
        assert not app.exception, (page.url_path, app.exception)
        assert_true_of(truth, texts(app), topics=())


def any_answer(step):
    """An answer that needs no model: the lesson must reveal what the loaded model does whatever was answered."""
    return {"guess_mask": "banana", "token_count": 3, "attended_token": 1, "similar_pair": (0, 1),
            "choice": step.question.options[0] if step.question.options else None,
            "next_sentence": "Yes, B followed A"}[step.question.kind]


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_every_lesson_step_says_only_what_holds_for_the_loaded_checkpoint(checkpoint_dirs, checkpoint):
    spec, truth = spec_and_truth(checkpoint_dirs, checkpoint)
    lesson = load_lesson("bert-path")
    app = open_app("app_pages/lesson.py", model=spec, name="bert-path")
    for number, step in enumerate(lesson.steps, start=1):
        answer_widget(app, step, f"answer_bert-path_{number}").set_value(any_answer(step)).run()
        assert not app.exception, (number, app.exception)
        said = texts(app)
        assert_true_of(truth, said, step.facts)
        if step.question.kind == "choice" and step.page == "input":
            same = truth.lowercase and truth.vocabulary == "WordPiece"  # “cats” and “Cats” one entry only then
            assert ("the same token-embedding rows" if same else "different token-embedding rows") in said
        if step.question.kind == "attended_token" and step.page == "attention":
            assert "heads by what each does most" in said and "In BERT-base, Clark et al. (2019" in said
        if step.question.kind == "next_sentence":
            assert ("that B followed A" if truth.next_sentence_head else "has no next-sentence head") in said
        if number < len(lesson.steps):
            next(b for b in app.button if b.label == "Next").click().run()
