"""Attributions, faithfulness and interventions, each checked against a reference computed another way: autograd by
hand, transformers' own forward pass with hooks written here, networkx's max-flow, the IG completeness identity."""

import threading

import networkx
import numpy as np
import pytest
import torch

from bertviz_core import InputError, analyze
from bertviz_core.explain.attributions import (METHODS, attribute, faithfulness, ig_baseline_ids, removable,
                                  value_zeroed_scores)
from bertviz_core.attention.rollout import mixed_attention
from bertviz_core.explain.hooks import Edits, intervening
from bertviz_core.explain.interventions import ablate, head_sweep, parse_heads, patch_activations, patched_scores
from bertviz_core.classifier import train_head
from bertviz_core.meaning import sentence_embeddings
from bertviz_core.explain.target import class_target, mask_target, vocabulary_id

NURSE = "The nurse said that [MASK] was tired."
MAN = "The man said that [MASK] was tired."
SENTENCE = "The cat sat on the [MASK] near the bank."
# Where each family keeps the attention output projection, by the checkpoint's own module names.
OUTPUT_PROJECTION = {"bert": "encoder.layer.{}.attention.output.dense", "roberta": "encoder.layer.{}.attention.output.dense",
                     "electra": "encoder.layer.{}.attention.output.dense",
                     "distilbert": "transformer.layer.{}.attention.out_lin",
                     "albert": "encoder.albert_layer_groups.0.albert_layers.0.attention.dense"}


@pytest.fixture(scope="module")
def nurse(offline):
    result = analyze(offline, NURSE)
    return result, mask_target(offline, result)


def reference_logits(model, result, *, embeds=None, attention=None) -> torch.Tensor:
    """[B, V] transformers' masked-LM model's own logits at the first mask, positions given explicitly."""
    ids = torch.tensor(result.input_ids.tolist()).unsqueeze(0)
    arguments = dict(position_ids=torch.tensor(result.position_ids.tolist()).unsqueeze(0),
                     attention_mask=torch.ones_like(ids) if attention is None else attention)
    arguments.update(inputs_embeds=embeds) if embeds is not None else arguments.update(input_ids=ids)
    if "token_type_ids" in model.tokenizer.model_input_names:
        arguments["token_type_ids"] = torch.tensor(result.segment_ids.tolist()).unsqueeze(0)
    mask = int(np.flatnonzero(result.input_ids == model.tokenizer.mask_token_id)[0])
    return model.model(**arguments).logits[:, mask]


