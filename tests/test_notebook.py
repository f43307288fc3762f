"""The notebook face: bertviz's two calls on a real transformers forward pass, the one-liners on text, and the tour
run in a Jupyter kernel (its figures drawing offline in Chromium: tests/e2e/test_notebook_offline.py)."""

import ast
import re

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from bertviz_core import InputError, analyze, notebook
from bertviz_core.charts import token_labels
from bertviz_core.charts.attention import OPACITY_LEVELS, OPEN_HEAD
from bertviz_core.explain.decompose import decompose_tokens
from bertviz_core.explain.target import mask_target
from notebook_run import PLOTLY_JSON, figures, outputs
from tiny_models import save_tiny_model

PAIR = ("The cat sat on the mat.", "She loves cats and dogs.")


@pytest.fixture(scope="module")
def bert_pass(tmp_path_factory):
    """A tiny random BertModel's forward pass on a sentence pair, as a bertviz user runs it. Weights drawn wide
    (initializer_range 0.5) so that attention is far from uniform and the strongest links are clear."""
    folder = save_tiny_model("bert", tmp_path_factory.mktemp("peaky") / "bert", initializer_range=0.5)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager")
    inputs = tokenizer(*PAIR, return_tensors="pt")
    with torch.no_grad():
        attentions = model(**inputs, output_attentions=True).attentions
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    return attentions, tokens, inputs["token_type_ids"][0].tolist().index(1)


def drawn_lines(figure) -> dict[tuple[int, int, int], int]:
    """(head, row, column) -> opacity step (0-based) of every line a head view draws, read back from its traces."""
    lines = {}
    for trace in figure.data:
        if trace.mode != "lines":
            continue
        head = int(trace.name.removeprefix("head ")) - 1
        level = round((trace.opacity - 0.15) / 0.85 * OPACITY_LEVELS) - 1
        ys = np.asarray(trace.y, dtype=float).reshape(-1, 3)  # [N, 3]: -row, -column, gap
        for row, column in -ys[:, :2]:
            lines[head, int(row), int(column)] = level
    return lines


def expected_lines(weights: torch.Tensor, heads: list[int], top_k: int) -> dict[tuple[int, int, int], int]:
    """The same from the attention weights [H, R, C] with torch: each row's top_k keys and the step of each weight
    (a weight that underflowed to 0 draws nothing)."""
    values, columns = weights.topk(top_k, dim=-1)  # [H, R, k] each
    return {(head, row, int(columns[head, row, n])): min(int(values[head, row, n] * OPACITY_LEVELS), OPACITY_LEVELS - 1)
            for head in heads for row in range(weights.shape[1]) for n in range(top_k) if values[head, row, n] > 1e-12}


def test_head_view_draws_the_forward_passs_own_attention(bert_pass):
    attentions, tokens, _ = bert_pass
    T = len(tokens)
    figure = notebook.head_view(attentions, tokens, layer=1, heads=[0, 2], top_k=3)
    assert drawn_lines(figure) == expected_lines(attentions[1][0], [0, 2], 3)
    assert {level for level in drawn_lines(figure).values()} != {0}  # some lines are strong: the check has teeth
    left, right = (trace for trace in figure.data if trace.mode == "text")
    assert list(left.text) == list(right.text) == token_labels(tokens)
    assert figure.layout.title.text.startswith("Layer 2:")
    every_link = notebook.head_view(attentions, tokens, top_k=T)  # bertviz's default: layer 0, every head, all links
    assert drawn_lines(every_link) == expected_lines(attentions[0][0], list(range(4)), T)


