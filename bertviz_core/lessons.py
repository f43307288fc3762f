"""Guided lessons: plain YAML files in ``lessons_data/`` that a teacher writes without code, checked against a
schema, and the answers to their questions, found on the loaded model.

A lesson is a list of steps. Each step has its own sentence, a view named the way a link names it (a page path and
its URL parameters), a question the visitor answers first, and what the reveal shows. Heads are named by what they
do ("the head that attends most to the previous token"), found on whatever model is loaded, so a lesson works on
every model. Errors in a file name its line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from urllib.parse import urlencode

import jsonschema
import numpy as np
import torch
import yaml

from .analysis import MASK_ALIAS, Analysis, InputError
from .attention.heads import head_roles, head_statistics
from .facts import TOPICS
from .loading import LoadedModel
from .meaning import find_word, sentence_embeddings, similarity_matrix
from .explain.target import mask_positions, vocabulary_id

LESSONS_DIR = Path(__file__).resolve().parent / "lessons_data"
"""The shipped lessons, package data (an installed copy has them too); an operator points BERT_LENS_LESSONS_DIR at
a folder of their own instead."""
ROLES = {
    "previous": ("to_previous", "the previous token"),
    "next": ("to_next", "the next token"),
    "self": ("to_self", "the token itself"),
    "cls": ("to_cls", "[CLS]"),
    "sep": ("to_sep", "[SEP]"),
    "punctuation": ("to_punctuation", "punctuation"),
}
"""A head's role in a lesson -> (its ``HeadStatistics`` field, how the lesson says it)."""
KINDS = ("guess_mask", "attended_token", "similar_pair", "next_sentence", "choice", "token_count")
PAGES = ("tokenization", "positions", "input", "architecture", "attention", "masked-lm", "qkv", "context",
         "applications", "explain")

_TEXT = {"type": "string", "minLength": 1}
SCHEMA = {
    "type": "object",
    "required": ["title", "steps"],
    "additionalProperties": False,
    "properties": {
        "title": _TEXT,
        "summary": _TEXT,
        "steps": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["title", "sentence", "view", "question", "reveal"],
            "additionalProperties": False,
            "properties": {
                "title": _TEXT,
                "sentence": _TEXT,
                "pair": _TEXT,
                "sentences": {"type": "array", "minItems": 3, "items": _TEXT},
                "view": {"type": "object", "required": ["page"], "additionalProperties": False, "properties": {
                    "page": {"enum": list(PAGES)},
                    "params": {"type": "object", "additionalProperties": {"type": ["string", "integer"]}},
                }},
                "explain": _TEXT,
                "facts": {"type": "array", "minItems": 1, "items": {"enum": list(TOPICS)}},
                "question": {"type": "object", "required": ["kind", "prompt"], "additionalProperties": False,
                             "properties": {
                                 "kind": {"enum": list(KINDS)},
                                 "prompt": _TEXT,
                                 "role": {"enum": list(ROLES)},
                                 "query": _TEXT,
                                 "options": {"type": "array", "minItems": 2, "items": _TEXT},
                                 "answer": _TEXT,
                             },
                             "allOf": [
                                 {"if": {"properties": {"kind": {"const": "attended_token"}}},
                                  "then": {"required": ["role", "query"]}},
                                 {"if": {"properties": {"kind": {"const": "choice"}}},
                                  "then": {"required": ["options", "answer"]}},
                             ]},
                "reveal": _TEXT,
            },
            "allOf": [
                {"if": {"properties": {"question": {"properties": {"kind": {"const": "similar_pair"}}}}},
                 "then": {"required": ["sentences"]}},
                {"if": {"properties": {"question": {"properties": {"kind": {"const": "next_sentence"}}}}},
                 "then": {"required": ["pair"]}},
            ],
        }},
    },
}
"""What a lesson file may hold (JSON Schema, checked with ``jsonschema``)."""


class LessonError(InputError):
    """A lesson file cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Question:
    kind: str
    prompt: str
    role: str | None = None
    """attended_token: the head's role (a key of ``ROLES``)."""
    query: str | None = None
    """attended_token: the word whose attention is asked about."""
    options: tuple[str, ...] = ()
    answer: str | None = None
    """choice: the right option."""


