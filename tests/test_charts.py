import json

import numpy as np
import pytest

from bertviz_core import analyze, analyze_many, model_summary
from bertviz_core.charts import head_heatmap, token_labels
from bertviz_core.charts.anatomy import architecture_diagram, parameter_chart
from bertviz_core.charts.inputs import PART_NAMES, input_heatmaps, input_norms, order_changes
from bertviz_core.charts.labels import safe_text
from bertviz_core.charts.tokenization import UNKNOWN_COLOUR, pieces_figure
from bertviz_core.charts.meaning import (class_probabilities, occurrence_paths, similarity_by_layer,
                                        similarity_matrix_figure, training_curve)
from bertviz_core.charts.qkv import heads_overview, score_steps, vectors_heatmap, weights_against_model
from bertviz_core.charts.mlm import (FATE_COLOURS, guesses_bars, lens_heatmap, logit_distribution, mask_matrix,
                                     recipe_chips, recipe_shares_chart)
from bertviz_core.charts.positions import dimension_curves, pca_path, similarity_heatmap, table_heatmap
from bertviz_core.positions import compare_orders, input_vectors
from bertviz_core.vectors import cosine_similarity, pca
from bertviz_core.classifier import classify, train_head
from bertviz_core.meaning import sentence_embeddings, similarity_matrix, word_across_sentences
from bertviz_core.mlm import (attention_masks, head_steps, logit_lens, mask_and_predict, recipe_run,
                              recipe_shares)
from bertviz_core.qkv import head_arithmetic
from bertviz_core.tokenization import tokenization_steps


def test_head_heatmap_shows_one_heads_matrix(embedded):
    result = analyze(embedded, "The bank of the river was flooded.")
    figure = head_heatmap(result, layer=2, head=7)
    trace = figure.data[0]
    np.testing.assert_array_equal(trace.z, result.attentions[2, 7])
    assert list(trace.x) == list(trace.y) == token_labels(result.tokens)
    assert trace.x[2] == "2 bank"
    assert figure.layout.title.text.startswith("Layer 3, head 8")  # shown 1-based
    assert "from %{y} → to %{x}" in trace.hovertemplate


def test_heatmap_is_sent_as_binary_float32(embedded):
    figure = head_heatmap(analyze(embedded, "word " * 600), 0, 0)
    z = json.loads(figure.to_json())["data"][0]["z"]
    assert z["dtype"] == "f4" and z["shape"] == "512, 512" and "bdata" in z
    assert len(figure.to_json()) < 2_000_000


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a & b"])
def test_labels_escape_markup(embedded, text):
    labels = token_labels(analyze(embedded, text).tokens)
    assert not any("<" in label or ">" in label for label in labels)
    assert "&lt;" in "".join(labels) or "&amp;" in "".join(labels)


def test_repeated_tokens_get_distinct_labels():
    assert token_labels(["the", "cat", "the"]) == ["0 the", "1 cat", "2 the"]


def test_position_figures_show_the_tables(embedded):
    result = analyze(embedded, "Cats sleep.")
    table = result.position_table[:64]
    heatmap = table_heatmap(table, "Learned")
    np.testing.assert_array_equal(heatmap.data[0].z, table)
    curves = dimension_curves(table, [0, 5, 999], "Learned")
    assert [trace.name for trace in curves.data] == ["dim 0", "dim 5"]  # out-of-range dimensions are skipped
    np.testing.assert_array_equal(curves.data[1].y, table[:, 5])
    similarity = similarity_heatmap(cosine_similarity(table), "Learned")
    assert similarity.data[0].z.shape == (64, 64)
    flat, solid = pca_path(pca(table, 2), "2D"), pca_path(pca(table, 3), "3D")
    assert flat.data[0].type == "scatter" and solid.data[0].type == "scatter3d" and len(solid.data[0].x) == 64


def test_input_figures_show_every_stage(embedded):
    result = analyze(embedded, "She loves cats")
    vectors = input_vectors(embedded, result)
    heatmaps = input_heatmaps(result, vectors, dimensions=16)
    assert [trace.name for trace in heatmaps.data] == list(PART_NAMES)
    np.testing.assert_array_equal(heatmaps.data[4].z, vectors.normalized[:, :16])
    norms = input_norms(result, vectors)
    np.testing.assert_allclose(norms.data[0].y, np.linalg.norm(result.token_embeddings, axis=1), rtol=1e-6)
    changes = order_changes(compare_orders(result, analyze(embedded, "cats loves She")))
    assert list(changes.data[0].y) == [0.0] * 5 and changes.data[0].x[1] == "she (1→3)"


def test_architecture_figures_carry_the_config_numbers(tiny_models):
    summary = model_summary(tiny_models["albert"])
    text = " ".join(annotation.text for annotation in architecture_diagram(summary).layout.annotations)
    assert "Encoder layer  x 3" in text and "4 heads x 8 dims" in text and "32 → 37 → 32" in text
    assert "Embedding projection" in text and "linear 16 → 32" in text and "not in this checkpoint" not in text
    assert "sharing one set of weights across all 3 layers" in text and "each with its own weights" not in text
    bars = parameter_chart(summary).data[0]
    assert list(bars.y) == [name for name, _ in summary.parameters]
    assert sum(bars.x) == summary.total_parameters