@pytest.mark.parametrize("family", ["bert", "roberta", "albert", "distilbert"])
def test_gradient_methods_equal_autograd_by_hand(tiny_models, family):
    model = tiny_models[family]
    result = analyze(model, SENTENCE)
    target = mask_target(model, result)
    embeds = model.encoder.embeddings.word_embeddings(torch.tensor(result.input_ids.tolist())).unsqueeze(0)
    embeds = embeds.detach().requires_grad_()
    with torch.enable_grad():
        reference_logits(model, result, embeds=embeds)[0, target.output_id].backward()
    by_hand = (embeds.grad * embeds).sum(-1)[0].detach().numpy()  # [T]
    found = attribute(model, result, target, "grad_input")
    np.testing.assert_allclose(found.scores, by_hand, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(attribute(model, result, target, "grad_norm").scores, embeds.grad[0].norm(dim=-1),
                               rtol=1e-4, atol=1e-7)
    assert found.score == pytest.approx(float(result.masks[0].logits[0]), abs=1e-4)  # F = the top guess's logit


@pytest.mark.parametrize("family", ["offline", "roberta"])
def test_integrated_gradients_are_complete_within_two_percent(offline, tiny_models, family):
    model = offline if family == "offline" else tiny_models[family]
    result = analyze(model, NURSE if family == "offline" else SENTENCE)
    target = mask_target(model, result)
    found = attribute(model, result, target, "integrated_gradients", steps=64)
    change = found.score - found.baseline_score
    assert abs(found.completeness_gap) <= 0.02 * abs(change)
    baseline = ig_baseline_ids(model, result, target)[0]
    kept = result.special_mask | (np.arange(result.num_tokens) == target.mask_index)
    assert (baseline.numpy() == np.where(kept, result.input_ids, model.tokenizer.pad_token_id)).all()
    # F(baseline) is transformers' own logit on the padded ids with the input's positions (RoBERTa would otherwise
    # number pads as padding).
    padded = result.input_ids.copy()
    padded[~kept] = model.tokenizer.pad_token_id
    embeds = model.encoder.embeddings.word_embeddings(torch.tensor(padded)).unsqueeze(0)
    with torch.no_grad():
        expected = float(reference_logits(model, result, embeds=embeds)[0, target.output_id])
    assert found.baseline_score == pytest.approx(expected, abs=1e-4)


def test_every_method_gives_one_score_per_token(offline, nurse):
    result, target = nurse
    for method in METHODS:
        found = attribute(offline, result, target, method, steps=16)
        assert found.scores.shape == (result.num_tokens,) and np.isfinite(found.scores).all(), method
    assert attribute(offline, result, target, "attention").scores.sum() == pytest.approx(1.0, abs=1e-5)
    assert attribute(offline, result, target, "rollout").scores.sum() == pytest.approx(1.0, abs=1e-5)


def test_attention_flow_equals_networkx_max_flow(tiny_models):
    model = tiny_models["bert"]
    result = analyze(model, SENTENCE)
    target = mask_target(model, result)
    mixed = mixed_attention(result.attentions)  # [L, T, T]
    L, T = mixed.shape[0], result.num_tokens
    graph = networkx.DiGraph()
    for layer in range(L):
        for i in range(T):
            for j in range(T):
                graph.add_edge((layer, j), (layer + 1, i), capacity=float(mixed[layer, i, j]))
    expected = [networkx.maximum_flow_value(graph, (0, j), (L, target.mask_index)) for j in range(T)]
    np.testing.assert_allclose(attribute(model, result, target, "flow").scores, expected, atol=1e-5)


def test_value_zeroing_of_no_token_is_the_original_and_of_one_equals_a_hook_here(tiny_models):
    model = tiny_models["bert"]
    result = analyze(model, SENTENCE)
    target = mask_target(model, result)
    untouched = value_zeroed_scores(model, result, target, [()])[0]
    assert untouched == pytest.approx(float(result.masks[0].logits[0]), abs=1e-4)
    found = attribute(model, result, target, "value_zeroing")
    j = 2
    values = [model.encoder.get_submodule(f"encoder.layer.{n}.attention.self.value") for n in range(model.num_layers)]
    handles = [v.register_forward_hook(lambda m, a, out: out.index_fill(1, torch.tensor([j]), 0.0)) for v in values]
    try:
        with torch.no_grad():
            zeroed = float(reference_logits(model, result)[0, target.output_id])
    finally:
        for handle in handles:
            handle.remove()
    assert found.scores[j] == pytest.approx(untouched - zeroed, abs=1e-4)


def test_deletion_curves_start_at_the_models_probability_and_end_with_the_text_hidden(offline, nurse):
    result, target = nurse
    attributions = [attribute(offline, result, target, m) for m in ("attention", "grad_input", "value_zeroing")]
    found = faithfulness(offline, result, attributions)
    candidates = removable(result, target)
    assert list(found.removed) == list(range(len(candidates) + 1))  # a short sentence: one token a step
    np.testing.assert_allclose(found.curves[:, 0], result.masks[0].probs[0], atol=1e-5)
    hidden = torch.ones(1, result.num_tokens, dtype=torch.long)
    hidden[0, candidates] = 0
    with torch.no_grad():
        everything_gone = float(reference_logits(offline, result, attention=hidden).softmax(-1)[0, target.output_id])
    np.testing.assert_allclose(found.curves[:, -1], everything_gone, atol=1e-5)
    np.testing.assert_allclose(found.aopc, (found.curves[:, :1] - found.curves[:, 1:]).mean(axis=1), atol=1e-6)
    assert found.agreement.shape == (3, 3) and np.allclose(np.diag(found.agreement), 1.0)
    assert sorted(found.ranking) == sorted(found.methods) and found.aopc.max() == found.aopc[
        found.methods.index(found.ranking[0])]


def output_projection_hook(family: str, model, heads):
    """Zero ``heads`` (0-based (layer, head)) before each layer's output projection, written from the checkpoint's
    module names; ALBERT's one shared projection counts its calls to know its layer."""
    d = model.config.hidden_size // model.num_heads if family != "distilbert" else model.config.dim // model.num_heads
    calls = {"n": 0}

    def hook_for(layer):
        def hook(module, args):
            current = layer if layer is not None else calls["n"] % model.num_layers
            calls["n"] += 1
            context = args[0].clone()
            for ablated_layer, head in heads:
                if ablated_layer == current:
                    context[..., head * d:(head + 1) * d] = 0.0
            return (context,)
        return hook

    if family == "albert":
        return [model.encoder.get_submodule(OUTPUT_PROJECTION[family]).register_forward_pre_hook(hook_for(None))]
    return [model.encoder.get_submodule(OUTPUT_PROJECTION[family].format(n)).register_forward_pre_hook(hook_for(n))
            for n in range(model.num_layers)]


def logits_with_heads_zeroed(family, model, result, heads) -> torch.Tensor:
    handles = output_projection_hook(family, model, heads)
    try:
        with torch.no_grad():
            return reference_logits(model, result)[0]
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("family", ["bert", "albert", "distilbert"])
def test_ablating_heads_equals_transformers_with_a_hook_written_here(tiny_models, family):
    model = tiny_models[family]
    result = analyze(model, SENTENCE)
    heads = ((0, 1), (model.num_layers - 1, 2))
    expected = logits_with_heads_zeroed(family, model, result, heads)
    found = ablate(model, result, heads, top_k=5).masks[0]
    assert found.token_ids.tolist() == expected.topk(5).indices.tolist()
    np.testing.assert_allclose(found.logits, expected.topk(5).values, atol=1e-4)
    plain = ablate(model, result, [], top_k=5).masks[0]
    assert plain.token_ids.tolist() == result.masks[0].token_ids[:5].tolist()
    np.testing.assert_allclose(plain.logits, result.masks[0].logits[:5], atol=1e-5)


@pytest.mark.parametrize("family", ["bert", "albert"])
def test_the_sweep_equals_one_head_ablated_at_a_time(tiny_models, family):
    model = tiny_models[family]
    result = analyze(model, SENTENCE)
    target = mask_target(model, result)
    sweep = head_sweep(model, result, target)
    assert sweep.change.shape == (model.num_layers, model.num_heads)
    assert sweep.log_prob == pytest.approx(float(np.log(result.masks[0].probs[0])), abs=1e-4)
    for layer, head in ((0, 0), (1, 3), (model.num_layers - 1, 1)):
        logits = logits_with_heads_zeroed(family, model, result, [(layer, head)])
        expected = float(logits.log_softmax(-1)[target.output_id]) - sweep.log_prob
        assert sweep.change[layer, head] == pytest.approx(expected, abs=1e-4)


def test_patching_every_token_from_the_clean_run_reproduces_it(offline, nurse):
    clean, target = nurse
    corrupt = analyze(offline, MAN)
    T, L = clean.num_tokens, offline.num_layers
    every_token = [tuple((layer, t) for t in range(T)) for layer in (0, 3, L)]
    scores = patched_scores(offline, clean, corrupt, target, every_token + [()])
    clean_logit = float(clean.masks[0].logits[0])
    np.testing.assert_allclose(scores[:3], clean_logit, atol=1e-3)
    found = patch_activations(offline, clean, corrupt, target)
    assert found.corrupt_score == pytest.approx(scores[3], abs=1e-5) and found.clean_score == pytest.approx(
        clean_logit, abs=1e-4)
    assert found.restored.shape == (L + 1, T)
    # At the top only the mask's own state reaches the head; at the bottom only the changed word differs.
    assert found.restored[L, target.mask_index] == pytest.approx(1.0, abs=1e-3)
    assert np.abs(np.delete(found.restored[L], target.mask_index)).max() < 1e-3
    changed = int(np.flatnonzero(clean.input_ids != corrupt.input_ids)[0])
    assert found.restored[0, changed] == pytest.approx(1.0, abs=1e-3)


def test_patching_needs_the_same_token_length_and_the_mask_in_the_same_place(offline, nurse):
    clean, target = nurse
    with pytest.raises(InputError, match="same number of tokens"):
        patch_activations(offline, clean, analyze(offline, "The young man said that [MASK] was tired."), target)
    with pytest.raises(InputError, match="needs its mask"):
        patch_activations(offline, clean, analyze(offline, "The man said [MASK] she was tired."), target)


def test_hooks_leave_other_threads_forward_passes_alone(tiny_models):
    model = tiny_models["bert"]
    result = analyze(model, SENTENCE)
    with torch.no_grad():
        expected = reference_logits(model, result)
    hooks = lambda: sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.model.modules())  # noqa: E731
    before, seen = hooks(), {}
    with model.lock, intervening(model, Edits(values=lambda layer, v: v * 0.0)):
        other = threading.Thread(target=lambda: seen.update(logits=reference_logits(model, result).detach()))
        other.start()
        other.join()
    torch.testing.assert_close(seen["logits"], expected)
    assert hooks() == before  # every hook removed


