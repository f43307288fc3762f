import math

import numpy as np
import pytest
import torch
from transformers import pipeline

from bertviz_core import InputError, analyze
from bertviz_core.mlm import (FATES, attention_masks, compare_contexts, head_steps, logit_lens,
                              mask_and_predict, recipe_run, recipe_shares)

from tiny_models import FAMILIES

SENTENCE = "The bank of the river was flooded."
EXAMPLE = "The farmers cultivate the [MASK] to grow crops."
RECIPE_TEXT = "The cat sat on the mat and she loves cats and dogs."


def token_index(analysis, token):
    return analysis.tokens.index(token)


def model_logits(model, ids):
    """transformers' own masked-LM output for one sequence of ids: [T, V]."""
    with torch.no_grad():
        return model.model(input_ids=torch.tensor([list(ids)])).logits[0].float()


# ---------------------------------------------------------------------------------------------
# Masking chosen tokens
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, word", [("bert", "river"), ("roberta", "Ġriver")])
def test_mask_and_predict_equals_fill_mask_pipeline(tiny_models, family, word):
    model = tiny_models[family]
    analysis = analyze(model, SENTENCE)
    index = token_index(analysis, word)
    result = mask_and_predict(model, analysis, [index], top_k=7)
    start, end = analysis.offsets[index]
    start -= analysis.tokens[index].startswith("Ġ")  # the tiny BPE's <mask> does not absorb the space before it
    masked_text = SENTENCE[:start] + model.tokenizer.mask_token + SENTENCE[end:]
    assert model.tokenizer(masked_text)["input_ids"] == result.input_ids.tolist()

    reference = pipeline("fill-mask", model=model.model, tokenizer=model.tokenizer, top_k=7)(masked_text)
    (guess,) = result.guesses
    assert guess.position == index and result.positions == (index,)
    assert guess.token_ids.tolist() == [r["token"] for r in reference]
    np.testing.assert_allclose(guess.probs, [r["score"] for r in reference], atol=1e-6, rtol=0)
    assert guess.probs.dtype == np.float32 and not guess.probs.flags.writeable


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_original_rank_and_probability_equal_direct_softmax(tiny_models, family):
    model = tiny_models[family]
    analysis = analyze(model, SENTENCE)
    indices = [1, analysis.num_tokens - 3]
    result = mask_and_predict(model, analysis, indices)
    logits = model_logits(model, result.input_ids.tolist())  # [T, V]
    for guess, index in zip(result.guesses, indices):
        probs = logits[index].softmax(-1)
        original = int(analysis.input_ids[index])
        assert guess.original_id == original and guess.original_token == analysis.tokens[index]
        assert guess.original_rank == 1 + int((probs > probs[original]).sum())
        assert guess.original_prob == pytest.approx(float(probs[original]), abs=1e-6)
        np.testing.assert_allclose(guess.logits, logits[index, guess.token_ids.tolist()].numpy(), atol=1e-4, rtol=0)
    assert result.hidden_states.shape == (model.num_layers + 1, analysis.num_tokens, model.config.hidden_size)


@pytest.mark.parametrize("family", FAMILIES)
def test_typed_masks_read_the_analysis_and_equal_the_model_logits(tiny_models, family):
    """A typed [MASK] is already in the analysed input: the guess reads the analysis's hidden states, with no second
    encoder pass, and still equals transformers' own masked-LM logits."""
    model = tiny_models[family]
    analysis = analyze(model, EXAMPLE)
    typed = [m.position for m in analysis.masks]
    passes = []
    hook = model.encoder.register_forward_pre_hook(lambda *_: passes.append(1))
    try:
        result = mask_and_predict(model, analysis, typed, top_k=5)
    finally:
        hook.remove()
    assert not passes
    logits = model_logits(model, analysis.input_ids.tolist())  # [T, V]
    (guess,) = result.guesses
    np.testing.assert_allclose(guess.logits, logits[typed[0], guess.token_ids.tolist()].numpy(), atol=1e-4, rtol=0)
    assert guess.token_ids.tolist() == logits[typed[0]].topk(5).indices.tolist()
    np.testing.assert_array_equal(result.hidden_states, analysis.hidden_states)


def test_whole_word_masks_every_piece(tiny_models):
    model = tiny_models["bert"]
    analysis = analyze(model, "He is unaffable today.")
    pieces = [analysis.tokens.index(t) for t in ("una", "##ffa", "##ble")]
    assert pieces == [3, 4, 5]
    single = mask_and_predict(model, analysis, [4])
    whole = mask_and_predict(model, analysis, [4], whole_word=True)
    mask_id = model.tokenizer.mask_token_id
    assert single.positions == (4,) and whole.positions == (3, 4, 5)
    assert [g.original_token for g in whole.guesses] == ["una", "##ffa", "##ble"]
    assert [i for i, t in enumerate(whole.input_ids) if t == mask_id] == pieces
    assert whole.tokens[3:6] == ("[MASK]",) * 3


