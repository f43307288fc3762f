import math

import numpy as np
import pytest
import torch

from bertviz_core import analyze, load_model
from bertviz_core.positions import compare_orders, input_vectors, model_positions, reorder_words, sinusoidal
from bertviz_core.vectors import cosine_similarity, pca

from tiny_models import FAMILIES, save_tiny_model


def formula(pos: int, dim: int, width: int) -> float:
    """Vaswani et al. (2017), written out one entry at a time."""
    i = dim // 2
    angle = pos / 10000 ** (2 * i / width)
    return math.sin(angle) if dim % 2 == 0 else math.cos(angle)


@pytest.mark.parametrize("length, width", [(1, 1), (16, 8), (50, 33), (512, 384)])
def test_sinusoidal_equals_the_formula(length, width):
    table = sinusoidal(length, width)
    assert table.shape == (length, width) and table.dtype == np.float32
    for pos in {0, min(1, length - 1), length // 2, length - 1}:
        for dim in {0, min(1, width - 1), width // 2, width - 1}:
            assert table[pos, dim] == pytest.approx(formula(pos, dim, width), abs=1e-6)


def test_sinusoidal_rejects_empty():
    with pytest.raises(ValueError):
        sinusoidal(0, 8)


def test_cosine_similarity_and_pca():
    rows = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [0.0, 0.0]], dtype=np.float32)
    similarity = cosine_similarity(rows)
    np.testing.assert_allclose(similarity[:3, :3], [[1, 0, 2**-0.5], [0, 1, 2**-0.5], [2**-0.5, 2**-0.5, 1]],
                               atol=1e-6)
    assert (similarity[3, :3] == 0).all() and similarity[3, 3] == 1  # a zero row: no NaN, itself only
    line = np.outer(np.arange(10.0), [1.0, 2.0, -1.0]).astype(np.float32)
    projection = pca(line, components=2)
    assert projection.coords.shape == (10, 2)
    assert projection.explained[0] == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(np.diff(projection.coords[:, 0])), np.linalg.norm([1, 2, -1]), rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_learned_table_is_the_models_weights(tiny_models, family):
    model = tiny_models[family]
    result = analyze(model, "Cats sleep.")
    learned = model_positions(model, result)
    assert learned.kind == "learned" and learned.total_rows == model.config.max_position_embeddings
    weights = model.encoder.embeddings.position_embeddings.weight.numpy()
    np.testing.assert_array_equal(result.position_table, weights)
    np.testing.assert_array_equal(learned.table, weights[learned.first_row:learned.first_row + model.max_tokens])
    assert learned.first_row == (2 if family == "roberta" else 0)
    # Row 0 of the usable table is what the first token (position 0) receives.
    np.testing.assert_array_equal(result.position_embeddings[0], learned.table[0])


def test_a_sinusoidal_distilbert_is_read_as_sinusoidal(tmp_path):
    model = load_model(str(save_tiny_model("distilbert", tmp_path / "sinusoidal", sinusoidal_pos_embds=True)))
    positions = model_positions(model, analyze(model, "Cats sleep."))
    assert positions.kind == "sinusoidal"
    np.testing.assert_allclose(positions.table, sinusoidal(*positions.table.shape), atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_shown_input_equals_the_models_first_hidden_state(tiny_models, family):
    model = tiny_models[family]
    result = analyze(model, "She loves cats.", "They purr.")
    vectors = input_vectors(model, result)
    projection = model.layout.projection(model.encoder)
    with torch.no_grad():
        entering = torch.from_numpy(vectors.normalized.copy())
        entering = projection(entering) if projection is not None else entering
    np.testing.assert_allclose(entering.numpy(), result.hidden_states[0], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(vectors.layer_input, result.hidden_states[0])


def test_embedded_input_equals_hidden_state(embedded):
    result = analyze(embedded, "She loves cats")
    np.testing.assert_allclose(input_vectors(embedded, result).normalized, result.hidden_states[0], atol=1e-5)


def test_reorder_words():
    assert reorder_words("She loves cats.") == "cats loves She."
    assert reorder_words("She loves cats") == "cats loves She"
    shuffled = reorder_words("one two three four five", "shuffle", seed=1)
    assert sorted(shuffled.split()) == sorted("one two three four five".split())
    with pytest.raises(ValueError):
        reorder_words("a b", "sideways")


def test_word_order_moves_positions_not_tokens(embedded):
    a = analyze(embedded, "She loves cats")
    b = analyze(embedded, reorder_words("She loves cats"))
    comparison = compare_orders(a, b)
    assert comparison.tokens == ("[CLS]", "she", "loves", "cats", "[SEP]")
    np.testing.assert_array_equal(comparison.index_b, [0, 3, 2, 1, 4])
    assert (comparison.token_change == 0).all()
    moved = comparison.index_a != comparison.index_b
    assert (comparison.position_change[moved] > 0).all() and (comparison.position_change[~moved] == 0).all()
    assert (comparison.input_change[moved] > 0).all()


def word_of(analysis, index: int) -> str:
    """The whole word token ``index`` belongs to (a special token stands for itself)."""
    word = analysis.word_ids[index]
    if word < 0:
        return analysis.tokens[index]
    pieces = np.flatnonzero(analysis.word_ids == word)
    return analysis.text[analysis.offsets[pieces[0], 0]:analysis.offsets[pieces[-1], 1]]


def test_word_order_matches_words_not_ids_in_byte_level_bpe(tiny_models):
    """RoBERTa spells 'She' at the start and 'ĠShe' after a space: different pieces, one word, still matched."""
    model = tiny_models["roberta"]
    a = analyze(model, "She loves cats")
    b = analyze(model, reorder_words("She loves cats"))
    comparison = compare_orders(a, b)
    np.testing.assert_array_equal(comparison.index_a, np.arange(a.num_tokens))  # every token of A found its word
    assert [word_of(b, j) for j in comparison.index_b] == [word_of(a, i) for i in range(a.num_tokens)]
    moved = comparison.index_a != comparison.index_b
    assert moved.any() and (comparison.position_change[moved] > 0).all()
