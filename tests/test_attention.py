"""Reading attention maps (bertviz_core.attention) against references computed another way."""

import contextlib
import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from bertviz_core import analyze
from bertviz_core.analysis import frozen_array
from bertviz_core.attention.comparison import compare
from bertviz_core.attention.heads import (ROLES, STOP_WORDS, HeadStatistics, content_heads, head_roles, head_statistics,
                                          is_content)
from bertviz_core.attention.rollout import norm_maps, rollout, spearman, token_views
from bertviz_core.attention.views import (PAIR_BLOCKS, ViewOptions, filtered, is_punctuation, keep_mask, merge_words,
                                          pair_block, view_matrix, word_units)
from bertviz_core.qkv import value_norms

from tiny_models import FAMILIES, value_and_output_weights

MODELS = (*FAMILIES, "embedded")
SENTENCE, PAIR = "The bank of the river, sadly, was flooded.", "Cats sleep."
LONG_WORDS = "The unaffable antidisestablishmentarianism clerk."
SIZES = (1, 2, 128, 512)


@pytest.fixture
def model(request, tiny_models):
    name = request.param
    return request.getfixturevalue("embedded") if name == "embedded" else tiny_models[name]


@pytest.fixture(scope="module")
def pair(embedded):
    return analyze(embedded, SENTENCE, PAIR)


def read_only_float32(*arrays):
    return all(array.dtype == np.float32 and not array.flags.writeable for array in arrays)


# --- Independent references, written out here rather than taken from the module under test. ---


def plain_rollout(attentions):
    """Abnar & Zuidema's rollout, one layer at a time with Python loops."""
    L, H, T, _ = attentions.shape
    result, current = [], np.eye(T)
    for layer in range(L):
        mixed = sum(attentions[layer, h].astype(np.float64) for h in range(H)) / H + np.eye(T)
        for i in range(T):
            mixed[i] = mixed[i] / mixed[i].sum()
        current = mixed @ current
        result.append(current)
    return np.array(result)


def value_modules(model):
    """Each family's value linear, reached by its own attribute names (ALBERT's shared one runs once per layer)."""
    base = model.encoder
    if model.family == "distilbert":
        return [layer.attention.v_lin for layer in base.transformer.layer]
    if model.family == "albert":
        return [group.albert_layers[0].attention.value for group in base.encoder.albert_layer_groups]
    return [layer.attention.self.value for layer in base.encoder.layer]


@contextlib.contextmanager
def capture_values(model):
    captured = []
    handles = [m.register_forward_hook(lambda mod, args, out: captured.append(out[0].double().numpy().copy()))
               for m in value_modules(model)]
    try:
        yield captured  # one [T, H*d] per layer, in call order
    finally:
        for handle in handles:
            handle.remove()


def one_token(model):
    """A real one-token analysis: the encoder run on [CLS] alone (``analyze`` always adds [CLS] and [SEP])."""
    two = analyze(model, "word", max_length=2)
    with torch.inference_mode():
        output = model.encoder(input_ids=torch.tensor(two.input_ids[None, :1]), output_attentions=True,
                               output_hidden_states=True)
    first = {name: frozen_array(getattr(two, name)[:1], getattr(two, name).dtype)
             for name in ("input_ids", "word_ids", "special_mask", "segment_ids", "offsets", "position_ids",
                          "token_embeddings", "position_embeddings", "segment_embeddings")}
    return dataclasses.replace(
        two, tokens=two.tokens[:1], **first, original_length=1,
        attentions=frozen_array(torch.stack(output.attentions)[:, 0]),
        hidden_states=frozen_array(torch.stack(output.hidden_states)[:, 0]),
    )


def of_size(model, size):
    if size == 1:
        return one_token(model)
    return analyze(model, "word " * 600, max_length=size)


# --- Rollout ---


@pytest.mark.parametrize("model", ["bert", "distilbert", "embedded"], indirect=True)
def test_rollout_equals_a_plain_loop(model):
    result = analyze(model, SENTENCE, PAIR)
    rolled = rollout(result.attentions)
    L, _, T, _ = result.attentions.shape
    assert rolled.shape == (L, T, T) and read_only_float32(rolled)
    np.testing.assert_allclose(rolled, plain_rollout(result.attentions), atol=1e-6, rtol=0)
    np.testing.assert_allclose(rolled.sum(-1), 1.0, atol=1e-5)
    # Entry 0 is the first layer alone: half its head-averaged attention, half the residual.
    np.testing.assert_allclose(rolled[0], (result.attentions[0].mean(0) + np.eye(T)) / 2, atol=1e-6)


