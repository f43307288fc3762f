import numpy as np
import pytest
import torch

from bertviz_core import InputError, analyze, analyze_many
from bertviz_core.classifier import classify, train_head
from bertviz_core.meaning import (find_word, labelled_lines, nearest_words, occurrence_readings, sentence_embeddings,
                                  similarity_matrix, word_across_sentences)

BANK = ["I sat on the bank of the river.", "I deposited money at the bank.", "The bank raised interest rates."]
POSITIVE = ["I loved this film.", "A wonderful, moving story.", "Brilliant acting and a great script.",
            "One of the best movies this year.", "Delightful and funny from start to finish.",
            "I enjoyed every minute."]
NEGATIVE = ["I hated this film.", "A dull, boring mess.", "Terrible acting and an awful script.",
            "One of the worst movies this year.", "Tedious and painful from start to finish.",
            "I regretted every minute."]


@pytest.fixture(scope="module")
def bank(embedded):
    return word_across_sentences(analyze_many(embedded, BANK), "bank")


def test_word_found_in_every_sentence(bank, embedded):
    assert [o.sentence for o in bank.occurrences] == [0, 1, 2]
    assert all(o.text == "bank" for o in bank.occurrences)
    layers = embedded.num_layers + 1
    assert bank.vectors.shape == (3, layers, embedded.config.hidden_size)
    assert bank.similarity.shape == (layers, 3, 3)
    assert bank.pca.shape == (3, layers, 2)
    for array in (bank.vectors, bank.similarity, bank.pca):
        assert array.dtype == np.float32 and not array.flags.writeable


def test_similarity_is_symmetric_with_unit_diagonal(bank):
    np.testing.assert_allclose(bank.similarity, bank.similarity.transpose(0, 2, 1), atol=1e-7)
    np.testing.assert_allclose(np.diagonal(bank.similarity, axis1=1, axis2=2), 1.0, atol=1e-6)


def test_context_separates_river_bank_from_money_bank(bank):
    river_money = bank.similarity[:, 0, 1]  # [L+1]
    # Layer 0: same token at positions 5 and 6, so close but not identical; context pulls them apart later.
    assert 0.9 < river_money[0] < 1.0
    assert river_money[-1] < river_money[0]
    # Before positions are added, the token-embedding rows of every "bank" are one and the same row.
    np.testing.assert_allclose(bank.token_similarity, 1.0, atol=1e-6)


def test_vectors_are_mean_hidden_states_of_the_pieces(bank, embedded):
    for occurrence, vectors in zip(bank.occurrences, bank.vectors):
        hidden = analyze(embedded, BANK[occurrence.sentence]).hidden_states  # [L+1, T, D]
        expected = hidden[:, list(occurrence.token_indices)].mean(axis=1)
        np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_pca_is_the_centred_svd_projection(bank):
    points = bank.vectors.reshape(-1, bank.vectors.shape[-1]).astype(np.float64)
    centred = points - points.mean(axis=0)
    _, singular, _ = np.linalg.svd(centred, full_matrices=False)
    coords = bank.pca.reshape(-1, 2).astype(np.float64)
    # Projection on the first two directions keeps exactly their variance, and the two axes are uncorrelated.
    np.testing.assert_allclose(np.linalg.norm(coords, axis=0), singular[:2], rtol=1e-4)
    assert abs(coords[:, 0] @ coords[:, 1]) < 1e-3 * singular[0] * singular[1]


def test_identical_position_gives_identical_layer_zero_vectors(embedded):
    result = word_across_sentences(analyze_many(embedded, ["The bank is open.", "The bank is closed."]), "bank")
    assert result.similarity[0, 0, 1] == pytest.approx(1.0, abs=1e-6)
    assert result.similarity[-1, 0, 1] < 1.0


def test_find_word_returns_every_piece_case_insensitively(embedded):
    assert embedded.tokenizer.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    result = analyze(embedded, "The UnAffable clerk smiled.")
    indices = find_word(result, "unaffable")
    assert indices == (2, 3, 4)
    assert [result.tokens[i] for i in indices] == ["una", "##ffa", "##ble"]
    assert find_word(analyze(embedded, "Bank holidays are fun."), "BANK") == (1,)
    assert find_word(result, "clerks") == () and find_word(result, "aff") == ()


def test_find_word_searches_the_pair_and_the_first_occurrence(embedded):
    result = analyze(embedded, "Cats sleep.", "The bank and the bank.")
    first = find_word(result, "bank")
    assert len(first) == 1 and result.segment_ids[first[0]] == 1
    assert first[0] == result.tokens.index("bank")


def test_occurrence_text_keeps_the_sentences_spelling(embedded):
    result = word_across_sentences(analyze_many(embedded, ["Bank of England.", "The river bank."]), "bank")
    assert [o.text for o in result.occurrences] == ["Bank", "bank"]


