"""Hand-computed attention (bertviz_core.qkv) against what the model itself computes."""

import contextlib

import numpy as np
import pytest

from bertviz_core import analyze
from bertviz_core.qkv import HeadArithmetic, head_arithmetic, head_vectors, value_norms

from tiny_models import FAMILIES, value_and_output_weights

MODELS = (*FAMILIES, "embedded")
SENTENCE, PAIR = "The bank of the river was flooded.", "Cats sleep."


@pytest.fixture
def model(request, tiny_models):
    name = request.param
    return request.getfixturevalue("embedded") if name == "embedded" else tiny_models[name]


def choices(result):
    """A spread of (layer, head, query) triples: corners and the middle."""
    L, H, T = result.num_layers, result.num_heads, result.num_tokens
    return [(0, 0, 0), (L - 1, H - 1, T - 1), (L // 2, H // 2, T // 2), (L - 1, 0, 1), (0, H - 1, T - 2)]


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- Independent paths into each family, written out here rather than taken from the Layout under test. ---


def context_sources(model):
    """(modules, kind): where each family's per-head context [1, T, H*d] (before the output dense) can be caught.

    BERT-style self-attention returns (context, weights) and applies the output dense outside; DistilBERT
    and ALBERT apply it inside their attention module, so there the context is the dense's input.
    ALBERT's one shared module runs once per layer, so captures are kept in call order.
    """
    base = model.encoder
    if model.family == "distilbert":
        return [layer.attention.out_lin for layer in base.transformer.layer], "input"
    if model.family == "albert":
        return [group.albert_layers[0].attention.dense for group in base.encoder.albert_layer_groups], "input"
    return [layer.attention.self for layer in base.encoder.layer], "output"


@contextlib.contextmanager
def capture_contexts(model):
    modules, kind = context_sources(model)
    captured = []
    if kind == "output":
        handles = [m.register_forward_hook(lambda mod, args, out: captured.append(out[0][0].clone())) for m in modules]
    else:
        handles = [m.register_forward_pre_hook(lambda mod, args: captured.append(args[0][0].clone())) for m in modules]
    try:
        yield captured  # one [T, H*d] per layer, in order
    finally:
        for handle in handles:
            handle.remove()


# --- Tests ---


@pytest.mark.parametrize("model", MODELS, indirect=True)
def test_weights_equal_the_models_attention(model):
    result = analyze(model, SENTENCE, PAIR)
    for layer, head, query in choices(result):
        step = head_arithmetic(model, result, layer, head, query)
        assert isinstance(step, HeadArithmetic) and (step.layer, step.head, step.query_index) == (layer, head, query)
        np.testing.assert_allclose(step.weights, result.attentions[layer, head, query], atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", MODELS, indirect=True)
def test_all_heads_rebuild_every_attention_matrix(model):
    result = analyze(model, SENTENCE, PAIR)
    for layer in range(result.num_layers):
        queries, keys, values = head_vectors(model, result, layer)  # [H, T, d]
        H, T, d = queries.shape
        assert (H, T) == (result.num_heads, result.num_tokens) and keys.shape == values.shape == queries.shape
        rebuilt = softmax(queries @ keys.transpose(0, 2, 1) / np.sqrt(d))  # [H, T, T]
        np.testing.assert_allclose(rebuilt, result.attentions[layer], atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", MODELS, indirect=True)
def test_output_equals_the_models_head_output(model):
    with capture_contexts(model) as contexts:
        result = analyze(model, SENTENCE, PAIR)
    assert len(contexts) == result.num_layers
    for layer, head, query in choices(result):
        step = head_arithmetic(model, result, layer, head, query)
        d = step.output.shape[0]
        captured = contexts[layer][query, head * d:(head + 1) * d].numpy()  # [d]
        np.testing.assert_allclose(step.output, captured, atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", MODELS, indirect=True)
def test_each_step_follows_from_the_last(model):
    result = analyze(model, SENTENCE, PAIR)
    for layer, head, query in choices(result):
        step = head_arithmetic(model, result, layer, head, query)
        T, d = step.keys.shape
        assert step.x.shape == (result.hidden_states.shape[-1],) and step.query.shape == (d,)
        assert step.values.shape == (T, d) and step.scores.shape == step.scaled.shape == step.weights.shape == (T,)
        np.testing.assert_array_equal(step.x, result.hidden_states[layer, query])
        assert step.scale == pytest.approx(np.sqrt(d))
        np.testing.assert_allclose(step.scores, step.keys @ step.query, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(step.scores / step.scale, step.scaled, atol=1e-6, rtol=1e-6)
        np.testing.assert_allclose(softmax(step.scaled), step.weights, atol=1e-6, rtol=0)
        np.testing.assert_allclose(step.weights @ step.values, step.output, atol=1e-6, rtol=0)
        for array in (step.x, step.query, step.keys, step.values, step.scores, step.scaled, step.weights, step.output):
            assert array.dtype == np.float32 and not array.flags.writeable


@pytest.mark.parametrize("model", MODELS, indirect=True)
def test_value_norms_equal_a_hand_computed_reference(model):
    result = analyze(model, SENTENCE, PAIR)
    H, T = result.num_heads, result.num_tokens
    for layer in range(result.num_layers):
        norms = value_norms(model, result, layer)
        assert norms.shape == (H, T, T) and norms.dtype == np.float32 and not norms.flags.writeable
        assert (norms >= 0).all()
        w_v, b_v, w_o = value_and_output_weights(model, layer)
        d = w_v.shape[0] // H
        values = result.hidden_states[layer].astype(np.float64) @ w_v.T + b_v  # [T, H*d]
        reference = np.empty((H, T, T))
        for h in range(H):
            head = slice(h * d, (h + 1) * d)
            transformed = values[:, head] @ w_o[:, head].T  # [T, D] f_h(x_j), output bias excluded
            alpha = result.attentions[layer, h].astype(np.float64)  # [T, T]
            weighted = alpha[:, :, None] * transformed[None, :, :]  # [T, T, D] alpha_ij f_h(x_j)
            reference[h] = np.linalg.norm(weighted, axis=-1)
        # Tiny random models give norms near 1e-3, so the check is relative, not absolute.
        np.testing.assert_allclose(norms, reference, atol=1e-9, rtol=1e-5)


@pytest.mark.parametrize("model", ["bert", "distilbert", "albert"], indirect=True)
def test_out_of_range_indexes_are_refused(model):
    result = analyze(model, SENTENCE)
    L, H, T = result.num_layers, result.num_heads, result.num_tokens
    for layer, head, query in [(-1, 0, 0), (L, 0, 0), (0, -1, 0), (0, H, 0), (0, 0, -1), (0, 0, T)]:
        with pytest.raises(ValueError, match="must be an integer"):
            head_arithmetic(model, result, layer, head, query)
    for bad_layer in (-1, L):
        with pytest.raises(ValueError, match="layer"):
            head_vectors(model, result, bad_layer)
        with pytest.raises(ValueError, match="layer"):
            value_norms(model, result, bad_layer)


def test_analysis_from_another_model_is_refused(tiny_models):
    other = analyze(tiny_models["distilbert"], SENTENCE)
    with pytest.raises(ValueError, match="not made with"):
        head_arithmetic(tiny_models["bert"], other, 0, 0, 0)
