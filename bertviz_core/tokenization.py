"""Text -> pieces, step by step: normalisation, pre-tokenisation, WordPiece matching, special tokens.

The steps reproduce the loaded tokenizer exactly. Settings come from the tokenizer's own JSON config
(``backend_tokenizer.to_str()``), and normalisation and word splitting run through the ``tokenizers``
library's own normalizer and pre-tokenizer, so character-level details (Unicode lowercasing, which
characters count as punctuation or CJK) cannot drift from what the model receives. The WordPiece
search itself is re-done here, so every candidate it tries can be shown.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from tokenizers import PreTokenizedString, normalizers

from .analysis import InputError, frozen_array


@dataclass(frozen=True)
class NormalizationStep:
    """The whole text after one normalisation step."""

    name: str
    """What the step does, e.g. 'lowercase'."""
    text: str


@dataclass(frozen=True)
class PieceAttempt:
    """One vocabulary look-up made by the WordPiece search."""

    candidate: str
    """The substring tried, with the continuation prefix ('##') when it does not start the word."""
    matched: bool


@dataclass(frozen=True)
class WordSteps:
    """One word (or punctuation mark) and the pieces it became."""

    word: str
    """As the subword model sees it: normalised (WordPiece) or byte-mapped (byte-level BPE)."""
    start: int
    """Character span in the original text: ``original[start:end]`` is the word as typed."""
    end: int
    pieces: tuple[str, ...]
    attempts: tuple[PieceAttempt, ...]
    """Every candidate tried, in order; empty for added tokens, over-long words and non-WordPiece models."""
    unknown: bool
    """True when the word became the unknown token."""
    added: bool = False
    """True for a special token typed in the text (e.g. [MASK]): kept whole, never normalised or split."""


@dataclass(frozen=True, eq=False)
class TokenizationSteps:
    """How one text becomes the ids the model receives. Arrays are read-only."""

    algorithm: str
    """'wordpiece', 'bpe', 'unigram', 'wordlevel' or 'other'."""
    original: str
    normalized: str
    """The text after every normalisation step (added tokens such as [MASK] left as typed)."""
    lowercase: bool
    strip_accents: bool
    normalization: tuple[NormalizationStep, ...]
    """One entry per step that the tokenizer applies, in order; the last one's text is ``normalized``."""
    words: tuple[WordSteps, ...]
    pieces: tuple[str, ...]
    """[N] all pieces in order, no special tokens."""
    tokens: tuple[str, ...]
    """[T] with special tokens, as the model receives them."""
    ids: np.ndarray
    """[T] int64 ids of ``tokens``."""
    note: str
    """One sentence for the page on how the pieces are found."""
    max_word_chars: int = 0
    """WordPiece's limit: a longer word becomes the unknown token without any look-up (0: no such limit)."""


def tokenization_steps(tokenizer, text: str) -> TokenizationSteps:
    """Explain how ``tokenizer`` turns ``text`` into pieces and ids, one step at a time."""
    if not text or not text.strip():
        raise InputError("Enter some text to analyse.")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return _opaque_steps(tokenizer, text)
    settings = _settings(tokenizer)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    segments = _segments(tokenizer, backend, text, encoding)
    words = _words(backend, text, segments)
    if settings.algorithm == "wordpiece":
        words = [_wordpiece(word, settings) if not word.added else word for word in words]
        piece_ids = [_piece_id(piece, word.added, settings) for word in words for piece in word.pieces]
    else:
        words = _pieces_from_encoding(words, encoding)
        piece_ids = list(encoding["input_ids"])
    pieces = tuple(piece for word in words for piece in word.pieces)
    ids = _add_special_tokens(tokenizer, settings, text, piece_ids)
    stages = _normalization(backend, settings.normalizer, text, segments)
    return TokenizationSteps(
        algorithm=settings.algorithm,
        original=text,
        normalized=stages[-1].text if stages else text,
        lowercase=settings.lowercase,
        strip_accents=settings.strip_accents,
        normalization=tuple(stages),
        words=tuple(words),
        pieces=pieces,
        # Spelled from the ids: an lstrip token's piece carries its swallowed spaces, its token does not.
        tokens=tuple(tokenizer.convert_ids_to_tokens(ids)),
        ids=frozen_array(ids, np.int64),
        note=_note(settings),
        max_word_chars=settings.max_chars if settings.algorithm == "wordpiece" else 0,
    )