def test_sentence_b_start_splits_the_pair_as_bertviz_does(bert_pass):
    attentions, tokens, b_start = bert_pass
    assert tokens[b_start - 1] == "[SEP]" and tokens[b_start] == "she"
    figure = notebook.head_view(attentions, tokens, b_start, layer=2, heads=[1], top_k=len(tokens), pair="A->B")
    left, right = (trace for trace in figure.data if trace.mode == "text")
    assert list(left.text) == token_labels(tokens[:b_start])  # [CLS] and the first [SEP] belong to A
    assert list(right.text) == token_labels(tokens[b_start:], range(b_start, len(tokens)))
    block = attentions[2][0][:, :b_start, b_start:]  # [H, A, B]: A's rows keep their weights, not renormalised
    assert drawn_lines(figure) == expected_lines(block, [1], len(tokens) - b_start)
    with pytest.raises(ValueError, match="sentence_b_start"):
        notebook.model_view(attentions, tokens, pair="A->B")


def test_model_view_draws_every_chosen_head_scaled_to_its_maximum(bert_pass):
    attentions, tokens, b_start = bert_pass
    T = len(tokens)
    image = np.asarray(notebook.model_view(attentions, tokens).data[0].z)  # [L*(T+2), H*(T+2)] uint8
    assert image.shape == (3 * (T + 2), 4 * (T + 2))
    for layer in range(3):
        for head in range(4):
            weights = attentions[layer][0, head]  # [T, T]
            expected = torch.round(254 * weights / weights.max()).numpy()
            cell = image[layer * (T + 2):layer * (T + 2) + T, head * (T + 2):head * (T + 2) + T]
            assert np.abs(cell - expected).max() <= 1

    some = notebook.model_view(attentions, tokens, b_start, include_layers=[2, 0], include_heads=[3, 1], pair="B->A")
    image, cells = np.asarray(some.data[0].z), some.data[1]
    B, A = T - b_start, b_start
    assert image.shape == (2 * (B + 2), 2 * (A + 2))
    weights = attentions[2][0, 3, b_start:, :b_start]  # the first cell: layer 3, head 4, B's rows -> A's columns
    assert np.abs(image[:B, :A] - torch.round(254 * weights / weights.max()).numpy()).max() <= 1
    assert list(some.layout.yaxis.ticktext) == ["layer 3", "layer 1"]
    assert list(some.layout.xaxis.ticktext) == ["head 4", "head 2"]
    assert [list(c) for c in cells.customdata] == [[OPEN_HEAD, 3, 4], [OPEN_HEAD, 3, 2], [OPEN_HEAD, 1, 4],
                                                   [OPEN_HEAD, 1, 2]]


def test_encoder_arguments_mean_what_they_mean_in_bertviz_and_decoders_are_refused(bert_pass):
    attentions, tokens, _ = bert_pass
    same = notebook.model_view(encoder_attention=attentions, encoder_tokens=tokens)
    assert np.array_equal(same.data[0].z, notebook.model_view(attentions, tokens).data[0].z)
    for wrong in (dict(decoder_attention=attentions, decoder_tokens=tokens), dict(cross_attention=attentions)):
        with pytest.raises(ValueError, match="BERT Lens shows encoders"):
            notebook.head_view(encoder_attention=attentions, encoder_tokens=tokens, **wrong)
    with pytest.raises(ValueError, match="tokens"):
        notebook.head_view(attentions)
    with pytest.raises(ValueError, match="positions, while number of tokens"):
        notebook.head_view(attentions, tokens[:-1])
    with pytest.raises(ValueError, match="batch of 2"):
        notebook.model_view(tuple(layer.expand(2, -1, -1, -1) for layer in attentions), tokens)
    with pytest.raises(ValueError, match="Layer 1 is not in include_layers"):
        notebook.head_view(attentions, tokens, layer=1, include_layers=[0, 2])
    with pytest.raises(ValueError, match="display_mode"):
        notebook.model_view(attentions, tokens, display_mode="sepia")


def test_html_action_return_gives_a_page_that_works_offline(bert_pass):
    attentions, tokens, _ = bert_pass
    page = notebook.model_view(attentions, tokens, html_action="return").data
    assert "Plotly.newPlot" in page and not re.findall(r"<script[^>]*\bsrc\s*=", page)
    assert notebook.model_view(attentions, tokens, display_mode="dark").layout.template.layout.paper_bgcolor