# ---------------------------------------------------------------------------------------------
# Head steps and logit lens
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_head_steps_logits_equal_model_logits(tiny_models, family):
    model = tiny_models[family]
    analysis = analyze(model, SENTENCE)
    reference = model_logits(model, analysis.input_ids.tolist())  # [T, V]
    embedding_size = getattr(model.config, "embedding_size", model.config.hidden_size if family != "distilbert"
                             else model.config.dim)
    for position in (0, 2, analysis.num_tokens - 1):
        steps = head_steps(model, analysis.hidden_states[-1, position], top_k=5)
        np.testing.assert_allclose(steps.logits, reference[position].numpy(), atol=1e-4, rtol=0)
        assert steps.transformed.shape == (embedding_size,)
        assert steps.hidden_norm == pytest.approx(float(np.linalg.norm(analysis.hidden_states[-1, position])), rel=1e-5)
        assert steps.probs.sum() == pytest.approx(1.0, abs=1e-4)
        assert steps.top_ids[0] == int(reference[position].argmax())
        assert steps.argmax_token == model.tokenizer.convert_ids_to_tokens(int(steps.top_ids[0]))
        np.testing.assert_array_equal(steps.top_probs, steps.probs[steps.top_ids])
        assert steps.logits.dtype == np.float32 and not steps.logits.flags.writeable


@pytest.mark.parametrize("family", ["bert", "albert"])
def test_logit_lens_last_row_is_the_prediction(tiny_models, family):
    model = tiny_models[family]
    analysis = analyze(model, EXAMPLE)
    lens = logit_lens(model, analysis.hidden_states, analysis.masks[0].position, top_k=5)
    assert lens.probs.shape == (model.num_layers + 1, 5) and lens.probs.dtype == np.float32
    assert len(lens.tokens) == model.num_layers + 1 and all(len(row) == 5 for row in lens.tokens)
    assert lens.token_ids[-1].tolist() == analysis.masks[0].token_ids[:5].tolist()
    np.testing.assert_allclose(lens.probs[-1], analysis.masks[0].probs[:5], atol=1e-6, rtol=0)
    reference = model_logits(model, analysis.input_ids)[analysis.masks[0].position].softmax(-1)  # transformers' own
    np.testing.assert_allclose(lens.probs[-1], reference[lens.token_ids[-1]].numpy(), atol=1e-5, rtol=0)

    masked = mask_and_predict(model, analyze(model, SENTENCE), [3])
    lens = logit_lens(model, masked.hidden_states, 3, top_k=5)
    assert lens.token_ids[-1].tolist() == masked.guesses[0].token_ids[:5].tolist()
    assert lens.tokens[-1] == masked.guesses[0].tokens[:5]


# ---------------------------------------------------------------------------------------------
# Bidirectional vs left-only
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_left_only_input_has_nothing_right_of_the_mask(tiny_models, family):
    model = tiny_models[family]
    typed = analyze(model, EXAMPLE)
    plain = analyze(model, SENTENCE)
    for analysis, position in [(typed, typed.masks[0].position), (plain, 2)]:  # a typed mask, a clicked token
        prediction = mask_and_predict(model, analysis, [position], top_k=4)
        comparison = compare_contexts(model, analysis, prediction, position, top_k=4)
        full, left, left_tokens = comparison.full, comparison.left, comparison.left_tokens
        assert left_tokens == prediction.tokens[:position + 1] and left_tokens[-1] == model.tokenizer.mask_token
        assert full == prediction.guesses[0] and left.original_token == full.original_token
        # The reference: transformers' own masked-LM model on the ids cut right after the mask.
        reference = model_logits(model, prediction.input_ids[:position + 1])[position].softmax(-1)
        assert left.token_ids.tolist() == reference.topk(4).indices.tolist()
        np.testing.assert_allclose(left.probs, reference.topk(4).values.numpy(), atol=1e-5, rtol=0)
    assert typed.num_tokens > typed.masks[0].position + 4  # "to grow crops ." were right of the mask


def test_attention_masks():
    full, causal = attention_masks(5)
    assert full.shape == causal.shape == (5, 5) and full.dtype == causal.dtype == np.uint8
    assert full.all()
    np.testing.assert_array_equal(causal, np.tril(np.ones((5, 5))))
    assert not np.triu(causal, 1).any() and np.diag(causal).all()
    assert not full.flags.writeable and not causal.flags.writeable