@dataclass(frozen=True)
class Step:
    title: str
    sentence: str
    page: str
    params: dict = field(default_factory=dict)
    question: Question | None = None
    reveal: str = ""
    explain: str = ""
    pair: str | None = None
    sentences: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    """What the step relies on about the loaded model (keys of ``facts.TOPICS``): stated from its checkpoint."""

    def link(self, **settings) -> str:
        """The step's view on its own page, with the step's sentence and ``settings`` (a head found on the model):
        a relative link, as the app's pages take it."""
        values = {"text": self.sentence, **({"pair": self.pair} if self.pair else {}), **self.params, **settings}
        return f"{self.page}?{urlencode(values)}"


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    summary: str
    steps: tuple[Step, ...]


def lessons_dir() -> Path:
    return Path(os.environ.get("BERT_LENS_LESSONS_DIR") or LESSONS_DIR)


def lesson_names(folder: Path | None = None) -> list[str]:
    return sorted(path.stem for path in (folder or lessons_dir()).glob("*.yaml"))


def load_lesson(name: str, folder: Path | None = None) -> Lesson:
    """The lesson ``folder/name.yaml`` (default: ``lessons_dir()``), checked; a LessonError naming the line says
    what is wrong."""
    folder = folder or lessons_dir()
    path = folder / f"{name}.yaml"
    if name not in lesson_names(folder):
        raise LessonError(f"There is no lesson “{name}”; the lessons are {', '.join(lesson_names(folder))}.")
    return read_lesson(path.read_text(encoding="utf-8"), path.name)


def read_lesson(text: str, file_name: str) -> Lesson:
    """A lesson from the text of its YAML file (``file_name`` names it in messages)."""
    try:
        tree = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise LessonError(f"{file_name}{where}: {getattr(error, 'problem', None) or error}") from None
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if problem is not None:
        raise LessonError(f"{file_name}, line {_line(tree, _problem_path(problem))}: {_said(problem)}")
    steps = tuple(_step(raw) for raw in data["steps"])
    for number, step in enumerate(steps):
        _check_step(step, file_name, _line(tree, ["steps", number]))
    return Lesson(name=Path(file_name).stem, title=data["title"], summary=data.get("summary", ""), steps=steps)


def _said(problem: jsonschema.ValidationError) -> str:
    """The schema's complaint, with where in the lesson it is ('step 2, question.kind: ...')."""
    parts = list(problem.absolute_path)
    where = []
    if len(parts) >= 2 and parts[0] == "steps" and isinstance(parts[1], int):
        where, parts = [f"step {parts[1] + 1}"], parts[2:]
    if parts:
        where.append(".".join(str(part + 1) if isinstance(part, int) else part for part in parts))
    return f"{', '.join(where)}: {problem.message}" if where else problem.message


def _problem_path(problem: jsonschema.ValidationError) -> list:
    """Where the problem is; for a key that is not allowed, the key itself."""
    path = list(problem.absolute_path)
    if problem.validator == "additionalProperties" and isinstance(problem.instance, dict):
        allowed = problem.schema.get("properties", {})
        path.append(next(key for key in problem.instance if key not in allowed))
    return path


