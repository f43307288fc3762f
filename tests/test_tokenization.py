"""The WordPiece step-through reproduces the real tokenizers exactly, and explains each word."""

import numpy as np
import pytest
from tokenizers import AddedToken
from transformers import BertTokenizerFast, RobertaTokenizer

from bertviz_core.analysis import InputError
from bertviz_core.loading import embedded_model_dir
from bertviz_core import analyze
from bertviz_core.tokenization import padded_input, token_rows, tokenization_steps, word_groups, word_span

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé Ångström",
    "我爱北京 東京タワー",
    "I ❤️ 🍕!",
    "3.14159 and 1,000,000",
    "Hello!!! (world)... 'quoted' -- yes?",
    "a" * 150,
    "antidisestablishmentarianism",
    "MiXeD CaSe WoRdS and ALLCAPS",
    "zero\u200bwidth\x07bell",
    "tabs\tand\nnew\r\nlines   and  spaces",
    "The capital of France is [MASK].",
    "[CLS] typed [SEP] tokens[UNK]",
    "ΟΔΥΣΣΕΥΣ straße ﬁne İstanbul",
    "x" * 100 + " " + "y" * 101,
    "  leading and trailing  ",
]
WORDPIECE_FAMILIES = ["bert", "distilbert", "albert", "electra"]


@pytest.fixture(scope="module")
def roberta_bpe(tiny_models):
    """The tiny RoBERTa model's trained byte-level BPE, as loaded with the model."""
    return tiny_models["roberta"].tokenizer


def _assert_reproduces(tokenizer, text):
    steps = tokenization_steps(tokenizer, text)
    assert steps.pieces == tuple(tokenizer.tokenize(text))
    expected = tokenizer(text)["input_ids"]
    assert steps.ids.tolist() == expected
    assert steps.ids.dtype == np.int64
    assert steps.tokens == tuple(tokenizer.convert_ids_to_tokens(expected))
    return steps


@pytest.mark.parametrize("text", TEXTS)
def test_embedded_wordpiece_is_reproduced(embedded, text):
    steps = _assert_reproduces(embedded.tokenizer, text)
    assert steps.algorithm == "wordpiece"
    assert steps.tokens[0] == "[CLS]" and steps.tokens[-1] == "[SEP]"


@pytest.mark.parametrize("family", WORDPIECE_FAMILIES)
@pytest.mark.parametrize("text", TEXTS)
def test_tiny_wordpiece_is_reproduced(tiny_models, family, text):
    _assert_reproduces(tiny_models[family].tokenizer, text)


@pytest.fixture(scope="module")
def cased_wordpiece():
    """A cased WordPiece tokenizer (no lowercasing, accents kept) on the embedded vocabulary."""
    return BertTokenizerFast(vocab_file=str(embedded_model_dir() / "vocab.txt"), do_lower_case=False,
                             strip_accents=False)


@pytest.mark.parametrize("text", TEXTS)
def test_cased_wordpiece_is_reproduced(cased_wordpiece, text):
    steps = _assert_reproduces(cased_wordpiece, text)
    assert not steps.lowercase and not steps.strip_accents


@pytest.mark.parametrize("text", [t for t in TEXTS if "[" not in t])
def test_byte_level_bpe_is_reproduced(roberta_bpe, text):
    assert _assert_reproduces(roberta_bpe, text).algorithm == "bpe"


@pytest.mark.parametrize("text", [t for t in TEXTS if "[" not in t])
def test_normalized_text_matches_the_normalizer(embedded, text):
    backend = embedded.tokenizer.backend_tokenizer
    steps = tokenization_steps(embedded.tokenizer, text)
    assert steps.normalized == backend.normalizer.normalize_str(text)


def test_uncased_normalization_steps(embedded):
    steps = tokenization_steps(embedded.tokenizer, "Café\x07 我爱")
    assert steps.lowercase and steps.strip_accents
    texts = {step.name: step.text for step in steps.normalization}
    assert [step.name.split()[0] for step in steps.normalization] == ["remove", "put", "strip", "lowercase"]
    assert texts["remove control characters, turn whitespace into spaces"] == "Café 我爱"
    assert texts["put spaces around CJK characters"] == "Café  我  爱 "
    assert texts["strip accents (NFD, drop combining marks)"] == "Cafe  我  爱 "
    assert steps.normalized == "cafe  我  爱 "