@dataclass(frozen=True)
class PaddedInput:
    """The text as one row of a batch padded to a longer input: what the padding token and the attention mask do."""

    tokens: tuple[str, ...]
    """[T + extra] the model's tokens, then ``extra`` padding tokens."""
    ids: np.ndarray
    """[T + extra] int64."""
    attention_mask: np.ndarray
    """[T + extra] int64: 1 for real tokens, 0 under padding, so no token attends to those positions."""


def padded_input(tokenizer, text: str, text_pair: str | None = None, extra: int = 3) -> PaddedInput:
    """What the tokenizer gives when this input is padded by ``extra`` positions, as in a batch with longer texts."""
    length = len(tokenizer(text, text_pair, verbose=False)["input_ids"]) + extra
    encoding = tokenizer(text, text_pair, padding="max_length", max_length=length, verbose=False)
    return PaddedInput(tokens=tuple(tokenizer.convert_ids_to_tokens(encoding["input_ids"])),
                       ids=frozen_array(encoding["input_ids"], np.int64),
                       attention_mask=frozen_array(encoding["attention_mask"], np.int64))


# ---------------------------------------------------------------------------------------------
# Settings, read from the tokenizer's JSON config
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    algorithm: str
    normalizer: dict | None
    """The JSON of the backend normalizer, or None."""
    pre_tokenizer: dict | None
    post_processor: dict | None
    lowercase: bool
    strip_accents: bool
    vocab: dict[str, int]
    """WordPiece vocabulary (empty for other models)."""
    added: dict[str, int]
    """Added tokens ([CLS], [MASK], ...) -> id."""
    unk_token: str
    prefix: str
    max_chars: int


# Parsing the JSON (the whole vocabulary) takes tens of milliseconds: do it once per tokenizer.
_SETTINGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _settings(tokenizer) -> _Settings:
    if tokenizer not in _SETTINGS:
        _SETTINGS[tokenizer] = _read_settings(json.loads(tokenizer.backend_tokenizer.to_str()))
    return _SETTINGS[tokenizer]


def _read_settings(config: dict) -> _Settings:
    model = config.get("model") or {}
    algorithm = str(model.get("type", "other")).lower()
    lowercase, strip_accents = _case_and_accents(config.get("normalizer"))
    return _Settings(
        algorithm=algorithm if algorithm in ("wordpiece", "bpe", "unigram", "wordlevel") else "other",
        normalizer=config.get("normalizer"),
        pre_tokenizer=config.get("pre_tokenizer"),
        post_processor=config.get("post_processor"),
        lowercase=lowercase,
        strip_accents=strip_accents,
        vocab=model.get("vocab", {}) if algorithm == "wordpiece" else {},
        added={token["content"]: token["id"] for token in config.get("added_tokens") or []},
        unk_token=model.get("unk_token") or "",
        prefix=model.get("continuing_subword_prefix") or "",
        max_chars=model.get("max_input_chars_per_word") or 100,
    )


def _case_and_accents(normalizer: dict | None) -> tuple[bool, bool]:
    """(lowercase, strip_accents) as the normalizer config sets them, looking inside sequences."""
    if not normalizer:
        return False, False
    kind = normalizer.get("type")
    if kind == "Sequence":
        found = [_case_and_accents(part) for part in normalizer.get("normalizers", [])]
        return any(lower for lower, _ in found), any(strip for _, strip in found)
    if kind == "BertNormalizer":
        lowercase = bool(normalizer.get("lowercase"))
        # BertNormalizer's strip_accents=None means "follow lowercase" (as in the original BERT code).
        strip = normalizer.get("strip_accents")
        return lowercase, lowercase if strip is None else bool(strip)
    return kind == "Lowercase", kind == "StripAccents"


# ---------------------------------------------------------------------------------------------
# Splitting: added tokens first, then normalise and pre-tokenise what lies between them
# ---------------------------------------------------------------------------------------------


def _segments(tokenizer, backend, text: str, encoding) -> list[tuple[int, int, str | None]]:
    """``(start, end, piece)`` spans covering ``text``: ``piece`` is an added token's piece, None for plain text.

    The tokenizer cuts out added tokens typed in the text (e.g. [MASK]) before anything else; where
    it found them is read from its own encoding, so its matching rules need not be re-implemented.
    """
    added = tokenizer.added_tokens_decoder
    segments, position = [], 0
    for piece, token_id, (start, end) in zip(encoding.tokens(), encoding["input_ids"], encoding["offset_mapping"]):
        token = added.get(token_id)
        # An unknown word also carries the [UNK] id: only a span that spells the token is a typed one.
        if token is None or not _spells(backend, text[start:end], token.content):
            continue
        start, end = _with_stripped_space(text, start, end, token, position)
        if start > position:
            segments.append((position, start, None))
        segments.append((start, end, piece))
        position = end
    if position < len(text):
        segments.append((position, len(text), None))
    return segments