def test_targets_words_heads_and_classes(offline, tiny_models, nurse):
    result, target = nurse
    assert (target.name, target.mask_index) == (result.masks[0].tokens[0], 5)
    assert mask_target(offline, result, word="He").name == "he"
    roberta = tiny_models["roberta"]
    assert roberta.tokenizer.convert_ids_to_tokens(vocabulary_id(roberta, "cat")) == "Ġcat"
    with pytest.raises(InputError, match="not one entry"):
        mask_target(offline, result, word="supercalifragilistic")
    with pytest.raises(InputError, match="not a mask"):
        mask_target(offline, result, mask=2)
    with pytest.raises(InputError, match="No mask"):
        mask_target(offline, analyze(offline, "No mask here."))
    with pytest.raises(InputError, match="no head 7:1"):
        parse_heads(offline, "7:1")
    assert parse_heads(offline, "1:2, 6:12,1:2") == ((0, 1), (5, 11))


def test_a_trained_class_is_explained_from_the_vector_it_was_trained_on(offline):
    texts = ["A wonderful film.", "Brilliant acting.", "A dull film.", "Terrible service."]
    analyses = [analyze(offline, text) for text in texts]
    head = train_head(sentence_embeddings(analyses), ["pos", "pos", "neg", "neg"])
    result = analyses[0]
    target = class_target(result, head, "neg")
    expected = sentence_embeddings([result])[0] @ head.weight[1] + head.bias[1]
    found = attribute(offline, result, target, "grad_input")
    assert found.score == pytest.approx(float(expected), abs=1e-4)
    curves = faithfulness(offline, result, [found])
    assert curves.curves[0, 0] == pytest.approx(float(np.exp(expected) / np.exp(
        sentence_embeddings([result])[0] @ head.weight.T + head.bias).sum()), abs=1e-5)
