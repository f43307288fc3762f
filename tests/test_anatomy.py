import pytest

from bertviz_core import model_summary
from bertviz_core.anatomy import REFERENCES, comparison_rows

from tiny_models import FAMILIES


@pytest.mark.parametrize("family", FAMILIES)
def test_parameter_counts_add_up_to_the_model(tiny_models, family):
    model = tiny_models[family]
    summary = model_summary(model)
    unique = {id(p): p.numel() for p in model.model.parameters()}  # tied weights once
    assert summary.total_parameters == sum(unique.values())
    names = [name for name, _ in summary.parameters]
    assert names[0] == "embeddings" and f"layer {summary.layers} feed-forward" in names and "MLM head" in names


def test_bert_layer_counts_equal_the_formula(tiny_models):
    summary = model_summary(tiny_models["bert"])
    D, F, V, P, S = summary.hidden_size, summary.intermediate_size, summary.vocab_size, 64, summary.segments
    counts = dict(summary.parameters)
    assert counts["layer 1 attention"] == 4 * (D * D + D) + 2 * D  # Q, K, V, output; LayerNorm
    assert counts["layer 1 feed-forward"] == (D * F + F) + (F * D + D) + 2 * D
    assert counts["embeddings"] == (V + P + S) * D + 2 * D
    assert (summary.layers, summary.heads, summary.head_size, summary.segments) == (3, 4, 8, 2)


def test_albert_shares_one_layer(tiny_models):
    counts = dict(model_summary(tiny_models["albert"]).parameters)
    assert counts["layer 1 attention"] > 0 and counts["layer 2 attention"] == counts["layer 3 feed-forward"] == 0
    assert model_summary(tiny_models["albert"]).weight_sets == 1 and model_summary(tiny_models["bert"]).weight_sets == 3


@pytest.mark.parametrize("family", FAMILIES)
def test_decoder_tied_is_read_from_the_weights(tiny_models, family):
    model = tiny_models[family]
    decoder = model.model.get_output_embeddings()
    tied = decoder.weight.data_ptr() == model.encoder.embeddings.word_embeddings.weight.data_ptr()
    assert model_summary(model).decoder_tied == model.decoder_tied == tied


def test_embedded_summary_and_reference_rows(embedded):
    summary = model_summary(embedded)
    config = embedded.config
    assert (summary.layers, summary.heads, summary.hidden_size, summary.intermediate_size) == (
        config.num_hidden_layers, config.num_attention_heads, config.hidden_size, config.intermediate_size)
    assert summary.total_parameters == 22_713_216 and not summary.has_mlm_head and summary.activation == "gelu"
    rows = comparison_rows(summary)
    assert rows[0].model == "all-MiniLM-L6-v2 (loaded)" and rows[0].parameters_millions == 22.7
    assert rows[1:] == REFERENCES and all("(reference)" in r.model for r in REFERENCES)