def test_wordpiece_attempts_longest_first(embedded):
    steps = tokenization_steps(embedded.tokenizer, "unaffable")
    (word,) = steps.words
    assert len(word.pieces) > 1
    assert word.attempts[0].candidate == "unaffable"
    assert tuple(a.candidate for a in word.attempts if a.matched) == word.pieces
    assert all(p.startswith("##") for p in word.pieces[1:])
    # Each failed look-up is one character shorter than the one before it.
    first_match = next(i for i, a in enumerate(word.attempts) if a.matched)
    assert [len(a.candidate) for a in word.attempts[:first_match + 1]] == list(range(9, 8 - first_match, -1))


def test_long_rare_word_becomes_several_pieces(embedded):
    (word,) = tokenization_steps(embedded.tokenizer, "antidisestablishmentarianism").words
    assert len(word.pieces) >= 3 and not word.unknown
    assert "".join(p.removeprefix("##") for p in word.pieces) == "antidisestablishmentarianism"


def test_words_over_the_length_limit_are_unknown_without_attempts(embedded):
    (word,) = tokenization_steps(embedded.tokenizer, "a" * 150).words
    assert word.pieces == ("[UNK]",) and word.unknown and word.attempts == ()


def test_unmatched_character_makes_the_word_unknown(embedded):
    steps = tokenization_steps(embedded.tokenizer, "I ❤️ 🍕!")
    heart = next(w for w in steps.words if "❤" in w.word)
    assert heart.pieces == ("[UNK]",) and heart.unknown
    assert heart.attempts and not any(a.matched for a in heart.attempts)


def test_word_spans_point_into_the_original_text(embedded):
    text = "Well, Café\u200bau-lait in  TŌKYŌ\t東京!"
    steps = tokenization_steps(embedded.tokenizer, text)
    spans = {w.word: text[w.start:w.end] for w in steps.words}
    assert spans["cafeau"] == "Café\u200bau"
    assert spans["tokyo"] == "TŌKYŌ"
    assert spans["東"] == "東" and spans["!"] == "!"
    assert [w.word for w in steps.words] == ["well", ",", "cafeau", "-", "lait", "in", "tokyo", "東", "京", "!"]


def test_typed_special_tokens_stay_whole(embedded):
    text = "Paris is the [MASK] of France."
    steps = tokenization_steps(embedded.tokenizer, text)
    mask = next(w for w in steps.words if w.added)
    assert mask.pieces == ("[MASK]",) and text[mask.start:mask.end] == "[MASK]"
    assert "[MASK]" in steps.normalized and steps.normalized.startswith("paris")


@pytest.mark.parametrize("text", ["The cat sat on the mat.", "She loves cats  and dogs!", "I ❤️ 🍕!",
                                  "The bank <mask> flooded.", "Çà et là 東京"])
def test_byte_level_bpe_is_shown_as_the_tokenizer_makes_it(roberta_bpe, text):
    steps = _assert_reproduces(roberta_bpe, text)
    assert steps.algorithm == "bpe"
    assert "BPE" in steps.note and "Ġ" in steps.note
    assert all(a == () for a in (w.attempts for w in steps.words))
    assert all(text[w.start:w.end].strip() for w in steps.words if not w.word.startswith("Ġ"))


def test_byte_level_bpe_words_and_pieces(roberta_bpe):
    steps = tokenization_steps(roberta_bpe, "The cat sat")
    assert [(w.word, w.pieces) for w in steps.words] == [("The", ("The",)), ("Ġcat", ("Ġcat",)), ("Ġsat", ("Ġsat",))]
    assert steps.tokens == ("<s>", "The", "Ġcat", "Ġsat", "</s>")


def test_tiny_roberta_model_tokenizer(tiny_models):
    tokenizer = tiny_models["roberta"].tokenizer
    steps = _assert_reproduces(tokenizer, "The cat sat on the mat.")
    assert steps.algorithm == "bpe" and "BPE" in steps.note


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(embedded, text):
    with pytest.raises(InputError, match="Enter some text"):
        tokenization_steps(embedded.tokenizer, text)


@pytest.mark.parametrize("text", ["The cat <mask> sat.", "The cat   <mask>  sat.", "<mask>the"])
def test_lstrip_mask_swallows_the_space_before_it(tiny_dirs, text):
    """roberta-base's <mask> is lstrip: the tokenizer's piece includes the spaces before it."""
    directory = tiny_dirs["roberta"]
    mask = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)
    tokenizer = RobertaTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"),
                                 mask_token=mask)
    steps = _assert_reproduces(tokenizer, text)
    (word,) = [w for w in steps.words if w.added]
    assert text[word.start:word.end] == word.word and word.word.strip() == "<mask>"