def _spells(backend, span: str, content: str) -> bool:
    normalized = backend.normalizer.normalize_str(span) if backend.normalizer else span
    return content in span or content in normalized


def _with_stripped_space(text: str, start: int, end: int, token, floor: int) -> tuple[int, int]:
    """Widen the span over the whitespace an lstrip/rstrip token swallows (RoBERTa's <mask>), which its offsets leave out."""
    while token.lstrip and start > floor and text[start - 1].isspace():
        start -= 1
    while token.rstrip and end < len(text) and text[end].isspace():
        end += 1
    return start, end


def _words(backend, text: str, segments) -> list[WordSteps]:
    """Words with their spans in the original text; pieces are filled in later."""
    words = []
    for start, end, piece in segments:
        if piece is not None:
            words.append(WordSteps(piece, start, end, (piece,), (), False, added=True))
            continue
        for word, (word_start, word_end) in _pre_tokenize(backend, text[start:end]):
            words.append(WordSteps(word, start + word_start, start + word_end, (), (), False))
    return words


def _pre_tokenize(backend, text: str) -> list[tuple[str, tuple[int, int]]]:
    """Normalise then pre-tokenise with the tokenizer's own components.

    ``PreTokenizedString`` keeps the alignment between normalised and original characters, so
    each word's span is in the original text even when normalisation dropped or changed characters.
    """
    pretokenized = PreTokenizedString(text)
    if backend.normalizer is not None:
        pretokenized.normalize(backend.normalizer.normalize)
    if backend.pre_tokenizer is not None:
        backend.pre_tokenizer.pre_tokenize(pretokenized)
    splits = pretokenized.get_splits(offset_referential="original", offset_type="char")
    return [(word, span) for word, span, _ in splits]


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


def _wordpiece(word: WordSteps, settings: _Settings) -> WordSteps:
    """Greedy longest-match-first WordPiece, recording every candidate looked up."""
    text = word.word
    if len(text) > settings.max_chars:
        return _with_pieces(word, (settings.unk_token,), (), unknown=True)
    pieces, attempts, start = [], [], 0
    while start < len(text):
        match = _longest_match(text, start, settings, attempts)
        if match is None:
            # One unmatched stretch makes the whole word unknown, not just that stretch.
            return _with_pieces(word, (settings.unk_token,), tuple(attempts), unknown=True)
        piece, start = match
        pieces.append(piece)
    return _with_pieces(word, tuple(pieces), tuple(attempts), unknown=False)


def _longest_match(text: str, start: int, settings: _Settings, attempts: list) -> tuple[str, int] | None:
    """The longest vocabulary entry starting at ``start`` and where it ends, or None."""
    for end in range(len(text), start, -1):
        candidate = (settings.prefix if start > 0 else "") + text[start:end]
        matched = candidate in settings.vocab
        attempts.append(PieceAttempt(candidate, matched))
        if matched:
            return candidate, end
    return None


def _piece_id(piece: str, added: bool, settings: _Settings) -> int | None:
    # An lstrip/rstrip added token's piece carries the whitespace it swallowed ("  <mask>").
    return settings.added.get(piece.strip()) if added else settings.vocab.get(piece)


def _pieces_from_encoding(words: list[WordSteps], encoding) -> list[WordSteps]:
    """Give each word the tokens the tokenizer made from it (its word index is the split's index)."""
    grouped: list[list[str]] = [[] for _ in words]
    tokens, word_ids = encoding.tokens(), encoding.word_ids()
    for pieces in word_groups(word_ids):
        if grouped and word_ids[pieces[0]] is not None:
            grouped[min(word_ids[pieces[0]], len(grouped) - 1)] += [tokens[p] for p in pieces]
    return [word if word.added else _with_pieces(word, tuple(pieces), (), unknown=False)
            for word, pieces in zip(words, grouped)]


def _with_pieces(word: WordSteps, pieces: tuple[str, ...], attempts: tuple, unknown: bool) -> WordSteps:
    return WordSteps(word.word, word.start, word.end, pieces, attempts, unknown, word.added)


# ---------------------------------------------------------------------------------------------
# Special tokens
# ---------------------------------------------------------------------------------------------


