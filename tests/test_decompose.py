"""Exact decompositions, each checked by the identity it must satisfy: the parts and the bias add up to the model's own
hidden states (transformers' ``output_hidden_states``) at every layer and to its own logit (its MaskedLM logits, or
the trained classifier's), within a relative 1e-4, for every family and both shipped models."""

import numpy as np
import pytest
import torch

from bertviz_core import InputError, analyze
from bertviz_core.classifier import train_head
from bertviz_core.explain.attributions import attribute, faithfulness
from bertviz_core.explain import decompose
from bertviz_core.explain.decompose import decompose_components, decompose_tokens, route_graph, routes
from bertviz_core.explain.target import class_target, mask_target
from bertviz_core.meaning import sentence_embeddings

from tiny_models import FAMILIES

TOLERANCE = 1e-4
SENTENCE = "The cat sat on the [MASK] near the bank."
NURSE = "The nurse said that [MASK] was tired."
REVIEWS = {"A wonderful film.": "pos", "Brilliant acting.": "pos", "A dull film.": "neg", "Terrible service.": "neg"}


def transformers_run(model, result):
    """transformers' own forward pass, positions and segments as the analysis used them: ([L + 1, T, D] hidden
    states, [V] masked-LM logits at the first mask, or None for a bare encoder)."""
    ids = torch.tensor(result.input_ids.tolist()).unsqueeze(0)
    arguments = dict(input_ids=ids, position_ids=torch.tensor(result.position_ids.tolist()).unsqueeze(0),
                     attention_mask=torch.ones_like(ids), output_hidden_states=True)
    if "token_type_ids" in model.tokenizer.model_input_names:
        arguments["token_type_ids"] = torch.tensor(result.segment_ids.tolist()).unsqueeze(0)
    with torch.no_grad():
        output = model.model(**arguments)
    hidden = torch.stack(output.hidden_states)[:, 0].double().numpy()
    if not model.has_mlm_head:
        return hidden, None
    mask = int(np.flatnonzero(result.input_ids == model.tokenizer.mask_token_id)[0])
    return hidden, output.logits[0, mask].double().numpy()


def case(name, tiny_models, offline, embedded):
    """(model, analysis, target, the target's logit by transformers or by the classifier's own formula)."""
    model = {"offline": offline, "embedded": embedded}.get(name) or tiny_models[name]
    if name != "embedded":
        result = analyze(model, NURSE if name == "offline" else SENTENCE)
        target = mask_target(model, result)
        return model, result, target, float(transformers_run(model, result)[1][target.output_id])
    analyses = [analyze(model, text) for text in REVIEWS]
    head = train_head(sentence_embeddings(analyses), list(REVIEWS.values()))
    result = analyses[2]
    target = class_target(result, head, "neg")
    hidden = transformers_run(model, result)[0][-1]  # [T, D]
    pooled = hidden[~result.special_mask].mean(axis=0)  # the words, as meaning.sentence_embeddings pools them
    return model, result, target, float(pooled @ head.weight[1].astype(np.float64) + head.bias[1])


def relative_errors(kept, bias, own) -> np.ndarray:
    """[K, T] ||sum_s x_(i<-s) + b_i - x_i|| / ||x_i||."""
    return np.linalg.norm(kept.astype(np.float64).sum(2) + bias - own, axis=-1) / np.linalg.norm(own, axis=-1)


@pytest.mark.parametrize("name", [*FAMILIES, "offline", "embedded"])
@pytest.mark.parametrize("decompose", [decompose_tokens, decompose_components])
def test_parts_add_up_to_every_hidden_state_and_to_the_logit(tiny_models, offline, embedded, name, decompose):
    model, result, target, logit = case(name, tiny_models, offline, embedded)
    layers = range(model.num_layers + 1)
    found = decompose(model, result, target, keep=layers)
    own = transformers_run(model, result)[0]  # [L + 1, T, D]
    errors = relative_errors(found.hidden_parts, found.hidden_bias, own)
    assert errors.shape == (model.num_layers + 1, result.num_tokens) and errors.max() <= TOLERANCE, errors.max()
    assert found.errors.max() <= TOLERANCE  # its own check, against Analysis.hidden_states
    assert abs(found.total - logit) <= TOLERANCE * abs(logit)
    assert found.logit == pytest.approx(logit, rel=1e-5) and found.logit_error <= TOLERANCE
    if decompose is decompose_tokens:
        assert found.parts.shape == (result.num_tokens,) and found.tokens == result.tokens
        # Each token's embedding row belongs to it alone.
        embedding_output = found.hidden_parts[0]  # [T, T, D]
        off_diagonal = ~np.eye(result.num_tokens, dtype=bool)
        assert np.abs(embedding_output[off_diagonal]).max() == 0.0
    else:
        assert found.grid.shape == (model.num_layers, model.num_heads + 1)
        assert found.names[:2] == ("embeddings", "L1.H1") and found.names[-1] == f"L{model.num_layers}.ffn"