def test_token_rows_trace_tokens_to_their_characters(embedded):
    result = analyze(embedded, "Unaffable café.", "Second text")
    rows = token_rows(result)
    assert [row.token for row in rows] == list(result.tokens)
    assert [row.id for row in rows] == result.input_ids.tolist()
    assert (rows[0].token, rows[0].word, rows[0].characters) == ("[CLS]", None, "")
    pieces = [row for row in rows if row.word == 0]
    assert [row.characters for row in pieces] == ["Una", "ffa", "ble"]
    assert {row.word_text for row in pieces} == {"Unaffable"} and rows[0].word_text == ""
    assert [row.characters for row in rows if row.segment == "B" and row.word is not None] == ["Second", "text"]
    assert rows[-1].token == "[SEP]" and rows[-1].segment == "B"


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_padded_input_adds_the_models_pad_token_under_a_zero_mask(tiny_models, family):
    tokenizer = tiny_models[family].tokenizer
    plain = tokenizer("Cats chase mice.")["input_ids"]
    padded = padded_input(tokenizer, "Cats chase mice.", extra=3)
    assert padded.ids.tolist() == plain + [tokenizer.pad_token_id] * 3
    assert padded.tokens[-3:] == (tokenizer.pad_token,) * 3
    assert padded.attention_mask.tolist() == [1] * len(plain) + [0] * 3


def test_over_long_words_are_unknown_without_look_ups(embedded):
    steps = tokenization_steps(embedded.tokenizer, "short " + "x" * 101)
    assert steps.max_word_chars == 100
    (long_word,) = [w for w in steps.words if len(w.word) == 101]
    assert long_word.unknown and not long_word.attempts and long_word.pieces == ("[UNK]",)


WORD_TEXTS = [("The unaffable clerk, sadly, left.", None), ("Paris is lovely.", "Antidisestablishmentarianism won.")]
"""One sentence and a pair; 'unaffable' and 'Antidisestablishmentarianism' break into several pieces in every
vocabulary here."""


def _words_of(encoding) -> dict[tuple, list[int]]:
    """The tokenizer's own reading: (text, word) -> its token positions; each special token alone."""
    found: dict[tuple, list[int]] = {}
    for position, (word, sequence) in enumerate(zip(encoding.word_ids(), encoding.sequence_ids())):
        found.setdefault(("special", position) if word is None else (sequence, word), []).append(position)
    return found


@pytest.mark.parametrize("family", ["offline", "bert", "distilbert", "roberta", "albert", "electra"])
@pytest.mark.parametrize("text, pair", WORD_TEXTS)
def test_word_groups_are_the_tokenizers_words(family, text, pair, tiny_models, offline):
    model = offline if family == "offline" else tiny_models[family]
    encoding = model.tokenizer(text, pair)
    expected = sorted(sorted(positions) for positions in _words_of(encoding).values())
    assert sorted(map(list, word_groups(encoding.word_ids(), encoding.sequence_ids()))) == expected
    analysis = analyze(model, text, pair)
    groups = word_groups(analysis.word_ids.tolist())
    assert sorted(map(list, groups)) == expected  # Analysis.word_ids counts across both texts: no sequence ids needed
    assert [pieces[0] for pieces in groups] == sorted(pieces[0] for pieces in groups)  # in order of first piece
    texts = (analysis.text, analysis.text_pair)
    words = {texts[analysis.segment_ids[p[0]]][slice(*word_span(analysis.offsets, p))].strip(): p
             for p in groups if analysis.word_ids[p[0]] >= 0}
    long = "unaffable" if pair is None else "Antidisestablishmentarianism"
    assert len(words[long]) > 1  # one word, several pieces

def test_word_groups_join_a_words_pieces_wherever_they_stand():
    assert word_groups([None, 0, 1, 0, None]) == ((0,), (1, 3), (2,), (4,))
    assert word_groups([-1, 0, 0, -1, 0, -1], [None, 0, 0, None, 1, None]) == ((0,), (1, 2), (3,), (4,), (5,))


def test_unknown_stretches_are_the_characters_read_as_unk(offline, tiny_models):
    from bad_inputs import MIXED_SCRIPTS
    from bertviz_core.tokenization import unknown_stretches

    analysis = analyze(offline, MIXED_SCRIPTS)
    assert unknown_stretches(analysis, offline.tokenizer.unk_token) == ("👋🏽", "晴")
    assert analysis.tokens.count("[UNK]") == 2
    roberta = tiny_models["roberta"]  # byte-level: every character has a piece
    assert unknown_stretches(analyze(roberta, MIXED_SCRIPTS), roberta.tokenizer.unk_token) == ()