def _add_special_tokens(tokenizer, settings: _Settings, text: str, piece_ids: list) -> list[int]:
    """The ids wrapped as the post-processor does ([CLS] ... [SEP], <s> ... </s>)."""
    around = _special_template(settings.post_processor)
    if around is None or None in piece_ids:
        # A post-processor this module does not read: take the tokenizer's own result.
        return list(tokenizer(text, verbose=False)["input_ids"])
    before, after = around
    return before + list(piece_ids) + after


_NO_SPECIALS: tuple[list[int], list[int]] = ([], [])


def _special_template(processor: dict | None) -> tuple[list[int], list[int]] | None:
    """(ids before, ids after) the text of a single sequence, or None for a post-processor not read here."""
    if processor is None:
        return _NO_SPECIALS
    kind = processor.get("type")
    if kind == "Sequence":
        parts = [_special_template(part) for part in processor.get("processors", [])]
        wrapping = [part for part in parts if part != _NO_SPECIALS]
        if None in parts or len(wrapping) > 1:
            return None
        return wrapping[0] if wrapping else _NO_SPECIALS
    if kind in ("BertProcessing", "RobertaProcessing"):
        return [processor["cls"][1]], [processor["sep"][1]]
    if kind == "TemplateProcessing":
        return _template_ids(processor)
    if kind == "ByteLevel":  # only adjusts offsets
        return _NO_SPECIALS
    return None


def _template_ids(processor: dict) -> tuple[list[int], list[int]]:
    specials = processor.get("special_tokens", {})
    before, after, seen_text = [], [], False
    for item in processor.get("single", []):
        if "Sequence" in item:
            seen_text = True
        else:
            (after if seen_text else before).extend(specials[item["SpecialToken"]["id"]]["ids"])
    return before, after


# ---------------------------------------------------------------------------------------------
# Normalisation steps, one at a time, for display
# ---------------------------------------------------------------------------------------------

_STEP_NAMES = {
    "NFD": "Unicode NFD (split letters from their accents)", "NFC": "Unicode NFC", "NFKD": "Unicode NFKD",
    "NFKC": "Unicode NFKC", "Lowercase": "lowercase", "StripAccents": "strip accents (drop combining marks)",
    "Strip": "strip surrounding whitespace", "Replace": "replace", "Prepend": "prepend",
    "Precompiled": "SentencePiece normalisation",
}


def _normalization(backend, config: dict | None, text: str, segments) -> list[NormalizationStep]:
    """The text after each normalisation step; added tokens are left as typed, as the tokenizer does."""
    steps, current = [], [text[start:end] for start, end, _ in segments]
    for name, normalizer in _stages(backend.normalizer, config):
        current = [part if added is not None else normalizer.normalize_str(part)
                   for part, (_, _, added) in zip(current, segments)]
        steps.append(NormalizationStep(name, "".join(current)))
    return steps


def _stages(normalizer, config: dict | None) -> list[tuple[str, object]]:
    """(name, normalizer) for each step, BertNormalizer split into its options so each can be shown."""
    if normalizer is None or not config:
        return []
    kind = config.get("type")
    if kind == "Sequence":
        parts = config.get("normalizers", [])
        return [stage for index, part in enumerate(parts) for stage in _stages(normalizer[index], part)]
    if kind == "BertNormalizer":
        return _bert_stages(config)
    return [(_STEP_NAMES.get(kind, kind), normalizer)]


def _bert_stages(config: dict) -> list[tuple[str, object]]:
    """BertNormalizer's options as separate normalizers, in the order it applies them."""
    lowercase, strip_accents = _case_and_accents(config)
    options = [
        ("clean_text", bool(config.get("clean_text")), "remove control characters, turn whitespace into spaces"),
        ("handle_chinese_chars", bool(config.get("handle_chinese_chars")), "put spaces around CJK characters"),
        ("strip_accents", strip_accents, "strip accents (NFD, drop combining marks)"),
        ("lowercase", lowercase, "lowercase"),
    ]
    only = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    return [(name, normalizers.BertNormalizer(**{**only, option: True})) for option, on, name in options if on]


# ---------------------------------------------------------------------------------------------