# ---------------------------------------------------------------------------------------------
# The training recipe
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_recipe_shares_match_the_recipe(tiny_models, family):
    tokenizer = tiny_models[family].tokenizer
    runs, p = 4000, 0.15
    shares = recipe_shares(tokenizer, RECIPE_TEXT, runs, seed=7, probability=p)
    selectable = len(tokenizer(RECIPE_TEXT)["input_ids"]) - 2
    assert shares.selectable == selectable == recipe_run(tiny_models[family], RECIPE_TEXT, seed=7).selectable
    assert shares.selected == shares.masked + shares.random + shares.unchanged
    assert shares.expected == (p, 0.8, 0.1, 0.1)

    def within(count, n, q):
        return abs(count - n * q) <= 4 * math.sqrt(n * q * (1 - q))

    assert within(shares.selected, shares.selectable * runs, p)
    assert within(shares.masked, shares.selected, 0.8)
    assert within(shares.random, shares.selected, 0.1)
    assert within(shares.unchanged, shares.selected, 0.1)
    assert shares.shares[0] == shares.selected / (shares.selectable * runs)
    assert recipe_shares(tokenizer, RECIPE_TEXT, runs, seed=7, probability=p) == shares


def test_recipe_run_is_seeded_and_leaves_global_rng_alone(tiny_models):
    model = tiny_models["bert"]
    state = torch.get_rng_state()
    first = recipe_run(model, RECIPE_TEXT, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    again = recipe_run(model, RECIPE_TEXT, seed=3)
    assert first.fate == again.fate and first.corrupted_ids.tolist() == again.corrupted_ids.tolist()
    assert first.total_loss == again.total_loss
    others = {(run.fate, tuple(run.corrupted_ids.tolist())) for run in (recipe_run(model, RECIPE_TEXT, s)
                                                                         for s in range(4, 10))}
    assert len(others) > 1


def test_recipe_never_selects_special_tokens_and_fates_are_consistent(tiny_models):
    model = tiny_models["bert"]
    mask_id = model.tokenizer.mask_token_id
    for seed in range(30):
        run = recipe_run(model, RECIPE_TEXT, seed, probability=0.5)
        assert run.fate[0] == run.fate[-1] == "not selected"
        assert set(run.fate) <= set(FATES)
        for i, fate in enumerate(run.fate):
            same = run.corrupted_ids[i] == run.input_ids[i]
            assert {"not selected": same, "unchanged": same, "[MASK]": run.corrupted_ids[i] == mask_id,
                    "random": not same and run.corrupted_ids[i] != mask_id}[fate]
        assert [g.position for g in run.guesses] == [i for i, f in enumerate(run.fate) if f != "not selected"]


def test_recipe_loss_equals_cross_entropy_by_hand(tiny_models):
    for family in ("bert", "roberta", "distilbert"):
        model = tiny_models[family]
        run = next(r for r in (recipe_run(model, RECIPE_TEXT, s) for s in range(100)) if r.guesses)
        logits = model_logits(model, run.corrupted_ids.tolist())  # [T, V]
        selected = [g.position for g in run.guesses]
        targets = torch.tensor(run.input_ids[selected].tolist())
        losses = torch.nn.functional.cross_entropy(logits[selected], targets, reduction="none")
        assert run.total_loss == pytest.approx(float(losses.mean()), abs=1e-4)
        for guess, loss, position in zip(run.guesses, losses, selected):
            assert guess.loss == pytest.approx(float(loss), abs=1e-4)
            assert guess.original_prob == pytest.approx(math.exp(-float(loss)), rel=1e-4)
            assert guess.predicted_token == model.tokenizer.convert_ids_to_tokens(int(logits[position].argmax()))
            assert guess.input_token == run.corrupted_tokens[position]


def test_recipe_with_nothing_selected_has_no_loss(tiny_models):
    run = recipe_run(tiny_models["bert"], RECIPE_TEXT, seed=0, probability=0.0)
    assert run.guesses == () and run.total_loss is None and set(run.fate) == {"not selected"}
    assert run.corrupted_ids.tolist() == run.input_ids.tolist()


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_models_without_head_are_refused(embedded):
    analysis = analyze(embedded, SENTENCE)
    calls = [
        lambda: mask_and_predict(embedded, analysis, [2]),
        lambda: head_steps(embedded, analysis.hidden_states[-1, 2]),
        lambda: logit_lens(embedded, analysis.hidden_states, 2),
        lambda: compare_contexts(embedded, analysis, None, 2),
        lambda: recipe_run(embedded, SENTENCE, seed=0),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="no trained masked-LM head"):
            call()


def test_special_tokens_and_bad_indices_are_refused(tiny_models):
    model = tiny_models["bert"]
    analysis = analyze(model, SENTENCE)
    for indices in ([0], [2, analysis.num_tokens - 1], [analysis.num_tokens], []):
        with pytest.raises(InputError):
            mask_and_predict(model, analysis, indices)
    with pytest.raises(InputError, match=r"\[CLS\] is a special token"):
        mask_and_predict(model, analysis, [0])