def _line(node, path: list) -> int:
    """The 1-based line of the YAML node at ``path`` (keys and list indexes), or of the deepest one found; a key
    of a mapping is found at the line where it is written."""
    line = node.start_mark.line
    for part in path:
        children = node.value if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) else []
        if isinstance(node, yaml.MappingNode):
            pair = next(((key, value) for key, value in children if key.value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line, pair[1]
        elif isinstance(part, int) and part < len(children):
            node = children[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _step(raw: dict) -> Step:
    question = raw["question"]
    return Step(title=raw["title"], sentence=raw["sentence"], page=raw["view"]["page"],
                params={k: str(v) for k, v in raw["view"].get("params", {}).items()},
                question=Question(kind=question["kind"], prompt=question["prompt"], role=question.get("role"),
                                  query=question.get("query"), options=tuple(question.get("options", ())),
                                  answer=question.get("answer")),
                reveal=raw["reveal"], explain=raw.get("explain", ""), pair=raw.get("pair"),
                sentences=tuple(raw.get("sentences", ())), facts=tuple(raw.get("facts", ())))


def _check_step(step: Step, file_name: str, line: int) -> None:
    """What the schema cannot say: answers among the options, masks and words where the question needs them."""
    question, where = step.question, f"{file_name}, line {line}: step “{step.title}”"
    if question.kind == "choice" and question.answer not in question.options:
        raise LessonError(f"{where}: the answer “{question.answer}” is not one of its options.")
    if question.kind == "guess_mask" and MASK_ALIAS not in step.sentence:
        raise LessonError(f"{where}: a guess_mask question needs [MASK] in the step's sentence.")
    if question.kind == "attended_token" and question.query.lower() not in step.sentence.lower():
        raise LessonError(f"{where}: the query word “{question.query}” is not in the step's sentence.")


# ---------------------------------------------------------------------------------------------
# Answers, found on the loaded model
# ---------------------------------------------------------------------------------------------


def role_head(analysis: Analysis, role: str) -> tuple[int, int]:
    """(layer, head), 0-based: the head whose attention goes most to ``role`` on this sentence."""
    values = getattr(head_statistics(analysis), ROLES[role][0])  # [L, H]
    layer, head = np.unravel_index(int(np.argmax(values)), values.shape)
    return int(layer), int(head)


def role_counts(analysis: Analysis) -> dict[str, int]:
    """How many heads play each role (``attention.ROLES``) on this sentence, most common first."""
    roles = [role for layer in head_roles(head_statistics(analysis)) for role in layer]
    return {role: roles.count(role) for role in sorted(set(roles), key=lambda r: (-roles.count(r), r))}


def word_pieces(analysis: Analysis, word: str) -> tuple[str, ...]:
    """The tokens of the first occurrence of ``word`` (any case), as the tokenizer wrote them."""
    return tuple(analysis.tokens[i] for i in _word_indices(analysis, word))


def query_token(analysis: Analysis, word: str) -> int:
    """The first token of ``word`` in the analysis."""
    return _word_indices(analysis, word)[0]


def _word_indices(analysis: Analysis, word: str) -> tuple[int, ...]:
    found = find_word(analysis, word)
    if not found:
        raise InputError(f"“{word}” is not a word of “{analysis.text}”.")
    return found


@dataclass(frozen=True)
class GuessRank:
    guess: str
    rank: int
    """1 = the model's top guess, among all V entries."""
    probability: float


def guess_rank(model: LoadedModel, analysis: Analysis, guess: str) -> GuessRank:
    """Where the masked-LM head ranks ``guess`` (one vocabulary entry) at the first mask."""
    masks = mask_positions(model, analysis)
    if not model.has_mlm_head or not masks:
        raise InputError(f"{model.name} cannot guess this mask: it needs a model with a masked-LM head.")
    token = vocabulary_id(model, guess)
    with model.lock, torch.inference_mode():
        logits = model.mlm_logits(torch.tensor(np.asarray(analysis.hidden_states[-1][masks[0]]))[None])[0].float()
    return GuessRank(guess=model.tokenizer.convert_ids_to_tokens(token), rank=1 + int((logits > logits[token]).sum()),
                     probability=float(logits.softmax(dim=-1)[token]))


def most_similar_pair(analyses: list[Analysis]) -> tuple[tuple[int, int], np.ndarray]:
    """The pair of sentences whose mean-pooled vectors are closest, and the [N, N] cosine similarities."""
    similarities = similarity_matrix(sentence_embeddings(analyses))
    return max(sentence_pairs(analyses), key=lambda pair: similarities[pair]), similarities


def sentence_pairs(sentences) -> list[tuple[int, int]]:
    """Every pair of the step's sentences, in the order the question lists them."""
    return list(combinations(range(len(sentences)), 2))


def step_answer(model: LoadedModel, step: Step) -> dict:
    """What the loaded model answers to a step's question, as plain values (the command line prints them)."""
    from .analysis import analyze
    from .mlm import next_sentence_probability

    question, result = step.question, analyze(model, step.sentence, step.pair)
    if question.kind == "guess_mask":
        if not result.masks:
            return {"top_guess": None, "note": f"{model.name} has no masked-LM head"}
        return {"top_guess": result.masks[0].tokens[0], "probability": float(result.masks[0].probs[0])}
    if question.kind == "token_count":
        return {"tokens": list(result.tokens), "count": result.num_tokens}
    if question.kind == "attended_token":
        layer, head = role_head(result, question.role)
        weights = result.attentions[layer, head, query_token(result, question.query)]
        return {"layer": layer + 1, "head": head + 1, "strongest": result.tokens[int(weights.argmax())],
                "weight": float(weights.max())}
    if question.kind == "similar_pair":
        from .analysis import analyze_many
        (first, second), similarities = most_similar_pair(analyze_many(model, list(step.sentences)))
        return {"pair": [step.sentences[first], step.sentences[second]],
                "cosine": float(similarities[first, second])}
    if question.kind == "next_sentence":
        return {"probability_next": next_sentence_probability(model, result)}
    return {"answer": question.answer}