def _note(settings: _Settings) -> str:
    prefix = settings.prefix or "##"
    byte_level = "ByteLevel" in json.dumps(settings.pre_tokenizer or {})
    if settings.algorithm == "wordpiece":
        return (f"WordPiece: each word is matched greedily against the vocabulary, longest piece first; "
                f"'{prefix}' marks a piece that continues a word.")
    if settings.algorithm == "bpe" and byte_level:
        return ("This model uses byte-level BPE, not WordPiece: each word's bytes are merged pair by pair "
                "in the learned order, and 'Ġ' marks a leading space.")
    if settings.algorithm == "bpe":
        return "This model uses BPE, not WordPiece: each word's characters are merged pair by pair in the learned order."
    if settings.algorithm == "unigram":
        return ("This model uses a Unigram (SentencePiece) vocabulary, not WordPiece: each word is split into "
                "its most probable pieces, and '▁' marks a leading space.")
    if settings.algorithm == "wordlevel":
        return "This model looks up whole words, with no subword pieces."
    return "This tokenizer's algorithm is not WordPiece; the pieces are shown as it produces them."


def _opaque_steps(tokenizer, text: str) -> TokenizationSteps:
    """A tokenizer without a ``tokenizers`` backend: show its result, without the steps."""
    ids = tokenizer(text, verbose=False)["input_ids"]
    return TokenizationSteps(
        algorithm="other", original=text, normalized=text, lowercase=False, strip_accents=False,
        normalization=(), words=(), pieces=tuple(tokenizer.tokenize(text)),
        tokens=tuple(tokenizer.convert_ids_to_tokens(ids)), ids=frozen_array(ids, np.int64),
        note="This tokenizer does not expose its steps; the pieces are shown as it produces them.",
    )



@dataclass(frozen=True)
class TokenRow:
    """One token as the model receives it, traced back to the text."""

    position: int
    token: str
    id: int
    word: int | None
    """Index of the word it came from, counted across both texts; None for special tokens."""
    word_text: str
    """That whole word as typed ('Unaffable' for each of 'una', '##ffa', '##ble'); '' for special tokens."""
    segment: str
    """'A' (the sentence) or 'B' (the second sentence)."""
    characters: str
    """The characters of the original text it covers ('' for special tokens)."""


def token_rows(analysis) -> tuple[TokenRow, ...]:
    """The token table: token, id, source word and original characters, for every token of an analysis."""
    texts = (analysis.text, analysis.text_pair or "")
    word_ids = analysis.word_ids.tolist()
    spans = {word_ids[pieces[0]]: word_span(analysis.offsets, pieces) for pieces in word_groups(word_ids)}
    return tuple(
        TokenRow(position=index, token=token, id=int(token_id), word=None if word < 0 else int(word),
                 word_text="" if special else texts[segment][slice(*spans[word])],
                 segment="AB"[segment], characters="" if special else texts[segment][start:end])
        for index, (token, token_id, word, segment, special, (start, end)) in enumerate(zip(
            analysis.tokens, analysis.input_ids.tolist(), word_ids, analysis.segment_ids.tolist(),
            analysis.special_mask.tolist(), analysis.offsets.tolist()))
    )


# ---------------------------------------------------------------------------------------------
# Words: the one grouping of pieces into words the whole engine uses
# ---------------------------------------------------------------------------------------------


def word_groups(word_ids: Sequence[int | None],
                sequence_ids: Sequence[int | None] | None = None) -> tuple[tuple[int, ...], ...]:
    """Token positions of each word, words in the order of their first piece: a word's pieces share a group wherever
    they stand, and each special token (word id None, or -1 as ``Analysis.word_ids`` has it) is a group of its own.

    ``word_ids`` as a tokenizer gives them (``encoding.word_ids()``) or as ``Analysis.word_ids`` (counted across both
    texts). A tokenizer counts the second text's words from 0 again, so pass its ``sequence_ids`` for a pair.
    """
    sequences = sequence_ids if sequence_ids is not None else [0] * len(word_ids)
    groups: dict[tuple, list[int]] = {}  # (sequence, word) or ("special", position) -> positions; keeps first order
    for position, (word, sequence) in enumerate(zip(word_ids, sequences)):
        special = word is None or word < 0
        groups.setdefault(("special", position) if special else (sequence, word), []).append(position)
    return tuple(tuple(pieces) for pieces in groups.values())


def word_span(offsets, pieces: Sequence[int]) -> tuple[int, int]:
    """(start, end) characters of the word ``pieces`` make, in its own text, from ``offsets`` [T, 2]."""
    return int(min(offsets[p][0] for p in pieces)), int(max(offsets[p][1] for p in pieces))


def unknown_stretches(analysis, unk_token: str) -> tuple[str, ...]:
    """The stretches of the text that the vocabulary has no piece for: the model reads each as ``unk_token``
    (byte-level vocabularies have none)."""
    return tuple(row.characters for row in token_rows(analysis) if row.token == unk_token and row.characters)