def test_word_in_fewer_than_two_sentences_is_an_input_error(embedded):
    with pytest.raises(InputError, match=r"sentences 2 .*3 "):
        word_across_sentences(analyze_many(embedded, ["The bank is here.", "Cats sleep.", "Dogs bark."]),
                              "bank")
    with pytest.raises(InputError, match="at least two sentences"):
        word_across_sentences(analyze_many(embedded, ["The bank is here."]), "bank")
    with pytest.raises(InputError):
        word_across_sentences(analyze_many(embedded, BANK), "  ")


def test_nearest_words_equals_the_mlm_head(tiny_models):
    model = tiny_models["bert"]
    vector = analyze(model, "The bank of the river.").hidden_states[-1, 2]  # [D]
    result = nearest_words(model, vector, k=5)
    with torch.no_grad():
        probs = model.mlm_logits(torch.from_numpy(vector.copy())[None])[0].softmax(-1)
    best = probs.topk(5)
    assert [token for token, _ in result] == model.tokenizer.convert_ids_to_tokens(best.indices.tolist())
    np.testing.assert_allclose([p for _, p in result], best.values.numpy(), rtol=1e-5)


@pytest.mark.parametrize("family", ["distilbert", "roberta", "albert", "electra"])
def test_nearest_words_works_for_every_layout(tiny_models, family):
    model = tiny_models[family]
    vector = analyze(model, "The cat sat.").hidden_states[1, 1]
    result = nearest_words(model, vector, k=3)
    assert len(result) == 3 and all(a[1] >= b[1] for a, b in zip(result, result[1:]))


def test_nearest_words_needs_a_head(embedded, bank):
    with pytest.raises(ValueError, match="masked-LM head"):
        nearest_words(embedded, bank.vectors[0, -1])


def test_similarity_matrix_is_symmetric_with_ones_on_diagonal():
    vectors = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    vectors[3] = 0  # a zero vector must not give NaN
    sim = similarity_matrix(vectors)
    assert sim.shape == (5, 5) and sim.dtype == np.float32 and not np.isnan(sim).any()
    np.testing.assert_array_equal(sim, sim.T)
    np.testing.assert_array_equal(np.diag(sim), 1.0)
    unit = vectors[:2] / np.linalg.norm(vectors[:2], axis=1, keepdims=True)
    assert sim[0, 1] == pytest.approx(float(unit[0] @ unit[1]), abs=1e-6)


