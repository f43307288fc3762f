"""Meaning in the hidden states: one word across sentences and sentence embeddings.

Names as in ``analysis``: ``L`` layers, ``T`` tokens, ``D`` hidden size, ``V`` vocabulary size; ``N`` sentences
(or occurrences). Every array returned is a read-only float32 numpy copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np
import torch

from .analysis import Analysis, InputError, frozen_array, most_likely
from .loading import LoadedModel
from .vectors import cosine_similarity, pca

POOLINGS = ("mean", "cls")


# ---------------------------------------------------------------------------------------------
# One word in several sentences
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    sentence: int
    """0-based index into the sentences given."""
    text: str
    """The word as written in that sentence (its case may differ from the word searched for)."""
    token_indices: tuple[int, ...]
    """Every piece of the word, in order."""
    segment: int = 0
    """0 when the word is in the sentence, 1 when it is in the second text of a pair."""
    sense: str | None = None
    """The sense the sentence was labelled with ('river', 'money'), if it was."""


@dataclass(frozen=True, eq=False)
class SenseGap:
    """Similarity within a sense against similarity across senses, at every step of ``WordAcrossSentences``
    (token row, input to layer 1, each layer): every pair of occurrences drifts apart with depth, so falling
    similarity alone says nothing about meaning; what separates senses is the gap between the two."""

    same: np.ndarray
    """[L + 2] mean cosine similarity of the pairs labelled with the same sense."""
    different: np.ndarray
    """[L + 2] mean cosine similarity of the pairs labelled with different senses."""
    same_pairs: int
    different_pairs: int

    @property
    def gap(self) -> np.ndarray:
        """[L + 2] same minus different: 0 where the vectors do not tell the senses apart."""
        return self.same - self.different

    @property
    def widest(self) -> int:
        """The step (index into ``gap``) where the senses are furthest apart."""
        return int(np.argmax(self.gap))


@dataclass(frozen=True, eq=False)
class WordAcrossSentences:
    """How one word's vector changes with its context, layer by layer.

    At layer 0 (the embedding output, before any attention) a vector depends only on the word's pieces, its
    position and its segment: two occurrences at the same position are identical (similarity exactly 1), and at
    different positions they differ only through the position embeddings (and the LayerNorm that follows),
    so layer-0 similarity is high but not exactly 1. Differences caused by the meaning of the surrounding
    words can only appear from layer 1 on.
    """

    word: str
    occurrences: tuple[Occurrence, ...]
    """[N] the first occurrence in each sentence that has the word."""
    vectors: np.ndarray
    """[N, L + 1, D] mean of the word's pieces' hidden states at each layer."""
    token_similarity: np.ndarray
    """[N, N] cosine similarity of the occurrences' token-embedding rows (mean over pieces), before positions are
    added: exactly 1 for the same pieces, whatever the sentence."""
    similarity: np.ndarray
    """[L + 1, N, N] cosine similarity between occurrences at each layer."""
    pca: np.ndarray
    """[N, L + 1, 2] all N * (L + 1) vectors projected on their two main directions: one path per occurrence."""

    @property
    def steps(self) -> np.ndarray:
        """[L + 2, N, N] the token-row similarity, then ``similarity``: every step the page plots."""
        return np.concatenate([self.token_similarity[None], self.similarity])

    def same_input(self) -> list[tuple[int, int]]:
        """Pairs (i, j), i < j, whose pieces stand at the same positions of the same segment: their inputs to
        layer 1 are the same vector, so their similarity there is exactly 1."""
        spots = [(o.token_indices, o.segment) for o in self.occurrences]
        return [(i, j) for i, j in combinations(range(len(spots)), 2) if spots[i] == spots[j]]

    def sense_gap(self) -> SenseGap | None:
        """Within-sense against across-sense similarity; None unless some pair shares a sense and some pair does
        not (only labelled occurrences count)."""
        senses = [o.sense for o in self.occurrences]
        labelled = [(i, j) for i, j in combinations(range(len(senses)), 2) if senses[i] and senses[j]]
        same = [(i, j) for i, j in labelled if senses[i] == senses[j]]
        different = [(i, j) for i, j in labelled if senses[i] != senses[j]]
        if not same or not different:
            return None
        steps = self.steps  # [L + 2, N, N]
        mean = lambda pairs: steps[:, [i for i, _ in pairs], [j for _, j in pairs]].mean(axis=1)  # noqa: E731
        return SenseGap(same=frozen_array(mean(same)), different=frozen_array(mean(different)),
                        same_pairs=len(same), different_pairs=len(different))


def find_word(analysis: Analysis, word: str) -> tuple[int, ...]:
    """Token indices of the first whole-word occurrence of ``word``, case-insensitively; () if absent.

    Matches the original text (``text``, then ``text_pair``) and maps the match back through the token offsets,
    so 'bank' finds 'Bank' and a word split into several pieces returns all of them. A match in text cut off by
    truncation has no tokens and is skipped.
    """
    word = word.strip()
    if not word:
        return ()
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
    texts = [(analysis.text, 0)] + ([(analysis.text_pair, 1)] if analysis.text_pair else [])
    for text, segment in texts:
        for match in pattern.finditer(text):
            indices = _tokens_in_span(analysis, segment, match.start(), match.end())
            if indices:
                return indices
    return ()


def _tokens_in_span(analysis: Analysis, segment: int, start: int, end: int) -> tuple[int, ...]:
    """Non-special tokens of ``segment`` whose character span overlaps [start, end)."""
    starts, ends = analysis.offsets[:, 0], analysis.offsets[:, 1]  # [T], [T]
    inside = (~analysis.special_mask) & (analysis.segment_ids == segment) & (starts < end) & (ends > start)
    return tuple(int(i) for i in np.flatnonzero(inside))


def word_across_sentences(analyses: list[Analysis], word: str,
                          senses: Sequence[str | None] | None = None) -> WordAcrossSentences:
    """Follow ``word`` through every layer in each analysed sentence that contains it (at least two must); the
    analyses come from ``analyze_many`` (or the app's cached runs), one per sentence, in order. ``senses``, one
    per sentence (None where unlabelled), lets ``sense_gap`` compare pairs within and across senses."""
    word = word.strip()
    if not word:
        raise InputError("Enter a word to follow across the sentences.")
    if len(analyses) < 2:
        raise InputError(f"Enter at least two sentences to compare '{word}' across.")
    found = [find_word(analysis, word) for analysis in analyses]
    missing = [n for n, indices in enumerate(found) if not indices]
    if len(analyses) - len(missing) < 2:
        listed = ", ".join(f"{n + 1} ({analyses[n].text!r})" for n in missing)
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"'{word}' must appear in at least two sentences; it is not in sentence{plural} {listed}.")
    senses = list(senses) if senses is not None else [None] * len(analyses)
    occurrences = tuple(_occurrence(n, analyses[n], indices, senses[n]) for n, indices in enumerate(found) if indices)
    vectors = np.stack([analyses[o.sentence].hidden_states[:, list(o.token_indices)].mean(axis=1)
                        for o in occurrences])  # [N, L+1, D]
    similarity = np.stack([cosine_similarity(vectors[:, layer]) for layer in range(vectors.shape[1])])  # [L+1, N, N]
    rows = np.stack([analyses[o.sentence].token_embeddings[list(o.token_indices)].mean(axis=0)
                     for o in occurrences])  # [N, E]
    return WordAcrossSentences(word=word, occurrences=occurrences, vectors=frozen_array(vectors),
                               token_similarity=frozen_array(cosine_similarity(rows)),
                               similarity=frozen_array(similarity), pca=frozen_array(_pca_paths(vectors)))


def _occurrence(sentence: int, analysis: Analysis, indices: tuple[int, ...], sense: str | None) -> Occurrence:
    start, end = analysis.offsets[indices[0], 0], analysis.offsets[indices[-1], 1]
    segment = int(analysis.segment_ids[indices[0]])
    text = analysis.text_pair if segment else analysis.text
    return Occurrence(sentence=sentence, text=text[start:end], token_indices=indices, segment=segment,
                      sense=sense or None)


def _pca_paths(vectors: np.ndarray) -> np.ndarray:
    """[N, L+1, D] -> [N, L+1, 2]: all vectors projected together on their two main directions."""
    n, layers, d = vectors.shape
    return pca(vectors.reshape(n * layers, d), components=2).coords.reshape(n, layers, 2)


Reading = tuple[tuple[str, float], ...]
"""The k vocabulary entries the masked-LM head reads from one vector, best first, with their probabilities."""


def nearest_words(model: LoadedModel, vector_at_layer: np.ndarray, k: int = 10) -> Reading:
    """The ``k`` vocabulary entries the masked-LM head reads from one hidden vector [D], with probabilities.

    The head was trained on last-layer vectors only; applied to an earlier layer it is a 'logit lens' reading:
    suggestive, not what the model itself would predict there.
    """
    return read_as_words(model, np.asarray(vector_at_layer).reshape(1, -1), k)[0]


def read_as_words(model: LoadedModel, vectors: np.ndarray, k: int = 10) -> tuple[Reading, ...]:
    """``nearest_words`` for each row of [M, D] vectors, in one pass through the head."""
    if not model.has_mlm_head:
        raise ValueError(f"{model.name} has no trained masked-LM head, so its vectors cannot be read as words.")
    rows = np.array(vectors, dtype=np.float32)  # [M, D], a writable copy for torch
    if rows.ndim != 2 or rows.shape[1] != model.config.hidden_size:
        raise ValueError(f"Expected vectors of size {model.config.hidden_size}, got shape {rows.shape}.")
    with model.lock, torch.inference_mode():
        probs, best = most_likely(model.mlm_logits(torch.from_numpy(rows)).float(), k)  # [M, V], [M, k]
    chosen = probs.gather(-1, best).tolist()  # [M, k]
    return tuple(tuple(zip(model.tokenizer.convert_ids_to_tokens(ids), row)) for ids, row in zip(best.tolist(), chosen))


def occurrence_readings(model: LoadedModel, word: WordAcrossSentences, k: int = 8) -> tuple[tuple[Reading, ...], ...]:
    """[N][L + 1] what the masked-LM head reads from each occurrence's vector at every layer, in one pass."""
    n, layers, d = word.vectors.shape
    readings = read_as_words(model, word.vectors.reshape(n * layers, d), k)
    return tuple(readings[i * layers:(i + 1) * layers] for i in range(n))


def labelled_lines(text: str) -> tuple[tuple[str | None, str], ...]:
    """'label: sentence' lines -> (label, sentence); a line without a colon has no label (None), blank lines are
    skipped. A sentence that has a colon of its own needs a label in front of it."""
    return tuple(_labelled(line.strip()) for line in text.splitlines() if line.strip())


def _labelled(line: str) -> tuple[str | None, str]:
    label, colon, sentence = line.partition(":")
    return (label.strip() or None, sentence.strip()) if colon else (None, line)


# ---------------------------------------------------------------------------------------------
# Sentence embeddings
# ---------------------------------------------------------------------------------------------


def sentence_embeddings(analyses: list[Analysis], pooling: str = "mean") -> np.ndarray:
    """[N, D] one vector per analysed sentence, from the last layer.

    'mean' averages the non-special tokens; 'cls' takes the first token ([CLS] or <s>). Note that
    sentence-transformers' own mean pooling also averages [CLS] and [SEP], so its vectors differ slightly.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    if not analyses:
        raise InputError("Enter at least one sentence.")
    return frozen_array(np.stack([_pool(analysis, pooling) for analysis in analyses]))


def _pool(analysis: Analysis, pooling: str) -> np.ndarray:
    last = analysis.hidden_states[-1]  # [T, D]
    if pooling == "cls":
        return last[0]
    words = ~analysis.special_mask  # [T]
    return last[words].mean(axis=0) if words.any() else last.mean(axis=0)


def similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, N] cosine similarity: symmetric, ones on the diagonal."""
    return cosine_similarity(embeddings)