def test_512_tokens_of_a_12_head_layer():
    T, generator = 512, torch.Generator().manual_seed(0)
    attentions = tuple(torch.randn(1, 12, T, T, generator=generator).softmax(-1) for _ in range(2))
    tokens = [f"w{n}" for n in range(T)]
    image = np.asarray(notebook.model_view(attentions, tokens).data[0].z)
    assert image.shape == (2 * (86 + 2), 12 * (86 + 2))  # each head pooled to 86 x 86 blocks of 6 tokens
    lines = drawn_lines(notebook.head_view(attentions, tokens, layer=1, heads=[5]))
    assert lines.keys() == expected_lines(attentions[1][0], [5], 5).keys()


# ---------------------------------------------------------------------------------------------
# One-liners on text
# ---------------------------------------------------------------------------------------------


def test_the_one_liners_draw_what_the_pages_draw(offline):
    text = "The bank of the river was flooded."
    result = analyze(offline, text)
    heatmap = notebook.attention(text, offline, layer=2, head=3)
    assert np.array_equal(heatmap.data[0].z, result.attentions[1, 2])
    assert heatmap.layout.title.text == "Layer 2, head 3: each row is where one token looks"
    words = notebook.attention(text, offline, view="model", words=True, hide_special=True)
    assert words.layout.title.text.startswith("All 6 layers x 12 heads")
    assert notebook.attention(text, offline, view="head", layer=6).layout.title.text.startswith("Layer 6:")

    masked = "Paris is the [MASK] of France."
    guesses = notebook.fill_mask(masked, offline, k=3).data[0]
    assert list(guesses.y) == list(analyze(offline, masked).masks[0].tokens[:3])
    assert np.allclose(guesses.x, analyze(offline, masked).masks[0].probs[:3], atol=1e-5)

    weights = notebook.qkv(text, offline, layer=2, head=3, query=2)
    assert np.allclose(weights.data[1].y, result.attentions[1, 2, 2])  # the model's row, beside the one computed
    assert np.allclose(weights.data[0].y, result.attentions[1, 2, 2], atol=1e-5)

    similarity = notebook.positions(offline, length=16).data[0].z
    assert similarity.shape == (16, 16) and np.allclose(np.diag(similarity), 1, atol=1e-5)
    assert notebook.positions(offline, view="path", formula=True).layout.title.text.startswith("Sinusoidal")

    lines = ["river: I sat on the bank of the river.", "river: The boat drifted towards the muddy bank.",
             "money: I deposited money at the bank."]
    assert len(notebook.contextual(lines, "bank", offline).data) == 3  # one line per pair of occurrences
    assert notebook.contextual("\n".join(lines), "bank", offline, view="senses").data[2].name.startswith("gap")

    scores = notebook.attributions("The nurse said that [MASK] was tired.", offline, methods=["attention", "rollout"])
    assert list(scores.data[0].y) == ["Raw attention (last layer, mean of heads)", "Attention rollout"]

    nurse = "The nurse said that [MASK] was tired."
    parts = notebook.decomposition(nurse, offline).data[0]
    found = decompose_tokens(offline, analyze(offline, nurse), mask_target(offline, analyze(offline, nurse)))
    assert np.allclose(parts.y, np.append(found.parts, found.bias), atol=1e-5)
    assert sum(parts.y) == pytest.approx(found.logit, rel=1e-4)  # the bars add up to the model's own logit
    assert notebook.decomposition(nurse, offline, view="components").data[0].z.shape == (6, 13)
    assert notebook.decomposition(nurse, offline, view="routes").layout.title.text.startswith("Routes into 5 [MASK]")


