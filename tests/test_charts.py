import json

import numpy as np
import pytest

from bertviz_core import analyze
from bertviz_core.charts import head_heatmap, token_labels


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
