"""Attention figures at every size people use, without a browser."""

import dataclasses
import json

import numpy as np
import pytest

from bertviz_core import analyze
from bertviz_core.attention.comparison import compare
from bertviz_core.attention.heads import head_statistics
from bertviz_core.attention.rollout import norm_maps, rollout, token_views
from bertviz_core.attention.views import ViewOptions, view_matrix
from bertviz_core.charts.attention import (ISOLATE, OPEN_HEAD, difference_heatmap, head_grid, head_view, model_view,
                                           mosaic, pooled, strongest_links, token_comparison)
from bertviz_core.charts.clicks import clicked
from bertviz_core.charts.labels import token_labels


@pytest.fixture(scope="module")
def by_length(embedded):
    """Analyses of 1, 2, 128 and 512 tokens (1 token: [CLS] alone, cut from a real run)."""
    results = {n: analyze(embedded, "word " * 600, max_length=n) for n in (2, 128, 512)}
    two = results[2]
    one = dataclasses.replace(
        two, tokens=two.tokens[:1], input_ids=two.input_ids[:1], word_ids=two.word_ids[:1],
        special_mask=two.special_mask[:1], segment_ids=two.segment_ids[:1], offsets=two.offsets[:1],
        position_ids=two.position_ids[:1],
        attentions=np.ones((embedded.num_layers, embedded.num_heads, 1, 1), np.float32),
        hidden_states=two.hidden_states[:, :1], token_embeddings=two.token_embeddings[:1],
        position_embeddings=two.position_embeddings[:1], segment_embeddings=two.segment_embeddings[:1])
    return {1: one, **results}


@pytest.mark.parametrize("length", [1, 2, 128, 512])
def test_every_view_builds_at_every_length(embedded, by_length, length):
    result = by_length[length]
    assert result.num_tokens == length
    figure, drawn, omitted = head_view(view_matrix(result, result.attentions[0]), 0, [0, 3], top_k=3)
    assert drawn + omitted == int((result.attentions[0, [0, 3]] > 0).sum())
    assert model_view(view_matrix(result, result.attentions)).data[0].z.dtype == np.uint8
    stats = head_statistics(result)
    assert head_grid(stats.entropy, "entropy", "nats").data[0].z.shape == (result.num_layers, result.num_heads)
    if length > 1:
        norms = norm_maps(embedded, result)
        views = token_views(result, rollout(result.attentions), norms, 2, 1)
        assert len(token_comparison(views).data) == 3


def test_model_view_of_a_12_by_12_model_at_512_tokens_stays_under_8_mb(by_length):
    result = by_length[512]
    layers, heads = np.resize(np.arange(result.num_layers), 12), np.resize(np.arange(result.num_heads), 12)
    twelve = dataclasses.replace(result, attentions=result.attentions[layers][:, heads])  # BERT-base's 12 x 12
    sent = model_view(view_matrix(twelve, twelve.attentions)).to_json()
    assert len(sent) < 8_000_000
    z = json.loads(sent)["data"][0]["z"]
    assert z["dtype"] == "u1" and "bdata" in z  # binary, not JSON text


def test_mosaic_places_each_head_in_its_cell():
    attentions = np.zeros((2, 3, 4, 4), np.float32)
    attentions[1, 2] = np.eye(4)
    image = mosaic(attentions, cell=4, gap=1)
    assert image.shape == (2 * 5, 3 * 5)
    np.testing.assert_array_equal(image[5:9, 10:14], 254 * np.eye(4))
    assert (image[0:4, 0:4] == 0).all() and (image[4, :] == 255).all()


def test_pooled_keeps_the_strongest_weight_of_each_block():
    matrix = np.zeros((6, 6), np.float32)
    matrix[5, 5] = 0.9
    small = pooled(matrix, 3)
    assert small.shape == (3, 3) and small[2, 2] == pytest.approx(0.9) and small.sum() == pytest.approx(0.9)


def test_strongest_links_top_k_threshold_and_focus():
    matrix = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.0, 0.5, 0.5]], np.float32)
    links = strongest_links(matrix, top_k=1)
    assert links.columns.tolist() == [0, 2, 1] and links.omitted == 8 - 3
    focused = strongest_links(matrix, top_k=3, threshold=0.25, focus=0)
    assert focused.rows.tolist() == [0, 0] and focused.columns.tolist() == [0, 1] and focused.omitted == 1