def test_the_one_liners_refuse_bad_input_with_a_sentence(offline):
    with pytest.raises(InputError, match="No mask"):
        notebook.fill_mask("No mask here.", offline)
    with pytest.raises(InputError, match="Layers run from 1 to 6"):
        notebook.attention("Cats.", offline, layer=0)
    with pytest.raises(InputError, match="view is one of"):
        notebook.positions(offline, view="spiral")
    with pytest.raises(InputError, match="hide every token"):
        notebook.attention("...", offline, hide_special=True, hide_punctuation=True)


def test_corpus_search_indexes_the_sentences_it_is_given(tiny_models):
    model = tiny_models["bert"]
    corpus = ["The cat sat on the mat.", "She loves cats and dogs.", "The bank of the river was flooded."]
    matches = notebook.corpus_search("A cat sat down.", 2, model, corpus=corpus, k=4, layer=1)
    assert sum(matches.data[0].x) == 4 and matches.layout.title.text.endswith("(layer 1)")
    layers = notebook.corpus_search("A cat sat down.", 2, model, corpus=corpus, k=4, view="layers")
    assert list(layers.data[0].x) == list(range(4))  # the embedding output and the 3 layers


def test_a_model_spec_is_loaded_once_per_process():
    assert notebook.model_for("offline") is notebook.model_for(" offline ")


# ---------------------------------------------------------------------------------------------
# The tour, run in Jupyter
# ---------------------------------------------------------------------------------------------


TOUR_FIGURES = [({"scatter"}, "Layer 3: lines from each token"), ({"heatmap", "scatter"}, "All 6 layers x 12 heads"),
                ({"heatmap", "scatter"}, "All 6 layers x 12 heads"), ({"heatmap"}, "Layer 2, head 3"),
                ({"bar"}, "typed mask"), ({"bar", "scatter"}, "Softmax"),
                ({"scatter"}, "How alike the occurrences of “bank”"), ({"heatmap"}, "Each method's scores")]


def test_the_tour_runs_in_jupyter_and_shows_the_apps_figures(executed_tour):
    shown = figures(executed_tour)
    assert len(shown) == len(TOUR_FIGURES)
    for figure, (types, title) in zip(shown, TOUR_FIGURES):
        assert {trace["type"] for trace in figure["data"]} == types and title in figure["layout"]["title"]["text"]
    layers, shape, b_start = ast.literal_eval(next(data["text/plain"] for data in outputs(executed_tour)
                                                   if "text/plain" in data))
    T = shape[-1]
    assert (layers, shape) == (6, (1, 12, T, T)) and 2 < b_start < T - 2
    everything, a_to_b = shown[1]["data"][0]["z"], shown[2]["data"][0]["z"]  # uint8 images, base64 with a shape
    assert everything["shape"] == f"{6 * (T + 2)}, {12 * (T + 2)}"  # T tokens and a gap of 2 per cell
    assert a_to_b["shape"] == f"{6 * (b_start + 2)}, {12 * (T - b_start + 2)}"  # sentence A's rows, B's columns


def test_the_tour_embeds_plotly_js_once_and_loads_nothing(executed_tour):
    html = [data.get("text/html", "") for data in outputs(executed_tour)]
    copies = [n for n, text in enumerate(html) if "* plotly.js v" in text]
    assert len(copies) == 1 and sum(text.count("* plotly.js v") for text in html) == 1
    first_figure = next(n for n, data in enumerate(outputs(executed_tour)) if PLOTLY_JSON in data)
    assert copies[0] == first_figure - 1  # shown just before the first figure
    assert all("Plotly.newPlot" in html[n] for n, data in enumerate(outputs(executed_tour))
               if PLOTLY_JSON in data)
    assert not any(re.findall(r"<script[^>]*\bsrc\s*=", text) for text in html)
    assert not any("cdn.plot.ly" in text for n, text in enumerate(html) if n != copies[0])  # (plotly.js names it
    # in a setting of its geographic maps, which no figure here draws)
