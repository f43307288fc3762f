"""A corpus as sentences: read from a text file, one sentence per line or prose split by a sentence splitter, with
an optional label per line (``label<TAB>sentence``) that the corpus views group by."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..analysis import InputError

SPLITS = ("lines", "prose")


@dataclass(frozen=True)
class Sentences:
    """The corpus, in order: sentence id n is ``texts[n]``, labelled ``labels[n]`` ("" when unlabelled)."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def checksum(self) -> str:
        """Names this exact corpus: the same sentences and labels in the same order give the same checksum."""
        return hashlib.sha256(json.dumps([self.texts, self.labels]).encode()).hexdigest()

    def part(self, start: int, stop: int) -> Sentences:
        return Sentences(self.texts[start:stop], self.labels[start:stop])


def read_sentences(path: str | Path, split: str = "lines", labels: bool = False) -> Sentences:
    """The sentences of a UTF-8 text file. ``split="lines"``: each non-blank line is a sentence; ``"prose"``:
    paragraphs are cut into sentences by pySBD. With ``labels``, each line is ``label<TAB>text``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a file.")
    return sentences_of(path.read_bytes(), str(path), split, labels)


def sentences_of(data: bytes, name: str, split: str = "lines", labels: bool = False) -> Sentences:
    """The sentences of a text file's bytes (``name`` is what error messages call it): the one reading of a corpus
    file, on this machine or in a Ray task."""
    if split not in SPLITS:
        raise InputError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    pairs = [_labelled(line, number) if labels else ("", line) for number, line in _text_lines(data, name)]
    if split == "prose":
        pairs = [(label, sentence) for label, text in pairs for sentence in _prose_sentences(text)]
    if not pairs:
        raise InputError(f"{name} holds no sentences.")
    return Sentences(tuple(text for _, text in pairs), tuple(label for label, _ in pairs))


def _text_lines(data: bytes, path: str) -> list[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line; binary or empty text is an InputError."""
    if b"\0" in data:
        raise InputError(f"{path} is a binary file, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text (byte {error.start}).") from None
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError(f"{path} is empty.")
    return lines


def _labelled(line: str, number: int) -> tuple[str, str]:
    label, tab, text = line.partition("\t")
    if not tab or not label.strip() or not text.strip():
        raise InputError(f"Line {number} is not 'label<TAB>sentence': {line[:60]!r}")
    return label.strip(), text.strip()


def _prose_sentences(paragraph: str) -> list[str]:
    return [sentence.strip() for sentence in _segmenter().segment(paragraph) if sentence.strip()]


@functools.cache
def _segmenter():
    """pySBD's rule-based English splitter ("Mr. Smith", "3 p.m." and "e.g." do not end sentences), made once."""
    import pysbd  # only prose needs it

    return pysbd.Segmenter(language="en", clean=False)
