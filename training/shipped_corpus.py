"""The shipped sentence corpus: about 400 English sentences the offline masked-LM model never trained on.

    python training/shipped_corpus.py                  # uses training/work, like train_offline_mlm.py
    python training/shipped_corpus.py --work DIR

The app indexes these sentences by token embeddings ("where else does the model read *bank* like this?"), so they
must be text the offline model did not see: every sentence comes from a paragraph that `corpus.build` held out as
validation (one paragraph in `corpus.VALIDATION_EVERY`, by hash). The split is not recomputed here; the paragraphs
are read from the validation file that `corpus.build` writes, exactly as the training script does, and each is
labelled with the source that yielded it. Writes bertviz_core/corpus_data/held_out.tsv and SOURCES.md.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import pysbd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

REPO = HERE.parent
# Not imported from bertviz_core.loading: that would load torch and transformers just to name a folder.
METRICS = REPO / "bertviz_core" / "offline_mlm" / "metrics.json"
OUT = REPO / "bertviz_core" / "corpus_data"
TARGET = 400
SEED = 0
AMBIGUOUS_SHARE = 1 / 3
MIN_WORDS, MAX_WORDS = 6, 32
MAX_DIGITS = 4
# Words with several senses, so that a meaning search has contrasting uses to show; the computing ones (file,
# shell, root, ...) contrast the Debian and Jargon texts with the rest.
AMBIGUOUS = ("bank", "bat", "spring", "light", "right", "left", "play", "match", "rock", "fair", "bark", "seal",
             "current", "present", "interest", "park", "pitch", "arms", "bar", "bear", "bill", "bit", "board",
             "boot", "bow", "bowl", "bug", "capital", "card", "cell", "charge", "chip", "class", "club", "coach",
             "cold", "court", "crane", "date", "degree", "draft", "drive", "express", "fan", "field", "figure",
             "file", "fine", "fire", "firm", "fly", "free", "grave", "hard", "head", "host", "iron", "issue", "key",
             "lead", "letter", "mark", "mine", "model", "mouse", "net", "note", "object", "organ", "party",
             "patient", "plant", "plate", "pool", "port", "post", "pound", "press", "race", "record", "ring", "root",
             "ruler", "safe", "scale", "screen", "sentence", "share", "shell", "shot", "sign", "sink", "space",
             "spell", "stage", "star", "station", "stick", "stock", "story", "strike", "subject", "suit", "table",
             "term", "tie", "tip", "train", "trunk", "volume", "watch", "wave", "window")
AMBIGUOUS_WORD = re.compile(r"\b(?:%s)(?:s|es|ed|ing)?\b" % "|".join(AMBIGUOUS), re.I)
CODE_CHARS = set("{}<>|=_\\[]#@*~^`/")
URL = re.compile(r"https?:|www\.|\.(?:com|org|net|html?)\b", re.I)
# Left behind by markup removal (a template gone from between a space and a comma) or by layout: labels ("Q:",
# "Application: ..."), attributions ("--"), manual page references ("grep(1)"), sidebar titles ("IN PRACTICE").
ARTEFACT = re.compile(r"\s[,.;:!?)]|\(\s|\(\)|\b[A-Z]:|^(?:\S+ ){0,2}\S+:|--|\(\d\)|\b[A-Z]{2,} [A-Z]{2,}\b|&\w+;")
# A capitalised function word after a lower-case word: verse whose line breaks were joined into one line.
VERSE = re.compile(r"[a-z,;] (?:And|But|That|The|To|Of|In|With|For|Or|Is|Are|Was|Be|As|So|If|When|Where|Who|"
                   r"Which|What|Then|Than|Now|There|This|It|We|You|He|She|They|My|Your|Our|His|Her|Their|On|At|By|"
                   r"From|All|No|Not|Like|Can|Cannot|Will|Do)\b")
# Every English sentence of six words or more has one of these; a motto in French or Latin has none.
ENGLISH = re.compile(r"\b(?:the|a|an|is|are|was|were|be|of|to|and|or|in|on|at|it|not|no|you|i|we|he|she|they|for|"
                     r"with|as|by|this|that|can|will|do|if)\b", re.I)
# The app shows these sentences to any visitor, and a few fortunes joke about sex and women, and one held-out news
# story is about child prostitution: their whole paragraph goes, since a sentence can depend on the one before.
UNSUITABLE = re.compile(r"\b(?:sex\w*|slap\w*|rap(?:e|ed|es|ist)|prostitut\w*|pa?e?dophil\w*|pornograph\w*|"
                        r"nipple\w*|naked|nude|wom[ae]n|girls?|husbands?|wives|wife)\b", re.I)
MOJIBAKE = re.compile("[\x80-\x9f]")
# Sources whose sentences are not ordinary prose; the reason goes into SOURCES.md.
LEFT_OUT = {"pydoc": "its sentences are about code (identifiers in quotes such as \"'0b'\" and \"True\", "
                      "words hyphenated across lines), not ordinary prose."}


def training_files(work: Path) -> tuple[Path, Path]:
    """The train and validation files, built by `corpus.build` when missing (the training script's own rule)."""
    if not (work / "validation.txt").exists():
        corpus.build(work)
    check_same_corpus(work)
    return work / "train.txt", work / "validation.txt"


def check_same_corpus(work: Path) -> None:
    """Refuse a corpus other than the one the shipped model was trained on: the held-out split would not hold."""
    built = json.loads((work / "corpus.json").read_text("utf-8"))
    trained = json.loads(METRICS.read_text("utf-8"))["sources"]
    if built != trained:
        raise SystemExit(f"{work / 'corpus.json'} differs from the sources in {METRICS}: rebuild the work folder")


def labelled_paragraphs(root: Path, paragraphs: list[str]) -> list[tuple[str, str]]:
    """(source, paragraph) in file order; the first source yielding the text is the one `build` kept it for."""
    wanted = set(paragraphs)
    source_of: dict[str, str] = {}
    for source in corpus.SOURCES:
        for paragraph in source.read(root):
            if paragraph in wanted:
                source_of.setdefault(paragraph, source.name)
    return [(source_of[paragraph], paragraph) for paragraph in paragraphs]


def readable(text: str) -> str:
    """UTF-8 that was decoded as Latin-1 (corpus.py reads the Jargon File so) decoded again; other text as it is."""
    if not MOJIBAKE.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text  # the control characters remain, so `is_plain_sentence` rejects its sentences


def is_plain_sentence(sentence: str) -> bool:
    words = sentence.split()
    letters = [ch for ch in sentence if ch.isalpha()]
    return (MIN_WORDS <= len(words) <= MAX_WORDS
            and sentence[0].isupper() and sentence[-1] in ".!?"
            and not URL.search(sentence)
            and not CODE_CHARS & set(sentence)
            and sum(ch.isdigit() for ch in sentence) <= MAX_DIGITS
            and sum(ch.isupper() for ch in letters) < 0.3 * len(letters)
            and ENGLISH.search(sentence) is not None
            and not ARTEFACT.search(sentence) and not VERSE.search(sentence) and not MOJIBAKE.search(sentence)
            and sentence.count('"') % 2 == 0 and sentence.count("\u201c") == sentence.count("\u201d")
            and sentence.count("(") == sentence.count(")"))


def candidates(labelled: list[tuple[str, str]], training_text: str) -> tuple[dict[str, list[str]], int]:
    """Clean, distinct sentences of suitable paragraphs per source in file order, and how many were dropped for
    occurring in training."""
    segmenter = pysbd.Segmenter(language="en", clean=False)
    seen: set[str] = set()
    by_source: dict[str, list[str]] = {source.name: [] for source in corpus.SOURCES if source.name not in LEFT_OUT}
    collisions = 0
    for name, paragraph in labelled:
        if name in LEFT_OUT or UNSUITABLE.search(paragraph):
            continue
        for sentence in segmenter.segment(readable(paragraph)):
            sentence = " ".join(sentence.split())
            key = sentence.lower()
            if not sentence or key in seen or not is_plain_sentence(sentence):
                continue
            seen.add(key)
            # A held-out paragraph can repeat a sentence of a training one (a quotation, a boilerplate line).
            if key in training_text:
                collisions += 1
                continue
            by_source[name].append(sentence)
    return by_source, collisions


def quotas(sizes: dict[str, int], target: int) -> dict[str, int]:
    """An equal share for each source; what a small source cannot fill goes to the others."""
    quota = dict.fromkeys(sizes, 0)
    left = target
    while left > 0:
        open_ = [name for name in sizes if quota[name] < sizes[name]]
        if not open_:
            break
        share = max(1, left // len(open_))
        for name in open_:
            give = min(share, sizes[name] - quota[name], left)
            quota[name] += give
            left -= give
    return quota


def sample(sentences: list[str], size: int, rng: random.Random) -> list[str]:
    """`size` sentences, about a third with a word of several senses, returned in their original order."""
    ambiguous = [s for s in sentences if AMBIGUOUS_WORD.search(s)]
    plain = [s for s in sentences if not AMBIGUOUS_WORD.search(s)]
    rng.shuffle(ambiguous)
    rng.shuffle(plain)
    want = min(len(ambiguous), round(size * AMBIGUOUS_SHARE))
    chosen = set(ambiguous[:want] + plain[:size - want])
    chosen.update(ambiguous[want:want + size - len(chosen)])  # too few plain ones: fill with ambiguous
    return [s for s in sentences if s in chosen]


def write_tsv(picked: dict[str, list[str]]) -> None:
    lines = [f"{name}\t{sentence}" for name in sorted(picked) for sentence in picked[name]]
    (OUT / "held_out.tsv").write_text("\n".join(lines) + "\n", "utf-8")


def write_sources(picked: dict[str, list[str]]) -> None:
    by_name = {source.name: source for source in corpus.SOURCES}
    total = sum(map(len, picked.values()))
    lines = [
        "# Shipped corpus: sentences held out from the offline model's training", "",
        f"`held_out.tsv` holds {total} English sentences, one a line as `source<TAB>sentence` (UTF-8), sorted by "
        "source and then by their order in the source. The app indexes them by token embeddings to show other "
        "sentences where the model reads a word the same way.", "",
        "Every sentence comes from a paragraph held out from the training of the offline masked-LM model "
        f"(`bertviz_core/offline_mlm`): `training/corpus.py` holds out one paragraph in {corpus.VALIDATION_EVERY}, "
        "chosen by its hash, and only those validation paragraphs are used here. Sentences that also occur in a "
        "training paragraph are dropped. This is the training done by `training/train_offline_mlm.py`; the encoder "
        "it starts from, all-MiniLM-L6-v2, was pretrained by others on large public corpora that likely include "
        "English Wikipedia, so the wikipedia sentences may not be new to that base.", "",
        "Made by `training/shipped_corpus.py` (regenerate with `.venv/bin/python training/shipped_corpus.py`): "
        "the held-out paragraphs are split into sentences with pysbd 0.3.4, kept when they read as ordinary prose "
        f"({MIN_WORDS} to {MAX_WORDS} words, a capital first, ending in . ! or ?, no URL, no code or markup "
        f"characters, at most {MAX_DIGITS} digits, not in capitals; a paragraph with a word about sex, or about "
        "women as in some fortunes' jokes, is skipped; the Jargon File's UTF-8 punctuation, which corpus.py reads as "
        f"Latin-1, is decoded again), deduplicated, and sampled with seed {SEED}, "
        "balanced across sources, about a third containing a word of several senses (bank, spring, light, ...).",
        "", "| source | sentences | origin | licence |", "|---|---|---|---|",
    ]
    for name in sorted(picked):
        source = by_name[name]
        lines.append(f"| {name} | {len(picked[name])} | {source.origin} | {source.licence} |")
    for name, reason in LEFT_OUT.items():
        lines += ["", f"`{name}` is left out: {reason}"]
    (OUT / "SOURCES.md").write_text("\n".join(lines) + "\n", "utf-8")


def make(work: Path) -> dict[str, int]:
    train, validation = training_files(work)
    labelled = labelled_paragraphs(corpus.fetch(work), validation.read_text("utf-8").splitlines())
    training_lines = train.read_text("utf-8").splitlines()
    training_text = "\n".join(" ".join(readable(line).split()) for line in training_lines).lower()
    by_source, collisions = candidates(labelled, training_text)
    rng = random.Random(SEED)
    sizes = quotas({name: len(sentences) for name, sentences in by_source.items()}, TARGET)
    picked = {name: sample(by_source[name], sizes[name], rng) for name in sorted(by_source) if sizes[name]}
    OUT.mkdir(exist_ok=True)
    write_tsv(picked)
    write_sources(picked)
    return dict(dropped_as_in_training=collisions, **{name: len(s) for name, s in picked.items()})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(HERE / "work"), help="the training work folder (downloads, corpus)")
    print(json.dumps(make(Path(parser.parse_args().work)), indent=2))
