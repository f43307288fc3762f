"""The offline training corpus: English prose that installs from the package registries.

Every source is fetched with the ordinary client (pip or apt-get), unpacked into a work folder and turned into
paragraphs of plain text. `SOURCES` records where each text comes from and under which licence.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import html
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

GENSIM_WHEEL = "gensim==4.4.0"
DEBIAN_PACKAGES = ("fortunes", "fortunes-min", "jargon-text", "debian-handbook", "debian-reference-en")
MIN_WORDS = 8
VALIDATION_EVERY = 50  # one paragraph in 50 (chosen by its hash, so stable across runs) is held out


@dataclass(frozen=True)
class Source:
    name: str
    origin: str
    licence: str
    read: Callable[[Path], Iterator[str]]


def fetch(work: Path) -> Path:
    """Download and unpack every source package into work/unpacked (skipped when already there)."""
    unpacked = work / "unpacked"
    if (unpacked / ".done").exists():
        return unpacked
    downloads = work / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", GENSIM_WHEEL, "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.11", "-d", str(downloads), "-q"], check=True)
    subprocess.run(["apt-get", "download", *DEBIAN_PACKAGES], check=True, cwd=downloads)
    unpacked.mkdir(exist_ok=True)
    for deb in downloads.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    for wheel in downloads.glob("gensim-*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith("gensim/test/test_data/")]
            archive.extractall(unpacked, members)
    (unpacked / ".done").touch()
    return unpacked


def _blocks(text: str) -> Iterator[str]:
    """Paragraphs separated by blank lines, each joined onto one line."""
    for block in re.split(r"\n\s*\n", text):
        yield " ".join(block.split())


_WIKI_DROP = [
    re.compile(r"<ref[^>]*/>"), re.compile(r"<ref.*?</ref>", re.S), re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\[\[(?:File|Image|Category):[^\]]*\]\]"), re.compile(r"<[^>]+>"),
]
_WIKI_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}|\{\|[^{}]*?\|\}", re.S)
_WIKI_LINK = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]")
_WIKI_URL = re.compile(r"\[https?://\S+ ?([^\]]*)\]")


def _wiki_text(markup: str) -> str:
    markup = html.unescape(markup)
    previous = None
    while previous != markup:  # templates nest: strip the innermost until none is left
        previous, markup = markup, _WIKI_TEMPLATE.sub("", markup)
    for pattern in _WIKI_DROP:
        markup = pattern.sub("", markup)
    markup = _WIKI_URL.sub(r"\1", _WIKI_LINK.sub(r"\1", markup))
    markup = markup.replace("'''", "").replace("''", "")
    lines = [line for line in markup.splitlines() if line and line[0] not in "=*#|!{}:;"]
    return "\n".join(lines)


def read_wikipedia(root: Path) -> Iterator[str]:
    path = root / "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    xml = bz2.decompress(path.read_bytes()).decode("utf-8")
    for article in re.findall(r"<text[^>]*>(.*?)</text>", xml, re.S):
        for line in _wiki_text(article).splitlines():
            yield " ".join(line.split())


def read_lee(root: Path) -> Iterator[str]:
    yield from (root / "gensim/test/test_data/lee_background.cor").read_text("utf-8", "replace").splitlines()


def read_fortunes(root: Path) -> Iterator[str]:
    for path in sorted((root / "usr/share/games/fortunes").iterdir()):
        if path.suffix or path.is_symlink() or not path.is_file():
            continue  # .dat indexes and .u8 links duplicate the plain files
        for fortune in path.read_text("utf-8", "replace").split("\n%\n"):
            yield " ".join(fortune.split())


def read_jargon(root: Path) -> Iterator[str]:
    text = gzip.decompress((root / "usr/share/doc/jargon-text/jargon.txt.gz").read_bytes()).decode("latin-1")
    yield from _blocks(text)


_HANDBOOK_PARAGRAPH = re.compile(r'<(?:p|div class="para")[^>]*>(.*?)</(?:p|div)>', re.S)


def read_handbook(root: Path) -> Iterator[str]:
    for path in sorted((root / "usr/share/doc/debian-handbook/html/en-US").glob("*.html")):
        for paragraph in _HANDBOOK_PARAGRAPH.findall(path.read_text("utf-8", "replace")):
            yield " ".join(html.unescape(re.sub(r"<[^>]+>", "", paragraph)).split())


def read_reference(root: Path) -> Iterator[str]:
    path = root / "usr/share/debian-reference/debian-reference.en.txt.gz"
    yield from _blocks(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))


def read_pydoc(_root: Path) -> Iterator[str]:
    from pydoc_data.topics import topics

    for text in topics.values():
        yield from _blocks(text)


SOURCES = (
    Source("wikipedia", "gensim 4.4.0 wheel (PyPI), test/test_data/enwiki-...-shortened.bz2",
           "CC BY-SA 3.0 (Wikipedia text)", read_wikipedia),
    Source("lee-news", "gensim 4.4.0 wheel (PyPI), test/test_data/lee_background.cor",
           "distributed with gensim under LGPL-2.1 (news excerpts of the Lee et al. 2005 corpus)", read_lee),
    Source("fortunes", "Debian packages fortunes, fortunes-min", "BSD-3-Clause (fortune-mod)", read_fortunes),
    Source("jargon", "Debian package jargon-text (The Jargon File 4.4.7)", "public domain", read_jargon),
    Source("debian-handbook", "Debian package debian-handbook (en-US HTML)", "GPL-2.0+ or CC BY-SA 3.0",
           read_handbook),
    Source("debian-reference", "Debian package debian-reference-en (plain text)", "GPL-2.0+", read_reference),
    Source("pydoc", "CPython's pydoc_data.topics (standard library)", "PSF-2.0", read_pydoc),
)


def is_prose(paragraph: str) -> bool:
    """Sentences rather than code, tables or lists: enough words, mostly letters, some lower case."""
    words = paragraph.split()
    if len(words) < MIN_WORDS:
        return False
    letters = sum(ch.isalpha() or ch == " " for ch in paragraph)
    return letters / len(paragraph) > 0.8 and any(ch.islower() for ch in paragraph)


def build(work: Path) -> dict:
    """Clean, deduplicated paragraphs split into train/validation, written as JSON lines; returns the stats."""
    root = fetch(work)
    seen: set[str] = set()
    splits = {"train": [], "validation": []}
    stats = {}
    for source in SOURCES:
        kept = words = 0
        for paragraph in source.read(root):
            key = hashlib.sha1(" ".join(paragraph.lower().split()).encode()).hexdigest()
            if not is_prose(paragraph) or key in seen:
                continue
            seen.add(key)
            split = "validation" if int(key, 16) % VALIDATION_EVERY == 0 else "train"
            splits[split].append(paragraph)
            kept += 1
            words += len(paragraph.split())
        stats[source.name] = dict(origin=source.origin, licence=source.licence, paragraphs=kept, words=words)
    for split, paragraphs in splits.items():
        (work / f"{split}.txt").write_text("\n".join(paragraphs) + "\n", "utf-8")
    (work / "corpus.json").write_text(json.dumps(stats, indent=2), "utf-8")
    return stats


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1] if len(sys.argv) > 1 else "training/work")), indent=2))