# --- Norm-based maps ---


@pytest.mark.parametrize("model", MODELS, indirect=True)
def test_norm_maps_equal_value_norms_and_a_hooked_reference(model):
    with capture_values(model) as values:
        result = analyze(model, SENTENCE)
    maps = norm_maps(model, result)
    L, H, T = result.num_layers, result.num_heads, result.num_tokens
    assert maps.per_head.shape == (L, H, T, T) and maps.summed.shape == (L, T, T)
    assert read_only_float32(maps.per_head, maps.summed)
    for layer in range(L):
        np.testing.assert_array_equal(maps.per_head[layer], value_norms(model, result, layer))
    assert len(values) == L
    reference = np.empty((L, T, T))
    for layer in range(L):
        w_out = value_and_output_weights(model, layer)[2]  # [D, H*d]
        d = w_out.shape[1] // H
        transformed = [values[layer][:, h * d:(h + 1) * d] @ w_out[:, h * d:(h + 1) * d].T for h in range(H)]
        for i in range(T):
            for j in range(T):
                vector = sum(result.attentions[layer, h, i, j] * transformed[h][j] for h in range(H))  # [D]
                reference[layer, i, j] = math.sqrt(float(vector @ vector))
    # Tiny random models give norms near 1e-3, so the tolerance scales with the largest norm.
    np.testing.assert_allclose(maps.summed, reference, atol=1e-5 * reference.max(), rtol=1e-4)


# --- One token three ways ---


def test_token_views_read_the_three_maps_and_agree_like_scipy(embedded, pair):
    rolled, maps = rollout(pair.attentions), norm_maps(embedded, pair)
    for layer, token in [(0, 0), (2, 3), (5, pair.num_tokens - 1)]:
        views = token_views(pair, rolled, maps, layer, token)
        np.testing.assert_allclose(views.raw, pair.attentions[layer, :, token].mean(0), atol=1e-7)
        np.testing.assert_array_equal(views.rollout, rolled[layer, token])
        np.testing.assert_allclose(views.norm, maps.summed[layer, token] / maps.summed[layer, token].sum(), atol=1e-7)
        assert views.norm.sum() == pytest.approx(1.0, abs=1e-5)
        assert read_only_float32(views.raw, views.rollout, views.norm)
        agreement = views.agreement
        for value, (a, b) in [(agreement.raw_rollout, (views.raw, views.rollout)),
                              (agreement.raw_norm, (views.raw, views.norm)),
                              (agreement.rollout_norm, (views.rollout, views.norm))]:
            assert value == pytest.approx(spearmanr(a, b).statistic, abs=1e-9)
    with pytest.raises(ValueError, match="row"):
        token_views(pair, rolled, maps, 0, pair.num_tokens)


def test_spearman_averages_tied_ranks():
    a, b = [1.0, 2.0, 2.0, 3.0, 0.5, 2.0], [3.0, 1.0, 4.0, 4.0, 0.0, 5.0]
    assert spearman(np.array(a), np.array(b)) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([30.0, 20.0, 10.0])) == pytest.approx(-1.0)
    assert math.isnan(spearman(np.array([1.0, 1.0]), np.array([1.0, 2.0])))
    assert math.isnan(spearman(np.array([0.7]), np.array([0.2])))


# --- Head statistics and roles ---


