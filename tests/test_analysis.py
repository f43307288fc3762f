import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer, pipeline

from bertviz_core import Analysis, InputError, analyze, load_model
from bertviz_core.analysis import analysis_bytes

from tiny_models import FAMILIES

SENTENCE = "The bank of the river was flooded."


def reference_outputs(path, text, pair=None):
    """transformers' own outputs from an independently loaded copy of the checkpoint."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    with torch.no_grad():
        return model(**tokenizer(text, pair, return_tensors="pt"), output_attentions=True, output_hidden_states=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_attentions_and_hidden_states_equal_transformers(tiny_dirs, tiny_models, family):
    result = analyze(tiny_models[family], SENTENCE, "Cats sleep.")
    reference = reference_outputs(tiny_dirs[family], SENTENCE, "Cats sleep.")
    L, H, T = len(reference.attentions), reference.attentions[0].shape[1], reference.attentions[0].shape[-1]
    assert result.attentions.shape == (L, H, T, T) and result.attentions.dtype == np.float32
    np.testing.assert_allclose(result.attentions, torch.stack(reference.attentions)[:, 0].numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(result.hidden_states, torch.stack(reference.hidden_states)[:, 0].numpy(), atol=1e-5,
                               rtol=0)
    np.testing.assert_allclose(result.attentions.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("family", ["bert", "albert"])  # ALBERT runs one shared attention module in every layer
def test_attentions_come_from_one_pass_without_output_attentions(tiny_models, family, monkeypatch):
    model, calls = tiny_models[family], []
    forward = model.encoder.forward
    monkeypatch.setattr(model.encoder, "forward", lambda *a, **kw: calls.append(kw) or forward(*a, **kw))
    result = analyze(model, SENTENCE)
    assert len(calls) == 1 and not calls[0].get("output_attentions")  # torch kept no layer's weights to the end
    assert result.attentions.shape[0] == model.num_layers and not result.attentions.flags.writeable


def test_a_model_without_attention_weights_is_refused(tiny_dirs):
    model = load_model(str(tiny_dirs["bert"]))
    model.encoder.set_attn_implementation("sdpa")  # computes attention without returning its weights
    with pytest.raises(RuntimeError, match="eager attention"):
        analyze(model, SENTENCE)


@pytest.mark.parametrize("family", FAMILIES)
def test_input_parts_rebuild_the_first_hidden_state(tiny_models, family):
    model = tiny_models[family]
    result = analyze(model, SENTENCE, "A second text.")
    parts = result.token_embeddings + result.position_embeddings + result.segment_embeddings  # [T, E]
    embeddings = model.encoder.embeddings
    with torch.no_grad():
        rebuilt = embeddings.LayerNorm(torch.from_numpy(parts))
        projection = model.layout.projection(model.encoder)
        rebuilt = projection(rebuilt) if projection is not None else rebuilt
    np.testing.assert_allclose(rebuilt.numpy(), result.hidden_states[0], atol=1e-5, rtol=0)
    # Each part is a real row of its table.
    np.testing.assert_array_equal(result.token_embeddings, embeddings.word_embeddings.weight[torch.tensor(result.input_ids.tolist())].numpy())
    np.testing.assert_array_equal(result.position_embeddings, result.position_table[result.position_ids])
    np.testing.assert_array_equal(result.position_table, embeddings.position_embeddings.weight.numpy())
    if family == "distilbert":
        assert not result.segment_embeddings.any()


def test_roberta_positions_start_after_padding_index(tiny_models):
    result = analyze(tiny_models["roberta"], "Cats sleep.")
    offset = tiny_models["roberta"].config.pad_token_id + 1
    np.testing.assert_array_equal(result.position_ids, np.arange(offset, offset + result.num_tokens))


def test_bert_positions_and_segments(tiny_models):
    result = analyze(tiny_models["bert"], "Cats sleep.", "Dogs bark loudly.")
    np.testing.assert_array_equal(result.position_ids, np.arange(result.num_tokens))
    tokens = list(result.tokens)
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
    first_sep = tokens.index("[SEP]")
    assert set(result.segment_ids[: first_sep + 1]) == {0} and set(result.segment_ids[first_sep + 1:]) == {1}
    assert result.special_mask.tolist() == [t in ("[CLS]", "[SEP]") for t in tokens]
    words = result.word_ids[~result.special_mask]
    assert words.tolist() == sorted(words.tolist()) and words.max() == 6  # cats sleep . dogs bark loudly .
    assert (result.word_ids[result.special_mask] == -1).all()
    dogs = tokens.index("dogs")
    start, end = result.offsets[dogs]
    assert result.text_pair[start:end] == "Dogs"


@pytest.mark.parametrize("family", FAMILIES)
def test_fill_mask_top_k_equals_transformers_pipeline(tiny_models, family):
    model = tiny_models[family]
    text = "Paris is the [MASK] of France and the [MASK] is big."
    result = analyze(model, text, top_k=5)
    reference = pipeline("fill-mask", model=model.model, tokenizer=model.tokenizer, top_k=5)(result.text)
    assert len(result.masks) == 2
    for mask, expected in zip(result.masks, reference):
        assert mask.token_ids.tolist() == [guess["token"] for guess in expected]
        np.testing.assert_allclose(mask.probs, [guess["score"] for guess in expected], rtol=1e-5)
        assert mask.full_logits is None


def test_roberta_accepts_the_bracket_mask_alias(tiny_models):
    result = analyze(tiny_models["roberta"], "The cat [MASK] on the mat.")
    assert "<mask>" in result.text and len(result.masks) == 1
    assert result.tokens[result.masks[0].position] == "<mask>"


def test_full_logits_on_request_match_top_k(tiny_models):
    model = tiny_models["bert"]
    mask = analyze(model, "The cat [MASK] on the mat.", top_k=3, full_logits=True).masks[0]
    assert mask.full_logits.shape == (model.config.vocab_size,)
    np.testing.assert_array_equal(np.argsort(-mask.full_logits)[:3], mask.token_ids)
    np.testing.assert_allclose(mask.full_logits[mask.token_ids], mask.logits)


def test_no_masks_without_a_head(embedded):
    assert analyze(embedded, "The cat [MASK] on the mat.").masks == ()


def test_long_text_is_truncated_and_says_so(embedded):
    result = analyze(embedded, "word " * 700)
    assert result.truncated and result.num_tokens == 512 and result.original_length == 702
    assert result.attentions.shape == (embedded.num_layers, embedded.num_heads, 512, 512)
    short = analyze(embedded, "word " * 700, max_length=16)
    assert short.num_tokens == 16 and short.max_length == 16


def test_text_read_is_what_the_model_read(embedded):
    short = analyze(embedded, "Cats sleep.")
    assert short.text_read == short.text
    long = analyze(embedded, "cats " * 700)
    assert long.text_read == "cats " * 509 + "cats"  # 510 words between [CLS] and [SEP]
    assert len(embedded.tokenizer(long.text_read)["input_ids"]) == long.num_tokens


def test_pair_longer_than_the_limit_is_truncated(embedded):
    result = analyze(embedded, "first " * 400, "second " * 400)
    assert result.truncated and result.num_tokens == 512 and set(result.segment_ids) == {0, 1}


def test_result_is_frozen_and_detached(embedded):
    result = analyze(embedded, SENTENCE)
    assert isinstance(result, Analysis)
    with pytest.raises(ValueError):
        result.attentions[0, 0, 0, 0] = 1.0
    with pytest.raises(AttributeError):
        result.text = "changed"
    assert result.nbytes >= result.attentions.nbytes + result.hidden_states.nbytes


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(embedded, text):
    with pytest.raises(InputError, match="Enter some text"):
        analyze(embedded, text)


@pytest.mark.parametrize("text", ["a", "😀 猫 مرحبا", "zero\u200bwidth\x07bell"])
def test_unusual_text_is_analysed(embedded, text):
    result = analyze(embedded, text)
    assert result.num_tokens >= 3
    np.testing.assert_allclose(result.attentions.sum(-1), 1.0, atol=1e-5)


def test_embedded_attention_equals_transformers(embedded):
    result = analyze(embedded, SENTENCE)
    reference = reference_outputs(embedded.location, SENTENCE)
    np.testing.assert_allclose(result.attentions, torch.stack(reference.attentions)[:, 0].numpy(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("text, pair", [("The [MASK] sat on the mat.", None), ("word " * 600, None),
                                        ("A cat.", "A dog.")])
def test_the_memory_an_analysis_keeps_is_known_before_it_runs(tiny_models, offline, text, pair):
    for model in (*tiny_models.values(), offline):
        expected = analysis_bytes(model, text, pair)
        assert expected == pytest.approx(analyze(model, text, pair).nbytes, rel=0.01), model.name
