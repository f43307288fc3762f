"""Lesson files: the shipped ones load; a bad one is refused with its line; the answers come from the model."""

import numpy as np
import pytest
import torch
from transformers import BertForPreTraining

from bertviz_core import analyze, load_model
from bertviz_core.lessons import (LessonError, ROLES, guess_rank, lesson_names, load_lesson, read_lesson,
                                  role_head)
from bertviz_core.mlm import next_sentence_probability
from tiny_models import _save_tokenizer, tiny_config

GOOD = """title: A lesson
steps:
  - title: One
    sentence: She is a [MASK] engineer.
    view: {page: masked-lm}
    question:
      kind: guess_mask
      prompt: Guess.
    reveal: The guesses.
"""


def test_the_shipped_lessons_load_and_link_to_their_views():
    assert "bert-path" in lesson_names()
    lesson = load_lesson("bert-path")
    assert len(lesson.steps) >= 6
    assert {step.question.kind for step in lesson.steps} >= {"guess_mask", "attended_token", "similar_pair",
                                                              "next_sentence"}
    assert lesson.steps[2].link() == "attention?text=The+cat+sat+on+the+mat.&view=Heatmap"
    assert lesson.steps[2].link(layer=2, head=5) == "attention?text=The+cat+sat+on+the+mat.&view=Heatmap&layer=2&head=5"


@pytest.mark.parametrize("text, line, message", [
    (GOOD.replace("    view: {page: masked-lm}", "    view: {page: nowhere}"), 5, "step 1, view.page: 'nowhere' is not one of"),
    (GOOD.replace("      kind: guess_mask", "      kind: guess"), 7, "'guess' is not one of"),
    (GOOD.replace("    reveal: The guesses.\n", ""), 3, "'reveal' is a required property"),
    (GOOD.replace("She is a [MASK] engineer.", "She is an engineer."), 3, "needs [MASK] in the step's sentence"),
    (GOOD.replace("      prompt: Guess.", "      prompt: Guess.\n     role: [previous"), 9, "expected"),
    (GOOD.replace("title: A lesson\n", "title: A lesson\nauthor: me\n"), 2, "('author' was unexpected)"),
    ("title: A lesson\nsteps: 3\n", 2, "steps: 3 is not of type 'array'"),
    (GOOD.replace("    reveal: The guesses.", "    reveal: The guesses.\n    colour: red"), 10, "('colour' was unexpected)"),
])
def test_a_bad_lesson_file_is_refused_naming_its_line(text, line, message):
    with pytest.raises(LessonError) as error:
        read_lesson(text, "mine.yaml")
    said = str(error.value)
    assert said.startswith(f"mine.yaml, line {line}:") and message in said, said


def test_an_unknown_lesson_names_the_ones_there_are():
    with pytest.raises(LessonError, match="the lessons are bert-path"):
        load_lesson("nope")


@pytest.mark.parametrize("family", ["bert", "roberta", "albert", "distilbert", "electra"])
def test_heads_are_found_by_role_on_every_model(tiny_models, family):
    result = analyze(tiny_models[family], "The cat sat on the mat.")
    for role, (statistic, _) in ROLES.items():
        layer, head = role_head(result, role)
        from bertviz_core.attention.heads import head_statistics
        values = getattr(head_statistics(result), statistic)
        assert values[layer, head] == values.max()


def test_a_guess_is_ranked_among_the_whole_vocabulary(offline):
    result = analyze(offline, "She is a [MASK] engineer.", full_logits=True)
    logits = result.masks[0].full_logits
    top = result.masks[0].tokens[0]
    assert guess_rank(offline, result, top).rank == 1
    ranked = guess_rank(offline, result, "banana")
    banana = offline.tokenizer.convert_tokens_to_ids("banana")
    assert ranked.rank == 1 + int((logits > logits[banana]).sum())
    assert ranked.probability == pytest.approx(float(torch.tensor(logits).softmax(-1)[banana]), rel=1e-4)


def test_next_sentence_probability_is_berts_own_head(tmp_path):
    vocab = _save_tokenizer("bert", tmp_path)
    torch.manual_seed(0)
    reference = BertForPreTraining(tiny_config("bert", vocab)).eval()
    reference.save_pretrained(tmp_path)
    model = load_model(str(tmp_path))
    result = analyze(model, "The man went to the store.", "He bought a gallon of milk.")
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor(result.input_ids.tolist())[None],
                             token_type_ids=torch.tensor(result.segment_ids.tolist())[None]
                             ).seq_relationship_logits.softmax(-1)[0, 0]
    assert next_sentence_probability(model, result) == pytest.approx(float(expected), abs=1e-5)
    offline = load_model("offline")
    assert next_sentence_probability(offline, analyze(offline, "A man.", "A dog.")) is None