def test_head_statistics_equal_hand_computations(pair):
    stats = head_statistics(pair)
    L, H, T = pair.num_layers, pair.num_heads, pair.num_tokens
    for array in (stats.entropy, stats.to_cls, stats.to_sep, stats.to_punctuation, stats.to_previous,
                  stats.to_next, stats.to_self):
        assert array.shape == (L, H) and read_only_float32(array)
    seps = [j for j, token in enumerate(pair.tokens) if token == "[SEP]"]
    marks = [j for j, token in enumerate(pair.tokens) if token in {".", ","}]
    assert len(seps) == 2 and len(marks) == 4
    for layer, head in [(0, 0), (2, 7), (L - 1, H - 1)]:
        a = pair.attentions[layer, head].astype(np.float64)  # [T, T]
        expected = {
            "entropy": sum(-sum(p * math.log(p) for p in a[i] if p > 0) for i in range(T)) / T,
            "to_cls": sum(a[i, 0] for i in range(T)) / T,
            "to_sep": sum(a[i, j] for i in range(T) for j in seps) / T,
            "to_punctuation": sum(a[i, j] for i in range(T) for j in marks) / T,
            "to_previous": sum(a[i, i - 1] for i in range(1, T)) / (T - 1),
            "to_next": sum(a[i, i + 1] for i in range(T - 1)) / (T - 1),
            "to_self": sum(a[i, i] for i in range(T)) / T,
        }
        for name, value in expected.items():
            assert getattr(stats, name)[layer, head] == pytest.approx(value, abs=1e-5), name


def test_punctuation_is_found_after_piece_markers():
    assert all(is_punctuation(token) for token in [".", ",", "##.", "Ġ,", "▁?", "...", "«", "—"])
    assert not any(is_punctuation(token) for token in ["cat", "##s", "Ġ", "$", "a.", "", "[SEP]", "12"])


def stats_with(T=10, **shares):
    """A one-head HeadStatistics with the given shares, everything else 0."""
    fields = {name: frozen_array([[shares.get(name, 0.0)]])
              for name in ("entropy", "to_cls", "to_sep", "to_punctuation", "to_previous", "to_next", "to_self")}
    return HeadStatistics(num_keys=T, **fields)


def test_head_roles_follow_the_documented_thresholds():
    role = lambda **shares: head_roles(stats_with(**shares))[0][0]  # noqa: E731
    assert role(to_previous=0.5) == "previous-token head" and role(to_previous=0.49) == "mixed"
    assert role(to_next=0.9) == "next-token head"
    assert role(to_cls=0.6) == "[CLS] sink" and role(to_sep=0.7) == "[SEP] sink"
    assert role(to_punctuation=0.5) == "punctuation sink" and role(to_self=0.8) == "self"
    assert role(entropy=0.8 * math.log(10)) == "broad" and role(entropy=0.79 * math.log(10)) == "mixed"
    assert role(to_previous=0.6, to_sep=0.5, entropy=5.0) == "previous-token head"  # first rule wins


def test_head_roles_label_every_head_of_a_real_model(pair):
    roles = head_roles(head_statistics(pair))
    assert len(roles) == pair.num_layers and all(len(layer) == pair.num_heads for layer in roles)
    assert {role for layer in roles for role in layer} <= set(ROLES)


# --- Words instead of pieces ---


@pytest.mark.parametrize("text_pair", [None, PAIR])
def test_merge_words_keeps_row_totals_and_labels_words(embedded, text_pair):
    result = analyze(embedded, LONG_WORDS, text_pair)
    assert len(result.tokens) > 10  # the long words are split into several pieces
    units, labels = word_units(result)
    words = ["[CLS]", "The", "unaffable", "antidisestablishmentarianism", "clerk", ".", "[SEP]"]
    assert labels == tuple(words + (["Cats", "sleep", ".", "[SEP]"] if text_pair else []))
    maps = norm_maps(embedded, result)
    for matrix in (result.attentions[3, 5], rollout(result.attentions)[2], maps.summed[1]):
        merged, merged_labels = merge_words(matrix, result)
        assert merged.shape == (len(labels), len(labels)) and merged_labels == labels and read_only_float32(merged)
        pieces = [np.flatnonzero(units == unit) for unit in range(len(labels))]
        row_totals = np.array([matrix[p].sum(axis=1).mean() for p in pieces])  # mean of the pieces' row totals
        np.testing.assert_allclose(merged.sum(axis=1), row_totals, atol=1e-5, rtol=1e-5)
        u, v = labels.index("unaffable"), labels.index("antidisestablishmentarianism")
        by_hand = np.mean([sum(matrix[i, j] for j in pieces[v]) for i in pieces[u]])
        assert merged[u, v] == pytest.approx(by_hand, rel=1e-5)
    merged, _ = merge_words(result.attentions[2, 0], result)
    np.testing.assert_allclose(merged.sum(axis=1), 1.0, atol=1e-5)


# --- Filters ---