@pytest.mark.parametrize("name", ["bert", "albert", "offline"])
def test_components_and_tokens_are_two_splits_of_one_logit(tiny_models, offline, embedded, name):
    model, result, target, logit = case(name, tiny_models, offline, embedded)
    tokens = decompose_tokens(model, result, target)
    components = decompose_components(model, result, target)
    assert tokens.total == pytest.approx(components.total, rel=1e-9)
    assert components.parts.sum() + components.bias == pytest.approx(logit, rel=TOLERANCE)
    assert dict(components.named())["embeddings"] == components.embeddings
    # Keeping nothing computes the last layer at the mask only, and gives the same parts.
    assert np.isnan(tokens.errors).sum() == 0 and tokens.hidden_parts.shape[0] == 0
    np.testing.assert_allclose(tokens.parts, decompose_tokens(model, result, target, keep=[0]).parts, rtol=1e-9)


def test_float32_keeps_the_identity_on_the_shipped_model(offline):
    result = analyze(offline, NURSE)
    target = mask_target(offline, result)
    found = decompose_tokens(offline, result, target, keep=[offline.num_layers], dtype=torch.float32)
    precise = decompose_tokens(offline, result, target)
    assert found.errors.max() <= 1e-5 and found.logit_error <= 1e-5
    np.testing.assert_allclose(found.parts, precise.parts, atol=1e-4)


def test_route_rows_are_shares_and_the_graph_keeps_what_reaches_the_top(tiny_models):
    model = tiny_models["bert"]
    result = analyze(model, SENTENCE)
    found = routes(model, result)
    L, T = model.num_layers, result.num_tokens
    assert found.shares.shape == (L, T, T) and found.shares.min() >= 0.0
    np.testing.assert_allclose(found.shares.sum(-1), 1.0, atol=1e-6)
    position = int(np.flatnonzero(result.input_ids == model.tokenizer.mask_token_id)[0])
    everything = route_graph(found, position, 0.0)
    assert everything.nodes[0] == (L, position) and len(everything.nodes) == 1 + L * T
    assert len(everything.edges) == T + (L - 1) * T * T
    graph = route_graph(found, position, 0.2)
    nodes = set(graph.nodes)
    for (below, j), (layer, i), share in graph.edges:
        assert below == layer - 1 and (below, j) in nodes and (layer, i) in nodes
        assert share == pytest.approx(float(found.shares[below, i, j])) and share >= 0.2
    reached = {i for layer, i in graph.nodes if layer == L - 1}
    assert reached == {int(j) for j in np.flatnonzero(found.shares[L - 1, position] >= 0.2)}
    with pytest.raises(InputError, match="not in the text"):
        route_graph(found, T, 0.1)
    with pytest.raises(InputError, match="threshold is a share"):
        route_graph(found, position, 2.0)


def test_decompx_is_the_ninth_attribution_and_the_deletion_curves_measure_it(offline):
    result = analyze(offline, NURSE)
    target = mask_target(offline, result)
    found = attribute(offline, result, target, "decompx")
    np.testing.assert_allclose(found.scores, decompose_tokens(offline, result, target).parts, rtol=1e-6)
    assert found.score == pytest.approx(float(found.scores.sum(dtype=np.float64)) + decompose_tokens(
        offline, result, target).bias, rel=TOLERANCE)
    curves = faithfulness(offline, result, [found, attribute(offline, result, target, "attention")])
    assert curves.methods == ("decompx", "attention") and np.isfinite(curves.aopc).all()
    np.testing.assert_allclose(curves.curves[:, 0], result.masks[0].probs[0], atol=1e-5)


def test_bad_requests_are_refused(tiny_models, offline, monkeypatch):
    model = tiny_models["bert"]
    result = analyze(model, SENTENCE)
    target = mask_target(model, result)
    with pytest.raises(InputError, match="numbered 0"):
        decompose_tokens(model, result, target, keep=[model.num_layers + 1])
    with pytest.raises(InputError, match="another model"):
        decompose_tokens(offline, result, target)
    monkeypatch.setattr(decompose, "MAX_TOKENS", result.num_tokens - 1)
    for too_long in (lambda: decompose_tokens(model, result, target), lambda: routes(model, result)):
        with pytest.raises(InputError, match=f"up to {result.num_tokens - 1} tokens"):
            too_long()
    assert decompose_components(model, result, target).grid.shape == (model.num_layers, model.num_heads + 1)
