"""Two models compared: word vectors pooled from pieces, and CKA checked against a computation with explicit Gram
matrices."""

import numpy as np
import pytest

from bertviz_core import analyze
from bertviz_core.compare import compare_layers, layer_similarity, linear_cka, word_spans, word_vectors

SENTENCES = ["She loves unaffable cats.", "The bank of the river was flooded.", "I deposited money at the bank.",
             "Paris is the capital of France."]


def cka_by_hand(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """CKA from n x n Gram matrices: tr(KHLH) for the plain estimator, Song et al.'s unbiased HSIC for the other."""
    n = len(x)
    x, y = x - x.mean(0), y - y.mean(0)

    def hsic(k, l):
        if not debiased:
            h = np.eye(n) - np.ones((n, n)) / n
            return np.trace(k @ h @ l @ h)
        k, l = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
        one = np.ones(n)
        return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))

    k, l = x @ x.T, y @ y.T
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.mark.parametrize("debiased", [True, False])
def test_cka_equals_the_gram_matrix_computation(debiased):
    generator = np.random.default_rng(0)
    x = generator.normal(size=(40, 12))
    y = x @ generator.normal(size=(12, 7)) + 0.5 * generator.normal(size=(40, 7))
    assert linear_cka(x, y, debiased) == pytest.approx(cka_by_hand(x, y, debiased), rel=1e-9)
    rotation, _ = np.linalg.qr(generator.normal(size=(12, 12)))
    assert linear_cka(x, 3.0 * x @ rotation, debiased) == pytest.approx(1.0, abs=1e-9)


def test_plain_cka_of_unrelated_vectors_drifts_up_and_the_debiased_one_does_not():
    generator = np.random.default_rng(1)
    x, y = generator.normal(size=(30, 300)), generator.normal(size=(30, 300))
    assert linear_cka(x, y, debiased=False) > 0.8 and abs(linear_cka(x, y, debiased=True)) < 0.1


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_a_words_vector_is_the_mean_of_its_pieces(tiny_models, family):
    model = tiny_models[family]
    text = SENTENCES[0]
    vectors = word_vectors(model, [text])  # [L + 1, W, D]
    result = analyze(model, text)
    spans = word_spans(text)
    assert vectors.shape == (model.num_layers + 1, len(spans), result.hidden_states.shape[-1])
    for w, (start, end) in enumerate(spans):
        pieces = [n for n in range(result.num_tokens) if not result.special_mask[n]
                  and start < result.offsets[n, 1] <= end]
        np.testing.assert_allclose(vectors[:, w], result.hidden_states[:, pieces].mean(axis=1), atol=1e-4)


def test_a_model_compared_with_itself_has_ones_on_the_diagonal(offline, embedded):
    found = compare_layers(offline, offline, SENTENCES)
    assert found.cka.shape == (offline.num_layers + 1, offline.num_layers + 1)
    np.testing.assert_allclose(np.diag(found.cka), 1.0, atol=1e-5)
    assert found.words == sum(len(word_spans(s)) for s in SENTENCES) and found.sentences == 4
    other = compare_layers(offline, embedded, SENTENCES)
    assert other.cka.shape == (offline.num_layers + 1, embedded.num_layers + 1)
    a, b = word_vectors(offline, SENTENCES), word_vectors(embedded, SENTENCES)
    assert other.cka[3, 5] == pytest.approx(cka_by_hand(a[3].astype(float), b[5].astype(float), True), abs=1e-4)
    assert layer_similarity(a, b, 4, debiased=False).cka[3, 5] == pytest.approx(
        cka_by_hand(a[3].astype(float), b[5].astype(float), False), abs=1e-4)