def test_model_view_cells_are_clickable_with_1_based_layer_and_head(by_length):
    analysis = by_length[128]
    L, H = analysis.num_layers, analysis.num_heads
    figure = model_view(view_matrix(analysis, analysis.attentions))
    markers = next(trace for trace in figure.data if trace.customdata is not None)
    cells = [clicked([{"customdata": list(row)}], OPEN_HEAD) for row in markers.customdata]
    assert len(cells) == L * H and cells[0] == [1, 1] and cells[-1] == [L, H]
    assert cells == [[layer + 1, head + 1] for layer in range(L) for head in range(H)]
    assert markers.marker.color == "rgba(0,0,0,0)"
    # A click is read by what it carries, whatever the trace order: the image and other traces carry nothing.
    assert clicked([{"curve_number": 0, "point_index": 3}, {"customdata": list(markers.customdata[5])}],
                   OPEN_HEAD) == cells[5]
    assert clicked([{"customdata": [ISOLATE, 2]}], OPEN_HEAD) is None


def test_head_view_clicks_isolate_the_left_hand_tokens_only(by_length):
    result = by_length[128]
    figure, _, _ = head_view(view_matrix(result, result.attentions[1]), 1, [0, 1, 2], top_k=2)
    clickable = [trace for trace in figure.data if trace.customdata is not None]
    assert len(clickable) == 1 and clickable[0].x[0] == 0.0  # the left column, whatever comes before it
    rows = [clicked([{"customdata": list(row)}], ISOLATE) for row in clickable[0].customdata]
    assert rows == [[row] for row in range(result.num_tokens)]


def test_difference_heatmap_is_signed(embedded):
    a, b = analyze(embedded, "The cat sat on the mat."), analyze(embedded, "The dog sat on the mat.")
    comparison = compare(a, b)
    layer, head, _ = comparison.ranked[0]
    figure = difference_heatmap(comparison.difference[layer, head], ["x"] * len(comparison.rows),
                                ["x"] * len(comparison.columns), "B − A")
    assert figure.data[0].zmin == -figure.data[0].zmax and figure.data[0].zmid == 0


def test_head_and_model_views_draw_what_the_options_show(embedded):
    result = analyze(embedded, "The cat sat on the mat.", "It purred loudly.")
    block = view_matrix(result, result.attentions, ViewOptions(pair="A->B", words=True))  # [L, H, R, C]
    R, C = len(block.row_names), len(block.column_names)
    assert (R, C) == (9, 5)  # [CLS] the cat sat on the mat . [SEP] -> it purred loudly . [SEP]
    figure, drawn, omitted = head_view(view_matrix(result, result.attentions[2], ViewOptions(pair="A->B",
                                                                                              words=True)), 2, [1])
    left, right = figure.data[-2], figure.data[-1]
    assert list(left.text) == token_labels(block.row_names, block.row_positions)
    assert list(right.text) == token_labels(block.column_names, block.column_positions)
    assert drawn + omitted == int((block.matrix[2, 1] > 0).sum())
    lines = [y for trace in figure.data[:-2] for y in trace.y if y is not None and not np.isnan(y)]
    assert min(lines) > -max(R, C) and max(lines) <= 0
    image = model_view(block, cell=96).data[0].z
    assert image.shape == (result.num_layers * (R + 2), result.num_heads * (C + 2))
    cell = image[2 * (R + 2):2 * (R + 2) + R, 1 * (C + 2):1 * (C + 2) + C]  # layer 3, head 2
    expected = np.round(254 * block.matrix[2, 1] / block.matrix[2, 1].max())
    np.testing.assert_array_equal(cell, expected.astype(np.uint8))


def test_pooled_shrinks_each_side_on_its_own():
    matrix = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(pooled(matrix, 2), [[5, 7], [9, 11]])
    np.testing.assert_array_equal(pooled(matrix, 3), [[1, 3], [5, 7], [9, 11]])  # 4 columns: 2 blocks of 2
    assert pooled(np.zeros((130, 130)), 96).shape == (65, 65)  # blocks of 2, none left empty
    assert pooled(np.zeros((512, 512)), 96).shape == (86, 86) and pooled(np.zeros((90, 90)), 96).shape == (90, 90)