def test_pieces_figure_draws_every_piece(embedded):
    steps = tokenization_steps(embedded.tokenizer, "Unaffable owners <b>like</b> 😀.")
    figure = pieces_figure(steps)
    assert list(figure.data[0].text) == [safe_text(piece) for piece in steps.pieces]
    unknown = [shape for shape in figure.layout.shapes if shape.fillcolor == UNKNOWN_COLOUR]
    assert len(unknown) == sum(len(w.pieces) for w in steps.words if w.unknown) == 1
    assert not any("<b>" in text for text in figure.data[0].text)


def test_qkv_figures_show_the_head_arithmetic(embedded):
    result = analyze(embedded, "The bank of the river was flooded.")
    step = head_arithmetic(embedded, result, layer=1, head=3, query_index=2)
    scores = score_steps(step, result.tokens)
    np.testing.assert_array_equal(scores.data[0].y, step.scores)
    np.testing.assert_array_equal(scores.data[1].y, step.scaled)
    weights = weights_against_model(step, result.attentions[1, 3, 2], result.tokens)
    np.testing.assert_allclose(weights.data[0].y, weights.data[1].y, atol=1e-5)  # computed here == the model's
    keys = vectors_heatmap(step.keys, token_labels(result.tokens), "k")
    assert keys.data[0].z.shape == (result.num_tokens, 32)
    overview = heads_overview(result.attentions[1, :, 2], result.tokens, "2 bank")
    assert overview.data[0].z.shape == (result.num_heads, result.num_tokens) and list(overview.data[0].y)[0] == "head 1"


def test_meaning_figures(embedded):
    sentences = ["I sat on the bank of the river.", "I deposited money at the bank.", "The bank raised rates."]
    found = word_across_sentences(analyze_many(embedded, sentences), "bank")
    lines = similarity_by_layer(found, sentences)
    assert len(lines.data) == 3 and len(lines.data[0].y) == embedded.num_layers + 2
    assert lines.data[0].y[0] == found.token_similarity[0, 1]
    np.testing.assert_array_equal(lines.data[0].y[1:], found.similarity[:, 0, 1])
    assert len(occurrence_paths(found, sentences).data) == 3
    matrix = similarity_matrix(sentence_embeddings(analyze_many(embedded, sentences)))
    np.testing.assert_array_equal(similarity_matrix_figure(matrix, sentences).data[0].z, matrix)
    head = train_head(sentence_embeddings(analyze_many(embedded, sentences)), ["river", "money", "money"])
    assert len(training_curve(head).data[0].y) == len(head.losses)
    probabilities = classify(head, sentence_embeddings(analyze_many(embedded, ["A loan from the bank."])))
    bars = class_probabilities(head, probabilities, ["A loan from the bank."])
    assert [trace.name for trace in bars.data] == ["river", "money"]
    assert bars.data[0].x[0] + bars.data[1].x[0] == pytest.approx(1.0)


def test_mlm_figures(tiny_models):
    model = tiny_models["bert"]
    result = analyze(model, "The farmers cultivate the [MASK] to grow crops.")
    prediction = mask_and_predict(model, result, [result.masks[0].position, 2], top_k=4)
    guess = prediction.guesses[1]
    bars = guesses_bars(guess.tokens, guess.probs, guess.logits, "<b>x</b>", highlight=guess.original_token)
    np.testing.assert_array_equal(bars.data[0].x, guess.probs)
    assert bars.layout.title.text == "&lt;b&gt;x&lt;/b&gt;"
    steps = head_steps(model, prediction.hidden_states[-1][guess.position], top_k=4)
    distribution = logit_distribution(steps)
    assert len(distribution.data[0].x) == model.config.vocab_size
    highest = np.sort(steps.logits)[::-1][:3]  # a dotted line at each of the three highest logits
    assert [line.x0 for line in distribution.layout.shapes] == pytest.approx(highest.tolist())
    assert [note.text for note in distribution.layout.annotations] == [safe_text(t) for t in steps.top_tokens[:3]]
    lens = logit_lens(model, prediction.hidden_states, guess.position, top_k=4)
    assert lens_heatmap(lens).data[0].z.shape == (model.num_layers + 1, 4)
    full, causal = attention_masks(5)
    assert mask_matrix(causal, result.tokens[:5], "causal").data[0].z.sum() == 15
    run = recipe_run(model, result.text, seed=3)
    fills = {shape.fillcolor for shape in recipe_chips(run).layout.shapes}
    assert fills <= set(FATE_COLOURS.values()) and FATE_COLOURS["not selected"] in fills
    shares = recipe_shares(model.tokenizer, result.text, 200, seed=1)
    chart = recipe_shares_chart(shares)
    assert list(chart.data[0].y) == list(shares.shares) and list(chart.data[1].y) == list(shares.expected)


def test_figure_bytes_counts_the_data_arrays(embedded):
    import plotly.io

    from bertviz_core.charts import figure_bytes

    small, large = (head_heatmap(analyze(embedded, "word " * n, max_length=n), 0, 0) for n in (16, 256))
    assert figure_bytes(large) >= large.data[0].z.nbytes > figure_bytes(small)
    sent = len(plotly.io.to_json(large, validate=False))  # base64 JSON of the same arrays
    assert sent / 2 < figure_bytes(large) < sent * 2
