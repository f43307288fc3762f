"""Corpus views: the head atlas equals the single-sentence head statistics averaged over the corpus, queries and keys
are the model's own, and projections put identical sentences together."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bertviz_core import InputError, analyze, load_model
from bertviz_core.cli import main
from bertviz_core.attention.heads import head_statistics
from bertviz_core.corpus import CorpusIndex, CorpusIndexError, build_index, read_sentences
from bertviz_core.corpus.atlas import corpus_map, head_atlas, query_key_space
from bertviz_core.corpus.heads import STATISTICS, TOP_SENTENCES
from bertviz_core.qkv import head_vectors

SENTENCES = ["The bank of the river was flooded.", "She deposited money at the bank, didn't she?",
             "I sat on the river bank.", "Banks lend money.", "Unaffable cats sleep all day long."]


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory, tiny_dirs):
    folder = tmp_path_factory.mktemp("atlas")
    (folder / "corpus.txt").write_text("\n".join(SENTENCES), encoding="utf-8")
    model = load_model(str(tiny_dirs["bert"]))
    build_index(model, read_sentences(folder / "corpus.txt"), folder / "index", shard_sentences=2)
    return model, CorpusIndex(folder / "index", model)


def per_sentence(model, text: str) -> np.ndarray:
    """[L, H, S] statistics of one sentence, from attention.heads.head_statistics and the attention matrices by hand."""
    analysis = analyze(model, text)
    stats = head_statistics(analysis)
    T = analysis.num_tokens
    distance = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    by_hand = {"entropy": stats.entropy / math.log(T),
               "distance": (analysis.attentions * distance).sum(-1).mean(-1)}
    return np.stack([by_hand[name] if name in by_hand else getattr(stats, name) for name in STATISTICS], axis=-1)


def test_the_atlas_is_the_single_sentence_statistics_averaged_over_the_corpus(tiny_index):
    model, index = tiny_index
    atlas = head_atlas(index)
    expected = np.stack([per_sentence(model, text) for text in SENTENCES])  # [N, L, H, S]
    assert atlas.sentences == len(SENTENCES)
    np.testing.assert_allclose(atlas.mean, expected.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(atlas.std, expected.std(axis=0), atol=1e-5)
    k = min(TOP_SENTENCES, len(SENTENCES))
    np.testing.assert_allclose(atlas.top_values[..., :k], -np.sort(-expected, axis=0)[:k].transpose(1, 2, 3, 0),
                               atol=1e-5)
    best = np.take_along_axis(expected, atlas.top[..., :1].transpose(3, 0, 1, 2), axis=0)[0]
    np.testing.assert_allclose(best, expected.max(axis=0), atol=1e-5)
    assert (atlas.top[..., k:] == -1).all()


def test_queries_and_keys_are_the_models_own_and_keep_every_querys_softmax(tiny_index):
    model, index = tiny_index
    space = query_key_space(model, index, layer=1, head=2)
    n = int(space.is_query.sum())
    assert n == len(index.ids)  # a small corpus is taken whole
    for point in (0, n // 2, n - 1):
        sentence, token = int(space.sentence_ids[point]), int(space.token_indexes[point])
        queries, keys, _ = head_vectors(model, analyze(model, SENTENCES[sentence]), 1)
        np.testing.assert_allclose(space.queries[point], queries[2, token], atol=1e-5)
        np.testing.assert_allclose(space.keys[point], keys[2, token], atol=1e-5)
        assert space.tokens[point] == analyze(model, SENTENCES[sentence]).tokens[token]
    shifted_q, shifted_k = space.normalised()
    for point in (0, n - 1):
        before = space.queries[point] @ space.keys.T
        after = shifted_q[point] @ shifted_k.T
        np.testing.assert_allclose(np.exp(before - before.max()) / np.exp(before - before.max()).sum(),
                                   np.exp(after - after.max()) / np.exp(after - after.max()).sum(), atol=1e-5)
    # Both scaled (by c and 1 / c) to the same spread, then the keys shifted: the drawn centres coincide.
    np.testing.assert_allclose(shifted_q.mean(axis=0), shifted_k.mean(axis=0), atol=1e-4)
    spread = lambda vectors: np.linalg.norm(vectors - vectors.mean(axis=0), axis=1).mean()  # noqa: E731
    assert spread(shifted_q) == pytest.approx(spread(shifted_k), rel=1e-4)
    centres = np.concatenate([space.coords[:n].mean(axis=0), space.coords[n:].mean(axis=0)]).reshape(2, 2)
    np.testing.assert_allclose(centres[0], centres[1], atol=1e-4)  # PCA is linear: the plane's centres coincide too
    assert space.coords.shape == (2 * n, 2) and space.coords.dtype == np.float32


def test_two_identical_sentences_land_on_the_same_points(tmp_path, tiny_dirs):
    (tmp_path / "corpus.txt").write_text("The bank of the river.\nThe bank of the river.\nCats sleep.\n",
                                         encoding="utf-8")
    model = load_model(str(tiny_dirs["bert"]))
    build_index(model, read_sentences(tmp_path / "corpus.txt"), tmp_path / "index")
    index = CorpusIndex(tmp_path / "index", model)
    for pooling in ("mean", "cls"):
        found = corpus_map(index, model.num_layers, pooling)
        assert list(found.sentence_ids) == [0, 1, 2]
        np.testing.assert_allclose(found.coords[0], found.coords[1], atol=1e-5)
        assert np.linalg.norm(found.coords[0] - found.coords[2]) > 1e-3
    space = query_key_space(model, index, layer=0, head=0)
    first, second = (np.flatnonzero(space.sentence_ids == s) for s in (0, 1))
    np.testing.assert_allclose(space.coords[first], space.coords[second], atol=1e-5)


def test_views_refuse_what_the_index_cannot_show(tmp_path, tiny_dirs):
    (tmp_path / "corpus.txt").write_text("One sentence only.\n", encoding="utf-8")
    model = load_model(str(tiny_dirs["bert"]))
    build_index(model, read_sentences(tmp_path / "corpus.txt"), tmp_path / "index", layers=[2])
    index = CorpusIndex(tmp_path / "index", model)
    assert head_atlas(index).sentences == 1
    with pytest.raises(InputError, match="needs the index's layer 0"):
        query_key_space(model, index, layer=0, head=0)
    with pytest.raises(InputError, match="Heads run from 1"):
        query_key_space(model, index, layer=2, head=model.num_heads)
    with pytest.raises(InputError, match="Layer 1 is not in this index"):
        corpus_map(index, 1)
    one = corpus_map(index, 2)
    assert one.coords.shape == (1, 2)


def test_the_command_line_prints_the_atlas_one_heads_sentences_and_the_projections(tiny_index, capsys):
    model, index = tiny_index
    atlas = head_atlas(index)
    common = [str(index.directory), "--model", model.location, "--json"]
    assert main(["atlas", *common, "--statistic", "entropy"]) == 0
    grid = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(grid["mean"], atlas.mean[..., atlas.statistic("entropy")], atol=1e-5)
    assert main(["atlas", *common, "--layer", "2", "--head", "3"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert [t["sentence_id"] for t in one["top"]] == list(atlas.top[1, 2, atlas.statistic("to_previous")][:5])
    assert one["top"][0]["sentence"] == SENTENCES[one["top"][0]["sentence_id"]]
    assert main(["query-keys", *common, "--layer", "1", "--head", "1"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert len(points) == 2 * len(index.ids) and {p["kind"] for p in points} == {"query", "key"}
    assert main(["corpus-map", *common, "--layer", "0", "--pooling", "cls"]) == 0
    assert [p["sentence_id"] for p in json.loads(capsys.readouterr().out)["points"]] == list(range(len(SENTENCES)))


@pytest.mark.parametrize("args, message", [
    (["atlas", "--layer", "2"], "Give both --layer and --head"),
    (["atlas", "--layer", "9", "--head", "1"], "Layers run from 1 to"),
    (["query-keys", "--layer", "1", "--head", "0"], "Layers run from 1 to"),
    (["corpus-map", "--layer", "1", "--pooling", "mean"], None),
])
def test_bad_atlas_command_line_input_is_one_line_and_exit_2(tiny_index, capsys, args, message):
    model, index = tiny_index
    code = main([args[0], str(index.directory), "--model", model.location, *args[1:]])
    if message is None:  # every layer is in this index: a good command for contrast
        assert code == 0
        return
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and "\n" not in error


def test_an_index_whose_atlas_is_missing_is_a_clear_error(tmp_path, tiny_dirs):
    (tmp_path / "corpus.txt").write_text("\n".join(SENTENCES), encoding="utf-8")
    model = load_model(str(tiny_dirs["bert"]))
    build_index(model, read_sentences(tmp_path / "corpus.txt"), tmp_path / "index", layers=[1])
    (tmp_path / "index" / "atlas.parquet").unlink()
    with pytest.raises(CorpusIndexError, match="head statistics in .* are damaged"):
        head_atlas(CorpusIndex(tmp_path / "index", model))


def test_umap_projects_the_same_queries_and_keys_and_repeats_itself(tiny_index):
    model, index = tiny_index
    first = query_key_space(model, index, layer=1, head=2, projection="UMAP")
    pca_space = query_key_space(model, index, layer=1, head=2)
    np.testing.assert_array_equal(first.queries, pca_space.queries)
    assert first.coords.shape == pca_space.coords.shape and np.isfinite(first.coords).all()
    assert np.isnan(first.explained).all() and first.projection == "UMAP"
    np.testing.assert_array_equal(query_key_space(model, index, layer=1, head=2, projection="UMAP").coords,
                                  first.coords)  # a fixed seed: a shared link shows the same picture
    with pytest.raises(InputError, match="Projections are PCA, UMAP"):
        query_key_space(model, index, layer=1, head=2, projection="t-SNE")


def test_an_index_built_without_its_atlas_says_so_and_searches_the_same(tmp_path, tiny_index, capsys):
    model, index = tiny_index
    (tmp_path / "corpus.txt").write_text("\n".join(SENTENCES), encoding="utf-8")
    assert main(["index", str(tmp_path / "corpus.txt"), "--model", model.location, "--out", str(tmp_path / "plain"),
                 "--no-atlas"]) == 0
    plain = CorpusIndex(tmp_path / "plain", model)
    with pytest.raises(CorpusIndexError, match="built without head statistics"):
        head_atlas(plain)
    query = analyze(model, "The bank of the river.")
    assert plain.search(query, 2, 1, 5) == index.search(query, 2, 1, 5)
    np.testing.assert_allclose(corpus_map(plain, 2, "cls").coords, corpus_map(index, 2, "cls").coords, atol=1e-5)
    with pytest.raises(CorpusIndexError, match="head statistics differ"):
        build_index(model, read_sentences(tmp_path / "corpus.txt"), tmp_path / "plain", shard_sentences=None)


def test_umap_reports_its_epochs(tiny_index):
    model, index = tiny_index
    seen = []
    query_key_space(model, index, layer=1, head=2, projection="UMAP", progress=lambda done, total: seen.append(
        (done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 1 and all(0 <= done <= total for done, total in seen)