def test_filtered_rows_sum_to_one_without_hidden_tokens(pair):
    keep = keep_mask(pair, hide_special=True, hide_punctuation=True)
    assert keep.dtype == bool and not keep.flags.writeable
    shown = [token for token, kept in zip(pair.tokens, keep) if kept]
    assert shown == ["the", "bank", "of", "the", "river", "sadly", "was", "flooded", "cats", "sleep"]
    assert [t for t, k in zip(pair.tokens, keep_mask(pair, True, False)) if not k] == ["[CLS]", "[SEP]", "[SEP]"]
    assert keep_mask(pair, False, False).all()
    matrix = pair.attentions[1, 4]
    kept = filtered(matrix, keep)
    assert kept.shape == (10, 10) and read_only_float32(kept)
    np.testing.assert_allclose(kept.sum(-1), 1.0, atol=1e-5)
    index = np.flatnonzero(keep)
    sub = matrix[np.ix_(index, index)]
    np.testing.assert_allclose(kept, sub / sub.sum(-1, keepdims=True), atol=1e-6)


def test_a_row_with_no_kept_mass_stays_zero():
    matrix = np.array([[0.0, 0.0, 1.0], [0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    kept = filtered(matrix, np.array([True, True, False]))
    np.testing.assert_allclose(kept, [[0.0, 0.0], [2 / 3, 1 / 3]])
    with pytest.raises(ValueError, match="keep"):
        filtered(matrix, np.array([True, False]))


def test_pair_block_selects_the_sentence_blocks(pair, embedded):
    first_sep = pair.tokens.index("[SEP]")
    in_a = np.arange(pair.num_tokens) <= first_sep  # [CLS] A [SEP] | B [SEP]
    sides = {"A": in_a, "B": ~in_a}
    for which in PAIR_BLOCKS[1:]:
        rows, cols = pair_block(pair, which)
        source, target = which.split("->")
        np.testing.assert_array_equal(rows, sides[source])
        np.testing.assert_array_equal(cols, sides[target])
    rows, cols = pair_block(pair, "all")
    assert rows.all() and cols.all()
    single = analyze(embedded, SENTENCE)
    assert all(mask.all() for mask in pair_block(single, "all"))
    for which in PAIR_BLOCKS[1:]:
        with pytest.raises(ValueError, match="second sentence"):
            pair_block(single, which)
    with pytest.raises(ValueError, match="must be one of"):
        pair_block(pair, "A->C")


# --- Comparing two sentences ---


def test_identical_sentences_do_not_change(embedded):
    a, b = analyze(embedded, SENTENCE), analyze(embedded, SENTENCE)
    result = compare(a, b)
    assert result.rows == result.columns == tuple((i, i) for i in range(a.num_tokens))
    assert not result.difference.any() and not result.change.any()


def test_one_word_swapped(embedded):
    a, b = analyze(embedded, "The cat sat on the mat."), analyze(embedded, "The dog sat on the mat.")
    result = compare(a, b)
    assert a.tokens[2] == "cat" and b.tokens[2] == "dog"
    assert result.rows == result.columns == tuple((i, i) for i in range(a.num_tokens) if i != 2)
    L, H, K = a.num_layers, a.num_heads, a.num_tokens - 1
    assert result.difference.shape == (L, H, K, K) and result.change.shape == (L, H)
    assert read_only_float32(result.difference, result.change)
    # Aligned row 2 is token 3 ("sat"), aligned column 0 is [CLS].
    assert result.difference[4, 7, 2, 0] == pytest.approx(b.attentions[4, 7, 3, 0] - a.attentions[4, 7, 3, 0], abs=1e-7)
    np.testing.assert_allclose(result.change, np.abs(result.difference).mean(axis=(2, 3)), atol=1e-7)
    changes = [change for _, _, change in result.ranked]
    assert len(result.ranked) == L * H and changes == sorted(changes, reverse=True)
    assert all(result.change[layer, head] == pytest.approx(change) for layer, head, change in result.ranked)
    assert result.change.max() > 0


def test_comparing_different_models_is_refused(tiny_models, embedded):
    with pytest.raises(ValueError, match="same model"):
        compare(analyze(tiny_models["bert"], SENTENCE), analyze(embedded, SENTENCE))


# --- Every function at every length ---


@pytest.mark.parametrize("size", SIZES)
def test_every_function_handles_the_length(embedded, size):
    result = of_size(embedded, size)
    L, H, T = result.num_layers, result.num_heads, result.num_tokens
    assert T == size
    rolled = rollout(result.attentions)
    assert rolled.shape == (L, T, T)
    np.testing.assert_allclose(rolled.sum(-1), 1.0, atol=1e-4)
    maps = norm_maps(embedded, result)
    assert maps.per_head.shape == (L, H, T, T) and maps.summed.shape == (L, T, T) and np.isfinite(maps.summed).all()
    views = token_views(result, rolled, maps, L - 1, T - 1)
    assert views.raw.shape == views.rollout.shape == views.norm.shape == (T,)
    stats = head_statistics(result)
    assert stats.entropy.shape == (L, H) and np.isfinite(stats.entropy).all()
    assert len(head_roles(stats)) == L
    merged, labels = merge_words(result.attentions[0, 0], result)
    assert merged.shape == (T, T) and len(labels) == T  # "word" is one piece; every special is its own unit
    np.testing.assert_allclose(merged.sum(-1), 1.0, atol=1e-5)
    keep = keep_mask(result, hide_special=True, hide_punctuation=True)
    kept = filtered(result.attentions[0, 0], keep)
    assert kept.shape == (T - min(T, 2),) * 2
    assert all(mask.all() for mask in pair_block(result, "all"))
    comparison = compare(result, result)
    assert len(comparison.rows) == T and not comparison.change.any()


def test_view_matrix_hides_renormalises_and_merges(embedded):
    result = analyze(embedded, "The unaffable clerk, sadly, left.", "He never returned.")
    matrix = result.attentions[2, 5]
    plain = view_matrix(result, matrix)
    np.testing.assert_allclose(plain.matrix, matrix, atol=1e-6)
    assert plain.row_names == result.tokens
    hidden = view_matrix(result, matrix, ViewOptions(hide_special=True, hide_punctuation=True))
    assert not {"[CLS]", "[SEP]", ",", "."} & set(hidden.row_names + hidden.column_names)
    np.testing.assert_allclose(hidden.matrix.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(hidden.matrix, filtered(matrix, keep_mask(result, True, True)), atol=1e-6)
    words = view_matrix(result, matrix, ViewOptions(words=True))
    assert "unaffable" in words.row_names and "##ffa" not in words.row_names
    np.testing.assert_allclose(words.matrix.sum(axis=1), 1.0, atol=1e-5)
    block = view_matrix(result, matrix, ViewOptions(pair="A->B", words=True))
    assert "clerk" in block.row_names and "returned" in block.column_names and "clerk" not in block.column_names
    rows, columns = pair_block(result, "A->B")
    np.testing.assert_allclose(view_matrix(result, matrix, ViewOptions(pair="A->B")).matrix, matrix[np.ix_(rows, columns)],
                               atol=1e-6)


# --- The options apply to every view ---

OPTION_SETS = [ViewOptions(hide_special=True), ViewOptions(hide_punctuation=True, words=True),
               ViewOptions(pair="A->B"), ViewOptions(pair="B->A", hide_special=True, words=True)]


@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_a_stack_is_viewed_head_by_head(pair, options):
    stacked = view_matrix(pair, pair.attentions, options)
    R, C = len(stacked.row_names), len(stacked.column_names)
    assert stacked.matrix.shape == (pair.num_layers, pair.num_heads, R, C) and read_only_float32(stacked.matrix)
    for layer, head in [(0, 0), (3, 9)]:
        single = view_matrix(pair, pair.attentions[layer, head], options)
        assert (single.row_names, single.column_names) == (stacked.row_names, stacked.column_names)
        np.testing.assert_allclose(stacked.matrix[layer, head], single.matrix, atol=1e-6)


@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_head_statistics_follow_the_options(pair, options):
    stats = head_statistics(pair, options)
    view = view_matrix(pair, pair.attentions[2, 7], options)  # [R, C] computed head by head
    a, rows, columns = view.matrix.astype(np.float64), list(view.row_positions), list(view.column_positions)
    names = view.column_names
    first = [j for j, p in enumerate(columns) if p == 0]
    seps = [j for j, name in enumerate(names) if name == "[SEP]" and columns[j] != 0]
    marks = [j for j, name in enumerate(names) if name in {".", ","}]
    R = len(rows)
    expected = {
        "entropy": sum(-sum(p * math.log(p) for p in a[i] if p > 0) for i in range(R)) / R,
        "to_cls": sum(a[i, j] for i in range(R) for j in first) / R,
        "to_sep": sum(a[i, j] for i in range(R) for j in seps) / R,
        "to_punctuation": sum(a[i, j] for i in range(R) for j in marks) / R,
    }
    for name, offset in [("to_previous", -1), ("to_next", 1), ("to_self", 0)]:
        pairs = [(i, columns.index(rows[i] + offset)) for i in range(R) if rows[i] + offset in columns]
        expected[name] = sum(a[i, j] for i, j in pairs) / len(pairs) if pairs else 0.0
    for name, value in expected.items():
        assert getattr(stats, name)[2, 7] == pytest.approx(value, abs=1e-5), name
    assert stats.num_keys == len(columns)
    if options.hide_special:
        assert not stats.to_cls.any() and not stats.to_sep.any()


def test_options_describe_themselves():
    assert ViewOptions().describe() == ""
    assert ViewOptions(hide_special=True, words=True, pair="A->B").describe() == (
        "special tokens hidden, word pieces merged into words, only A->B")


def test_head_statistics_of_a_view_with_no_rows_are_zero(embedded):
    result = analyze(embedded, ".")
    stats = head_statistics(result, ViewOptions(hide_special=True, hide_punctuation=True))
    assert stats.num_keys == 0 and not stats.entropy.any() and not stats.to_self.any()
    assert {role for layer in head_roles(stats) for role in layer} == {"broad"}


@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_compare_follows_the_options(embedded, options):
    a = analyze(embedded, "The cat sat on the mat.", "It purred.")
    b = analyze(embedded, "The dog sat on the mat.", "It purred.")
    result = compare(a, b, options)
    view_a, view_b = (view_matrix(x, x.attentions, options) for x in (a, b))
    assert result.row_names == tuple(view_a.row_names[i] for i, _ in result.rows)
    assert result.column_names == tuple(view_b.column_names[j] for _, j in result.columns)
    i, j = result.rows[-1]
    k, m = result.columns[0]
    assert result.difference[4, 7, -1, 0] == pytest.approx(view_b.matrix[4, 7, j, m] - view_a.matrix[4, 7, i, k],
                                                            abs=1e-6)
    if options.hide_special:
        assert "[CLS]" not in result.row_names + result.column_names
    assert result.difference.shape == (a.num_layers, a.num_heads, len(result.rows), len(result.columns))


@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_token_views_follow_the_options(embedded, pair, options):
    rolled, maps = rollout(pair.attentions), norm_maps(embedded, pair)
    views = token_views(pair, rolled, maps, 3, 1, options)
    raw = view_matrix(pair, pair.attentions[3].mean(axis=0), options)
    np.testing.assert_allclose(views.raw, raw.matrix[1], atol=1e-6)
    np.testing.assert_allclose(views.rollout, view_matrix(pair, rolled[3], options).matrix[1], atol=1e-6)
    norm = view_matrix(pair, maps.summed[3], options).matrix[1]
    np.testing.assert_allclose(views.norm, norm / norm.sum(), atol=1e-6)
    assert views.row_name == raw.row_names[1] and views.column_names == raw.column_names


def test_content_heads_are_the_heaviest_word_keys_found_by_brute_force(offline):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    result = analyze(offline, "The bank of the river was flooded.")
    query = result.tokens.index("bank")
    found = content_heads(result, query, count=3)
    expected = sorted(((float(result.attentions[l, h, query].max()), l, h) for l in range(result.num_layers)
                       for h in range(result.num_heads)
                       if result.tokens[int(result.attentions[l, h, query].argmax())] not in
                       {"[CLS]", "[SEP]", ".", "bank", *ENGLISH_STOP_WORDS}), reverse=True)[:3]
    assert [(h.weight, h.layer, h.head) for h in found] == pytest.approx(expected)
    assert result.tokens[found[0].key] == "river"  # the classic example: "bank" reads "river"
    assert all(is_content(result, h.key) for h in found) and not is_content(result, result.tokens.index("of"))


def test_stop_words_are_scikit_learns():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    assert STOP_WORDS == ENGLISH_STOP_WORDS
