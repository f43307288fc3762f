"""The corpus build on a local Ray writes the same shards as the in-process build, and carries on from a killed one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from bertviz_core import analyze, load_model
from bertviz_core.corpus import CorpusIndex, build_index, read_sentences, store
from bertviz_core.corpus.encode import METADATA, cls_column, float32_rows, layer_vectors
from bertviz_core.corpus.on_ray import ray_encoder

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]
LAYERS = [0, 2, 3]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    words = "the bank river money water park light spring rock play match fair current interest".split()
    generator = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("ray") / "corpus.txt"
    path.write_text("\n".join(" ".join(generator.choice(words, size=generator.integers(3, 9))).capitalize() + "."
                              for _ in range(60)), encoding="utf-8")
    return path


def assert_same_shards(folder: Path, reference: Path) -> None:
    shards = sorted(p.name for p in (reference / "shards").glob("*.parquet"))
    assert shards == sorted(p.name for p in (folder / "shards").glob("*.parquet")) and len(shards) == 3
    for name in shards:
        ours, theirs = pq.read_table(folder / "shards" / name), pq.read_table(reference / "shards" / name)
        assert ours.select(METADATA.names).equals(theirs.select(METADATA.names))
        for layer in LAYERS:
            np.testing.assert_allclose(layer_vectors(ours, layer), layer_vectors(theirs, layer), atol=1e-5)
        ours, theirs = pq.read_table(folder / "heads" / name), pq.read_table(reference / "heads" / name)
        assert ours.column("sentence_id").equals(theirs.column("sentence_id"))
        for column in ["heads"] + [cls_column(layer) for layer in LAYERS]:
            np.testing.assert_allclose(float32_rows(ours, column), float32_rows(theirs, column), atol=1e-5)


def test_ray_writes_the_same_index_and_resumes_a_killed_build(tmp_path, monkeypatch, corpus, tiny_dirs):
    model = load_model(str(tiny_dirs["bert"]))
    sentences = read_sentences(corpus)
    build_index(model, sentences, tmp_path / "here", LAYERS, shard_sentences=20)
    encode, calls = store.encode_sentences, []

    def killed_after_the_first_shard(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return encode(*args, **kwargs)

    monkeypatch.setattr(store, "encode_sentences", killed_after_the_first_shard)
    with pytest.raises(KeyboardInterrupt):
        build_index(model, sentences, tmp_path / "ray", LAYERS, shard_sentences=20)
    first = (tmp_path / "ray" / "shards" / "00000.parquet").stat().st_mtime_ns
    build_index(model, sentences, tmp_path / "ray", LAYERS, shard_sentences=20,
                encode=ray_encoder(None, corpus, progress_bars=False))
    assert (tmp_path / "ray" / "shards" / "00000.parquet").stat().st_mtime_ns == first  # kept, not redone
    assert_same_shards(tmp_path / "ray", tmp_path / "here")
    query = analyze(model, "The bank of the river.")
    assert CorpusIndex(tmp_path / "ray", model).search(query, 2, 3, 8) == \
        CorpusIndex(tmp_path / "here", model).search(query, 2, 3, 8)


def test_the_command_line_builds_on_ray(tmp_path, corpus, tiny_dirs):
    model = str(tiny_dirs["bert"])
    built = subprocess.run([sys.executable, "-m", "bertviz_core", "index", str(corpus), "--model", model, "--out",
                            str(tmp_path / "index"), "--layers", "0,2,3", "--ray"],
                           capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] and manifest["layers"] == LAYERS
    build_index(load_model(model), read_sentences(corpus), tmp_path / "here", LAYERS)
    assert manifest["tokens"] == json.loads((tmp_path / "here" / "manifest.json").read_text())["tokens"]
