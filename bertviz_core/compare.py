"""Two models side by side: how alike their hidden states are, layer by layer, measured with CKA (Kornblith et al.
2019) on the vectors of the same words.

Tokenizers split words differently (WordPiece, BPE), so tokens cannot be matched one to one; words can. A word is a
run of letters and digits, or one other visible character, found in the text itself; each model's vector of a word
is the mean of its pieces whose character spans fall inside the word. With a few hundred vectors in 768 dimensions
plain CKA drifts towards 1 for any two layers, so the debiased estimator (the unbiased HSIC of Song et al. 2012,
as Nguyen et al. 2021 use it) is the default. Names: ``L_a``, ``L_b`` layers, ``N`` words, ``D`` hidden size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from .analysis import HoldsArrays, InputError, frozen_array, normalised_text
from .loading import LoadedModel
from .explain.target import Progress, batches

WORD = re.compile(r"\w+|[^\w\s]")
BATCH_SENTENCES = 16
MAX_WORDS = 2000
"""Words compared at most (the first sentences up to this many): debiased CKA is stable well before, and a
BERT-base-sized model's vectors of them at every layer take 80 MB while they are compared."""


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text``: runs of letters and digits, and single punctuation marks."""
    return [match.span() for match in WORD.finditer(text)]


def word_vectors(model: LoadedModel, sentences: list[str], progress: Progress | None = None) -> np.ndarray:
    """[L + 1, N, D] float32 every word of every sentence, the mean of its pieces at each layer (0 = embedding
    output); a word no piece of the model covers is NaN. Sentences run in batches, each under the model's lock."""
    texts = [normalised_text(model, sentence) for sentence in sentences]
    if not any(texts):
        raise InputError("Give at least one sentence to compare the models on.")
    found = []
    for rows in batches(len(texts), BATCH_SENTENCES, progress):
        encoding = model.tokenizer(texts[rows], padding=True, truncation=True, max_length=model.max_tokens,
                                   return_tensors="pt", return_offsets_mapping=True, return_special_tokens_mask=True)
        offsets, specials = encoding.pop("offset_mapping"), encoding.pop("special_tokens_mask")
        inputs = {name: encoding[name] for name in model.tokenizer.model_input_names if name in encoding}
        with model.lock, torch.inference_mode():
            hidden = torch.stack(model.encoder(**inputs, output_hidden_states=True).hidden_states, dim=1)
        for n, text in enumerate(texts[rows]):
            pieces = (encoding["attention_mask"][n] == 1) & (specials[n] == 0)  # [T]
            found.append(_pooled(hidden[n].numpy(), offsets[n].numpy(), pieces.numpy(), word_spans(text)))
    return np.concatenate(found, axis=1)


def _pooled(hidden: np.ndarray, offsets: np.ndarray, pieces: np.ndarray, spans) -> np.ndarray:
    """[L + 1, T, D] one sentence's states -> [L + 1, W, D] the mean over each word's pieces (NaN for none)."""
    pooled = np.full((hidden.shape[0], len(spans), hidden.shape[2]), np.nan, dtype=np.float32)
    for w, (start, end) in enumerate(spans):
        # A BPE piece's span may include the space before it; what counts is where its characters are.
        inside = pieces & (offsets[:, 1] > start) & (offsets[:, 1] <= end) & (offsets[:, 0] < end)
        if inside.any():
            pooled[:, w] = hidden[:, inside].mean(axis=1)
    return pooled


def _hsic(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """HSIC of the linear kernels K = x x^T and L = y y^T of centred [N, D] features, computed in feature space (no
    N x N matrix): the biased estimator tr(KL) / (N - 1)^2, or the unbiased one of Song et al. 2012."""
    n = x.shape[0]
    if not debiased:
        return float(np.sum((x.T @ y) ** 2)) / (n - 1) ** 2
    kx, ly = np.sum(x * x, axis=1), np.sum(y * y, axis=1)  # [N] the diagonals of K and L
    trace = float(np.sum((x.T @ y) ** 2) - kx @ ly)  # tr(K~ L~), K~ = K with its diagonal zeroed
    k_rows = x @ x.sum(axis=0) - kx  # [N] row sums of K~
    l_rows = y @ y.sum(axis=0) - ly
    k_sum, l_sum = float(k_rows.sum()), float(l_rows.sum())
    return (trace + k_sum * l_sum / ((n - 1) * (n - 2)) - 2.0 * float(k_rows @ l_rows) / (n - 2)) / (n * (n - 3))


def linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = True) -> float:
    """CKA of two [N, D_x] and [N, D_y] representations of the same N items; 1 for the same up to rotation and
    scale."""
    if len(x) < 4:
        raise InputError("CKA needs at least 4 shared words.")
    # Centred first, as in Kornblith et al.'s reference code: the biased estimator then needs no centring matrix.
    x, y = (np.asarray(v, dtype=np.float64) - np.mean(v, axis=0) for v in (x, y))
    return _hsic(x, y, debiased) / np.sqrt(_hsic(x, x, debiased) * _hsic(y, y, debiased))


@dataclass(frozen=True, eq=False)
class LayerSimilarity(HoldsArrays):
    """How alike two models' hidden states are, every layer of one against every layer of the other."""

    cka: np.ndarray
    """[L_a + 1, L_b + 1] float32; row and column 0 are the embedding outputs."""
    words: int
    """Words both models cover, over which CKA is computed."""
    sentences: int
    debiased: bool


def layer_similarity(a: np.ndarray, b: np.ndarray, sentences: int, debiased: bool = True) -> LayerSimilarity:
    """CKA between every layer of ``a`` [L_a + 1, N, D_a] and of ``b`` [L_b + 1, N, D_b] (``word_vectors`` of the
    same sentences), over the words both cover."""
    shared = ~(np.isnan(a).any(axis=(0, 2)) | np.isnan(b).any(axis=(0, 2)))  # [N]
    a, b = a[:, shared], b[:, shared]
    cka = np.array([[linear_cka(x, y, debiased) for y in b] for x in a])
    return LayerSimilarity(cka=frozen_array(cka), words=int(shared.sum()), sentences=sentences, debiased=debiased)


def compare_layers(model_a: LoadedModel, model_b: LoadedModel, sentences: list[str], debiased: bool = True,
                   progress: Progress | None = None) -> LayerSimilarity:
    """CKA between every layer of two models over the words of the first ``sentences`` (up to ``MAX_WORDS``)."""
    chosen = _up_to_max_words([s for s in sentences if s.strip()])
    total = 2 * len(chosen)
    a = word_vectors(model_a, chosen, progress and (lambda done, _: progress(done, total)))
    b = word_vectors(model_b, chosen, progress and (lambda done, _: progress(len(chosen) + done, total)))
    return layer_similarity(a, b, len(chosen), debiased)


def _up_to_max_words(sentences: list[str]) -> list[str]:
    chosen, words = [], 0
    for sentence in sentences:
        if words >= MAX_WORDS:
            break
        chosen.append(sentence)
        words += len(word_spans(sentence))
    return chosen