def test_sentence_embeddings_mean_and_cls(embedded):
    sentences = ["A cat sat on the mat.", "Stocks fell sharply today."]
    mean = sentence_embeddings(analyze_many(embedded, sentences))
    cls = sentence_embeddings(analyze_many(embedded, sentences), pooling="cls")
    assert mean.shape == cls.shape == (2, embedded.config.hidden_size) and mean.dtype == np.float32
    for row, sentence in enumerate(sentences):
        result = analyze(embedded, sentence)
        last = result.hidden_states[-1]
        np.testing.assert_allclose(mean[row], last[~result.special_mask].mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(cls[row], last[0], atol=1e-6)
    with pytest.raises(ValueError):
        sentence_embeddings(analyze_many(embedded, sentences), pooling="max")
    with pytest.raises(InputError):
        sentence_embeddings(analyze_many(embedded, ["ok", " "]))


def test_similar_sentences_are_closer(embedded):
    sentences = ["A cat sat on the mat.", "A kitten rested on the rug.", "Stocks fell sharply today."]
    sim = similarity_matrix(sentence_embeddings(analyze_many(embedded, sentences)))
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[1, 2]


def test_head_learns_sentiment_on_frozen_embeddings(embedded):
    embeddings = sentence_embeddings(analyze_many(embedded, POSITIVE + NEGATIVE))
    labels = ["positive"] * 6 + ["negative"] * 6
    head = train_head(embeddings, labels)
    assert head.labels == ("positive", "negative") and head.pooling == "mean"
    assert head.weight.shape == (2, embedded.config.hidden_size) and head.bias.shape == (2,)
    assert head.losses.shape == (300,) and head.losses[-1] < head.losses[0] / 10
    assert head.train_accuracy == 1.0
    probs = classify(head, embeddings)
    assert probs.shape == (12, 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert [head.labels[i] for i in probs.argmax(axis=1)] == labels
    unseen = classify(head, sentence_embeddings(analyze_many(embedded, ["What a fantastic, heartwarming film.",
                                                                        "An awful, boring waste of time."])))
    assert unseen[0, 0] > 0.5 > unseen[1, 0]


def test_head_is_the_fit_scikit_learn_finds_another_way():
    """Three overlapping classes (centres one standard deviation apart): no line separates them, so the cross-entropy
    has one minimum, and the head's full-batch Adam must reach what scikit-learn's unpenalised multinomial logistic
    regression reaches by L-BFGS."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    centres = np.array([[0.5, 0, 0, 0], [-0.5, 0.5, 0, 0], [0, -0.5, 0.5, 0]])
    x = np.concatenate([rng.normal(centre, 1.0, size=(100, 4)) for centre in centres]).astype(np.float32)
    labels = [label for label in "abc" for _ in range(100)]
    head = train_head(x, labels, seed=3)
    reference = LogisticRegression(C=1e10, max_iter=10_000, tol=1e-10).fit(x, labels)  # C this large: no penalty
    assert head.labels == tuple(reference.classes_) and head.train_accuracy < 0.7  # the classes do overlap
    np.testing.assert_allclose(classify(head, x), reference.predict_proba(x), atol=1e-3)
    assert head.losses[-1] == pytest.approx(log_loss(labels, reference.predict_proba(x)), abs=1e-4)
    again = train_head(x, labels, seed=3)  # and the same seed gives the same head
    np.testing.assert_array_equal(again.weight, head.weight)
    np.testing.assert_array_equal(again.losses, head.losses)


def test_head_needs_two_labels_and_two_examples():
    x = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(InputError):
        train_head(x, ["a", "a", "a"])
    with pytest.raises(InputError):
        train_head(x[:1], ["a"])
    with pytest.raises(InputError):
        train_head(x, ["a", "b"])


SENSES = [("river", "I sat on the bank of the river."), ("river", "The boat drifted towards the muddy bank."),
          ("money", "I deposited money at the bank."), ("money", "The bank raised its interest rates.")]


def test_sense_gap_is_the_mean_over_same_and_different_pairs(offline):
    analyses = analyze_many(offline, [sentence for _, sentence in SENSES])
    word = word_across_sentences(analyses, "bank", [sense for sense, _ in SENSES])
    gap = word.sense_gap()
    steps = np.concatenate([word.token_similarity[None], word.similarity])  # [L + 2, N, N]
    assert steps.shape == (offline.num_layers + 2, 4, 4)
    np.testing.assert_allclose(gap.same, (steps[:, 0, 1] + steps[:, 2, 3]) / 2, atol=1e-6)
    np.testing.assert_allclose(gap.different, steps[:, [0, 0, 1, 1], [2, 3, 2, 3]].mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(gap.gap, gap.same - gap.different)
    assert (gap.same_pairs, gap.different_pairs) == (2, 4)
    assert gap.gap[0] == pytest.approx(0.0, abs=1e-6)  # the same token row for every "bank"
    assert gap.same[-1] < gap.same[1]  # same-sense pairs drift apart too: falling alone proves nothing
    assert gap.widest == int(np.argmax(gap.gap)) and gap.gap[gap.widest] > 0


def test_sense_gap_needs_a_same_and_a_different_pair(offline):
    analyses = analyze_many(offline, [sentence for _, sentence in SENSES[1:]])
    assert word_across_sentences(analyses, "bank").sense_gap() is None  # unlabelled
    assert word_across_sentences(analyses, "bank", ["a", "b", "c"]).sense_gap() is None  # no pair shares a sense
    assert word_across_sentences(analyses, "bank", ["a", "a", None]).sense_gap() is None  # no different pair


def test_same_input_pairs_are_exactly_one_at_the_input(embedded):
    analyses = analyze_many(embedded, ["The bank is open.", "A river bank.", "The bank is closed."])
    word = word_across_sentences(analyses, "bank")
    assert word.same_input() == [(0, 2)]
    assert word.similarity[0, 0, 2] == pytest.approx(1.0, abs=1e-6) and word.similarity[0, 0, 1] < 1.0


def test_analyze_many_keeps_the_order_and_runs_through_the_runner_given(embedded):
    seen = []
    analyses = analyze_many(embedded, ["Cats sleep.", "Dogs bark."],
                            run=lambda model, text: seen.append(text) or analyze(model, text))
    assert seen == ["Cats sleep.", "Dogs bark."] and [a.text for a in analyses] == seen
    with pytest.raises(InputError, match="Sentence 2 is empty"):
        analyze_many(embedded, ["Cats sleep.", "  "])
    with pytest.raises(InputError, match="at least one sentence"):
        analyze_many(embedded, [])


def test_readings_of_every_layer_equal_the_head_one_vector_at_a_time(offline):
    word = word_across_sentences(analyze_many(offline, [s for _, s in SENSES[:2]]), "bank")
    readings = occurrence_readings(offline, word, k=4)
    assert len(readings) == 2 and all(len(per_layer) == offline.num_layers + 1 for per_layer in readings)
    for occurrence in range(2):
        for layer in (0, offline.num_layers):
            expected = nearest_words(offline, word.vectors[occurrence, layer], k=4)
            assert [t for t, _ in readings[occurrence][layer]] == [t for t, _ in expected]
            # a batched and a one-vector product round the logits differently (1e-5 of a small probability, on
            # some CPUs); a wrong layer or vector would be off by orders of magnitude more
            np.testing.assert_allclose([p for _, p in readings[occurrence][layer]], [p for _, p in expected],
                                       rtol=1e-4)


def test_labelled_lines():
    assert labelled_lines("river: I sat.\nNo label here\n\n  money :  A loan.  \n:bare") == (
        ("river", "I sat."), (None, "No label here"), ("money", "A loan."), (None, "bare"))
