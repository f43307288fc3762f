"""The corpus index: search equals a brute-force cosine search over hidden states computed by transformers itself,
builds resume, and every bad input is a clear error."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from bertviz_core import InputError, analyze, load_model
from bertviz_core.cli import main
from bertviz_core.corpus import CorpusIndex, CorpusIndexError, build_index, query_word, read_sentences, store
from bertviz_core.cache import DiskBudget
from bertviz_core.corpus.library import (UPLOADS, index_folder, index_folders, opened, shipped_sentences,
                                         token_count)
from bertviz_core.corpus.encode import layer_vectors, split_token_ids, vector_column

from tiny_models import save_tiny_model

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["The bank of the river was flooded.", "She deposited money at the bank.", "I sat on the river bank.",
             "The bank raised its interest rates!", "Fishing from the bank is fun.", "Unaffable cats sleep.",
             "Banks lend money.", "The river flows past the old mill and the bank."]
QUERY = "We walked along the bank of the stream."


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


def brute_force(folder: str, sentences: list[str], query: str, token: int, layer: int):
    """Every (score, sentence id, token index) by cosine, best first, from transformers run on each sentence alone."""
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()

    def states(text):
        encoded = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
        special = encoded.pop("special_tokens_mask")[0].bool()
        with torch.no_grad():
            hidden = model(**encoded, output_hidden_states=True).hidden_states[layer][0]
        return hidden.numpy(), special.numpy()

    query_states, _ = states(query)
    target = query_states[token] / np.linalg.norm(query_states[token])
    scored = []
    for sentence_id, text in enumerate(sentences):
        hidden, special = states(text)
        for position in np.flatnonzero(~special):
            vector = hidden[position] / np.linalg.norm(hidden[position])
            scored.append((float(vector @ target), sentence_id, int(position)))
    return sorted(scored, reverse=True)


@pytest.mark.parametrize("which", ["tiny", "embedded"])
def test_search_equals_a_brute_force_cosine_search_by_transformers(which, tmp_path, corpus_file, tiny_dirs):
    folder = str(tiny_dirs["bert"]) if which == "tiny" else "embedded"
    model = load_model(folder)
    build_index(model, read_sentences(corpus_file), tmp_path / "index")
    index = CorpusIndex(tmp_path / "index", model)
    query = analyze(model, QUERY)
    token = query.tokens.index("bank")
    for layer in (0, model.num_layers // 2, model.num_layers):
        found = index.search(query, token, layer, k=5)
        expected = brute_force(model.location, SENTENCES, QUERY, token, layer)[:5]
        assert [(m.sentence_id, m.token_index) for m in found.matches] == [(s, t) for _, s, t in expected]
        assert [m.score for m in found.matches] == pytest.approx([score for score, _, _ in expected], abs=1e-5)


def test_matches_carry_their_tokens_words_and_character_spans(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[2])
    index = CorpusIndex(tmp_path / "index", embedded)
    found = index.search(analyze(embedded, QUERY), 5, 2, k=len(index.ids))
    assert len(found.matches) == len(index.ids) == sum(analyze(embedded, s).num_tokens - 2 for s in SENTENCES)
    for match in found.matches:
        analysis = analyze(embedded, match.sentence)
        assert analysis.tokens[match.token_index] == match.token
        assert list(analysis.offsets[match.token_index]) == [match.start, match.end]
        assert match.sentence[match.start:match.end].lower() in match.word.lower()
    unaffable = [m for m in found.matches if m.sentence_id == 5 and m.word == "Unaffable"]
    assert len(unaffable) > 1  # a word of several pieces: each piece names the whole word


def test_faiss_ids_follow_sentence_and_token_order(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[1], shard_sentences=3)
    index = CorpusIndex(tmp_path / "index", embedded)
    sentence_ids, token_indexes = split_token_ids(index.ids)
    assert list(zip(sentence_ids, token_indexes)) == sorted(zip(sentence_ids, token_indexes))
    assert len(index.manifest.data["shards"]) == 3
    assert list(index.metadata.column("sentence_id").to_numpy()) == list(sentence_ids)


def test_shards_hold_each_tokens_hidden_state_and_norm_as_transformers_computes_them(tmp_path, corpus_file,
                                                                                     tiny_dirs):
    model = load_model(str(tiny_dirs["bert"]))
    build_index(model, read_sentences(corpus_file), tmp_path / "index", layers=[0, 2], shard_sentences=3)
    rows = pa.concat_tables(pq.read_table(shard) for shard in sorted((tmp_path / "index" / "shards").iterdir()))
    tokenizer, reference = AutoTokenizer.from_pretrained(model.location), AutoModel.from_pretrained(model.location)
    for layer in (0, 2):
        expected = []
        for text in SENTENCES:  # one sentence at a time: no padding, no batching
            encoded = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
            special = encoded.pop("special_tokens_mask")[0].bool()
            with torch.no_grad():
                expected.append(reference(**encoded, output_hidden_states=True).hidden_states[layer][0][~special])
        expected = torch.cat(expected).numpy()
        np.testing.assert_allclose(layer_vectors(rows, layer), expected, atol=1e-5)
        np.testing.assert_allclose(rows.column(f"norm_{layer}").to_numpy(), np.linalg.norm(expected, axis=1),
                                   rtol=1e-5)


def test_a_failed_shard_write_stops_the_build_with_its_error(tmp_path, monkeypatch, corpus_file, embedded):
    write = store.write_shard

    def disk_full_at_the_second_shard(directory, number, rows):
        if number == 1:
            raise OSError("No space left on device")
        write(directory, number, rows)

    monkeypatch.setattr(store, "write_shard", disk_full_at_the_second_shard)
    with pytest.raises(OSError, match="No space left"):
        build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[1], shard_sentences=3)
    assert [p.name for p in (tmp_path / "index" / "shards").iterdir()] == ["00000.parquet"]


def test_a_compressed_index_reranks_its_candidates_to_exact_cosines(tmp_path, monkeypatch, embedded):
    words = "bank river money water park light spring rock play match fair current interest pitch".split()
    generator = np.random.default_rng(0)
    texts = [" ".join(generator.choice(words, size=generator.integers(5, 12))).capitalize() + "."
             for _ in range(150)]
    path = tmp_path / "words.txt"
    path.write_text("\n".join(texts), encoding="utf-8")
    monkeypatch.setattr(store, "EXACT_UP_TO", 100)
    manifest = build_index(embedded, read_sentences(path), tmp_path / "index", layers=[4])
    assert manifest.data["indexes"]["4"]["kind"] == "compressed"
    query = analyze(embedded, QUERY)
    found = CorpusIndex(tmp_path / "index", embedded).search(query, query.tokens.index("bank"), 4, k=10)
    expected = brute_force(embedded.location, texts, QUERY, query.tokens.index("bank"), 4)
    exact = {(s, t): score for score, s, t in expected}
    assert [m.score for m in found.matches] == pytest.approx([exact[m.sentence_id, m.token_index]
                                                              for m in found.matches], abs=1e-5)
    best = {(s, t) for _, s, t in expected[:10]}
    assert len(best & {(m.sentence_id, m.token_index) for m in found.matches}) >= 9  # recall@10


def test_a_killed_build_resumes_from_its_last_whole_shard(tmp_path, monkeypatch, corpus_file, embedded):
    sentences = read_sentences(corpus_file)
    build_index(embedded, sentences, tmp_path / "whole", layers=[0, 3], shard_sentences=3)
    encode, calls = store.encode_sentences, []

    def killed_at_the_second_shard(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return encode(*args, **kwargs)

    monkeypatch.setattr(store, "encode_sentences", killed_at_the_second_shard)
    with pytest.raises(KeyboardInterrupt):
        build_index(embedded, sentences, tmp_path / "resumed", layers=[0, 3], shard_sentences=3)
    assert [p.name for p in (tmp_path / "resumed" / "shards").iterdir()] == ["00000.parquet"]
    with pytest.raises(CorpusIndexError, match="unfinished"):
        CorpusIndex(tmp_path / "resumed", embedded)
    monkeypatch.setattr(store, "encode_sentences", encode)
    build_index(embedded, sentences, tmp_path / "resumed", layers=[0, 3], shard_sentences=3)
    for shard in ("00000", "00001", "00002"):
        assert pq.read_table(tmp_path / "resumed" / "shards" / f"{shard}.parquet").equals(
            pq.read_table(tmp_path / "whole" / "shards" / f"{shard}.parquet"))
    query = analyze(embedded, QUERY)
    assert CorpusIndex(tmp_path / "resumed", embedded).search(query, 3, 3, 5) == \
        CorpusIndex(tmp_path / "whole", embedded).search(query, 3, 3, 5)


def test_occurrences_of_a_word_are_grouped_by_k_means(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[6])
    index = CorpusIndex(tmp_path / "index", embedded)
    found = index.occurrences("BANK", 6)
    places = sorted((o.sentence_id, o.start, o.end) for group in found.groups for o in group)
    assert places == [(n, m.start(), m.end()) for n, text in enumerate(SENTENCES)
                      for m in re.finditer(r"\bbank\b", text, flags=re.IGNORECASE)]
    assert len(found.groups) >= 2 and -1 <= found.silhouette <= 1
    assert all(group[0].closeness >= group[-1].closeness for group in found.groups)
    assert len(index.occurrences("bank", 6, groups=1).groups) == 1
    with pytest.raises(InputError, match="does not occur"):
        index.occurrences("zebra", 6)


def test_the_index_refuses_another_model_and_damaged_files(tmp_path, monkeypatch, corpus_file, embedded):
    folder = tmp_path / "index"
    build_index(embedded, read_sentences(corpus_file), folder, layers=[1, 2])
    other = load_model(str(save_tiny_model("bert", tmp_path / "other", with_head=False)))
    with pytest.raises(CorpusIndexError, match="built with all-MiniLM-L6-v2"):
        CorpusIndex(folder, other)
    monkeypatch.setattr(store, "EXACT_UP_TO", 10)
    build_index(embedded, read_sentences(corpus_file), tmp_path / "compressed", layers=[1])
    codes = tmp_path / "compressed" / "layer-1.faiss"
    codes.write_bytes(codes.read_bytes()[:100])
    with pytest.raises(CorpusIndexError, match="layer 1 .* damaged"):
        CorpusIndex(tmp_path / "compressed", embedded).search(analyze(embedded, QUERY), 1, 1)
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    shard = next((damaged / "shards").iterdir())
    shard.write_bytes(shard.read_bytes()[:-50])
    with pytest.raises(CorpusIndexError, match="damaged"):
        CorpusIndex(damaged, embedded)
    (damaged / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusIndexError, match="damaged"):
        CorpusIndex(damaged, embedded)


def test_a_folder_of_another_build_or_other_files_is_refused(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[1])
    with pytest.raises(CorpusIndexError, match="another build"):
        build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[2])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(CorpusIndexError, match="not empty"):
        build_index(embedded, read_sentences(corpus_file), tmp_path / "busy")


@pytest.mark.parametrize("content, options, message", [
    (None, {}, "is not a file"),
    (b"", {}, "is empty"),
    (b"\x00\x01binary", {}, "binary"),
    (b"\xff\xfe bad", {}, "not UTF-8"),
    (b"no tab here\n", {"labels": True}, "Line 1 is not 'label<TAB>sentence'"),
    (b"a line\n", {"split": "words"}, "Unknown split"),
])
def test_unreadable_corpora_are_clear_errors(tmp_path, content, options, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_sentences(path, **options)


def test_prose_is_split_into_sentences_and_labels_are_kept(tmp_path):
    path = tmp_path / "labelled.txt"
    path.write_text("river\tMr. Smith sat on the bank at 3 p.m. today. Then he left!\nmoney\tThe bank is shut.\n",
                    encoding="utf-8")
    sentences = read_sentences(path, split="prose", labels=True)
    assert sentences.texts == ("Mr. Smith sat on the bank at 3 p.m. today.", "Then he left!", "The bank is shut.")
    assert sentences.labels == ("river", "river", "money")


def test_layer_token_and_k_out_of_range_are_clear_errors(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[0, 6])
    index, query = CorpusIndex(tmp_path / "index", embedded), analyze(embedded, QUERY)
    for token, layer, k, message in ((99, 6, 5, "out of range"), (1, 3, 5, "holds layers 0, 6"), (1, 6, 0, "k must")):
        with pytest.raises(InputError, match=message):
            index.search(query, token, layer, k)
    with pytest.raises(InputError, match="Layers run from 0"):
        build_index(embedded, read_sentences(corpus_file), tmp_path / "more", layers=[7])


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bertviz_core", *args], capture_output=True, text=True, cwd=ROOT)


def test_the_command_line_indexes_and_searches(tmp_path, corpus_file, embedded):
    built = cli("index", str(corpus_file), "--model", "embedded", "--out", str(tmp_path / "index"), "--layers", "0,4")
    assert built.returncode == 0, built.stderr
    found = cli("search", str(tmp_path / "index"), QUERY, "--token", "5", "--layer", "4", "--top-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    expected = CorpusIndex(tmp_path / "index", embedded).search(analyze(embedded, QUERY), 5, 4, 3)
    assert result == json.loads(json.dumps(expected.as_json()))
    assert result["query_token"] == {"index": 5, "token": "bank"} and len(result["matches"]) == 3
    grouped = cli("occurrences", str(tmp_path / "index"), "bank", "--layer", "4", "--json")
    assert grouped.returncode == 0 and sum(map(len, json.loads(grouped.stdout)["groups"])) == 6


@pytest.mark.parametrize("args, message", [
    (["search", "{index}", QUERY, "--token", "99", "--layer", "4"], "out of range"),
    (["search", "{index}", QUERY, "--token", "1", "--layer", "2"], "holds layers 0, 4"),
    (["search", "{index}", QUERY, "--token", "1", "--layer", "4", "--top-k", "0"], "k must"),
    (["search", "{missing}", QUERY, "--token", "1", "--layer", "4"], "no corpus index"),
    (["occurrences", "{index}", "zebra", "--layer", "4"], "does not occur"),
    (["index", "{missing}", "--out", "{new}", "--model", "embedded"], "is not a file"),
    (["index", "{corpus}", "--out", "{new}", "--layers", "0,99", "--model", "embedded"], "Layers run from 0"),
])
def test_bad_command_line_input_is_one_line_and_exit_2(tmp_path, corpus_file, embedded, capsys, args, message):
    folder = tmp_path / "index"
    build_index(embedded, read_sentences(corpus_file), folder, layers=[0, 4])
    filled = [a.format(index=folder, missing=tmp_path / "nowhere", new=tmp_path / "new", corpus=corpus_file)
              for a in args]
    assert main(filled) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_across_layers_searches_every_layer_and_keeps_only_the_layers_it_may(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[0, 3, 6])
    index, query = CorpusIndex(tmp_path / "index", embedded, keep_layers=2), analyze(embedded, QUERY)
    across = index.across_layers(query, 5, 4)
    assert [result.layer for result in across] == [0, 3, 6]
    assert across == tuple(CorpusIndex(tmp_path / "index", embedded).search(query, 5, layer, 4) for layer in (0, 3, 6))
    assert list(index._layers) == [3, 6]  # the least recently searched layer was let go


def test_query_words_and_word_counts(tmp_path, corpus_file, embedded):
    build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[1])
    index = CorpusIndex(tmp_path / "index", embedded)
    query = analyze(embedded, "Unaffable bankers", "the second text")
    pieces = [n for n, word in enumerate(query.word_ids) if word == 0]
    assert len(pieces) > 1 and {query_word(query, n) for n in pieces} == {"Unaffable"}
    assert [query_word(query, n) for n in (0, pieces[-1] + 1, query.tokens.index("second"))] == [
        "[CLS]", "bankers", "second"]
    assert (index.count("BANK"), index.count("banks"), index.count("zebra")) == (6, 1, 0)


def test_the_library_keeps_one_folder_per_model_and_corpus(tmp_path, embedded, offline):
    sentences = shipped_sentences()
    assert len(sentences) == 440 and {"bert-lens", "wikipedia"} <= set(sentences.labels)
    assert index_folder(tmp_path, embedded, sentences) != index_folder(tmp_path, offline, sentences)
    first = sentences.part(0, 20)
    assert token_count(embedded, first) == sum(analyze(embedded, text).num_tokens - 2 for text in first.texts)


def uploads_of(root: Path, *sizes: int) -> list[Path]:
    """Upload folders of ``sizes`` bytes, the first the most recently used."""
    folders = []
    for age, size in enumerate(sizes):
        folder = root / UPLOADS / f"upload-{age}"
        folder.mkdir(parents=True)
        (folder / "data").write_bytes(b"x" * size)
        os.utime(folder, (1_000_000 - age, 1_000_000 - age))
        folders.append(folder)
    return folders


def _disk(root: Path, max_bytes: int) -> DiskBudget:
    return DiskBudget(max_bytes, lambda: index_folders(root))


def test_indexes_make_room_for_a_build_by_removing_the_least_recently_used(tmp_path):
    newest, middle, oldest = uploads_of(tmp_path, 1000, 1000, 1000)
    shipped = tmp_path / "model-corpus-v4"
    shipped.mkdir()
    (shipped / "data").write_bytes(b"x" * 400)
    os.utime(shipped, (900_000, 900_000))  # the least recently used of all
    assert set(index_folders(tmp_path)) == {newest, middle, oldest, shipped}
    assert _disk(tmp_path, 3900).make_room(500, "Indexing this corpus", keep=tmp_path / UPLOADS / "new") == []
    removed = _disk(tmp_path, 3900).make_room(1200, "Indexing this corpus", keep=tmp_path / UPLOADS / "new")
    assert removed == [shipped, oldest] and newest.exists() and middle.exists()
    removed = _disk(tmp_path, 1500).make_room(300, "Indexing this corpus", keep=newest)  # the one opened stays
    assert removed == [middle] and newest.exists()


def test_a_build_bigger_than_the_disk_budget_is_refused_and_nothing_is_removed(tmp_path):
    folders = uploads_of(tmp_path, 1000, 1000)
    with pytest.raises(InputError, match=r"Indexing this corpus needs about 5 MB of disk; this server keeps 2 MB in "
                                         r"all for indexes, uploads and models \(BERT_LENS_DISK_MB\)"):
        _disk(tmp_path, 2_000_000).make_room(5_000_000, "Indexing this corpus", keep=tmp_path / UPLOADS / "new")
    assert all(folder.exists() for folder in folders)


def test_the_expected_build_bytes_bound_what_a_build_writes(tmp_path, corpus_file, embedded):
    sentences = read_sentences(corpus_file)
    for layers in ([3], None):
        folder = tmp_path / f"index-{layers}"
        build_index(embedded, sentences, folder, layers)
        written = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        vectors = token_count(embedded, sentences) * len(store.checked_layers(embedded, layers)) * 384 * 4
        expected = store.build_bytes(embedded, sentences, token_count(embedded, sentences), layers)
        assert vectors < written <= expected  # a corpus this small is mostly Parquet's own overhead beside them


def column_chunks(shard: Path) -> list:
    meta = pq.ParquetFile(shard).metadata
    return [meta.row_group(group).column(column) for group in range(meta.num_row_groups)
            for column in range(meta.num_columns)]


@pytest.mark.parametrize("kind", ["exact", "compressed"])
def test_every_vector_is_stored_once(tmp_path, monkeypatch, corpus_file, embedded, kind):
    monkeypatch.setattr(store, "EXACT_UP_TO", 10**9 if kind == "exact" else 10)
    manifest = build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[0, 5])
    shards = sorted((tmp_path / "index" / "shards").glob("*.parquet"))
    chunks = [chunk for shard in shards for chunk in column_chunks(shard) if chunk.path_in_schema.startswith("vector_")]
    in_npy = sum(np.load(path, mmap_mode="r").nbytes for path in (tmp_path / "index").glob("*.npy"))
    vector_bytes = manifest.data["tokens"] * 2 * 384 * 4
    if kind == "exact":  # plain values, and a page header of some bytes
        assert 0 <= sum(chunk.total_compressed_size for chunk in chunks) - vector_bytes < 100 * len(chunks)
        assert in_npy == 0
    else:
        assert (chunks, in_npy) == ([], vector_bytes)
    assert [path.name for path in (tmp_path / "index").glob("*.faiss")] == \
        ([] if kind == "exact" else ["layer-0.faiss", "layer-5.faiss"])
    index = CorpusIndex(tmp_path / "index", embedded)
    rows = np.array([0, 3, manifest.data["tokens"] - 1])
    for layer in (0, 5):
        stored = layer_vectors(pa.concat_tables(pq.read_table(s) for s in shards), layer) if kind == "exact" else \
            np.load(tmp_path / "index" / f"layer-{layer}.npy")
        np.testing.assert_array_equal(index.stored_vectors(rows, layer), stored[rows])


def test_an_exact_layer_is_built_from_the_shards_and_counted_before_its_first_search(tmp_path, corpus_file,
                                                                                    embedded):
    manifest = build_index(embedded, read_sentences(corpus_file), tmp_path / "index", layers=[2, 4])
    index = CorpusIndex(tmp_path / "index", embedded, keep_layers=1)
    counted = index.nbytes
    index.search(analyze(embedded, QUERY), 5, 4)
    flat, _ = index._layer(4)
    assert flat.ntotal * flat.d * 4 == manifest.data["indexes"]["4"]["bytes"] == manifest.data["tokens"] * 384 * 4
    assert index.nbytes == counted >= manifest.data["indexes"]["4"]["bytes"] + index.metadata.nbytes
    unbounded = CorpusIndex(tmp_path / "index", embedded)
    assert unbounded.nbytes < counted  # counts the layers searched so far: none
    rows = pa.concat_tables(pq.read_table(shard, columns=[vector_column(4)])
                            for shard in sorted((tmp_path / "index" / "shards").glob("*.parquet")))
    unit = layer_vectors(rows, 4) / np.linalg.norm(layer_vectors(rows, 4), axis=1, keepdims=True)
    np.testing.assert_allclose(flat.reconstruct_n(0, flat.ntotal), unit, atol=1e-6)


def test_an_index_of_an_older_format_is_refused_or_rebuilt_by_the_app(tmp_path, corpus_file, embedded):
    sentences = read_sentences(corpus_file)
    folder = index_folder(tmp_path, embedded, sentences)
    older = folder.with_name(folder.name.replace(f"-v{store.FORMAT}", f"-v{store.FORMAT - 1}"))
    build_index(embedded, sentences, older, layers=[1])
    manifest = json.loads((older / "manifest.json").read_text(encoding="utf-8"))
    (older / "manifest.json").write_text(json.dumps(dict(manifest, format=store.FORMAT - 1)), encoding="utf-8")
    with pytest.raises(CorpusIndexError, match=f"another version of BERT Lens .format {store.FORMAT - 1}, "
                                               f"expected {store.FORMAT}.; rebuild it"):
        CorpusIndex(older, embedded)
    assert opened(embedded, sentences, folder).search(analyze(embedded, QUERY), 5, 1).matches
    assert not older.exists()  # the app's own folder of the older format went once its successor was built
