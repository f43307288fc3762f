"""The corpus build on Ray: Ray Data reads the text file, groups its sentences by shard, and an actor pool (each actor
loads the model once) encodes each shard and writes it whole, exactly as the in-process build does
(``encode.encode_sentences``, ``store.write_shard``), so both give the same shards; FAISS is built from them
afterwards, on the machine that started the build.

On a cluster (``address``), every worker must reach the corpus file, the output folder and the model under the same
paths (a shared file system, or a hub id for the model), and import ``bertviz_core`` (installed, or the project
folder on a shared path: it is put on the workers' PYTHONPATH). Ray is optional: ``requirements-ray.txt``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa

from ..loading import LoadedModel
from .encode import encode_sentences
from .store import EncodeShards, Progress, model_spec, shard_path, write_shard
from .text import Sentences, sentences_of

PROJECT = Path(__file__).resolve().parents[2]
NO_PROGRESS_SECONDS = 600  # a stuck job fails instead of waiting out Ray's default half hour
LOCAL_OBJECT_STORE = 256 * 2**20  # the text and the small rows the actors return: the vectors go straight to disk


def ray_encoder(address: str | None, corpus: str | Path, split: str = "lines", labels: bool = False,
                progress_bars: bool = True) -> EncodeShards:
    """An ``encode`` for ``build_index`` that runs on a local Ray (``address`` None) or on the cluster at ``address``
    and reads the corpus from ``corpus`` (the same file the caller read its ``Sentences`` from)."""

    def encode(model: LoadedModel, sentences: Sentences, directory: Path, layers: list[int], shard_sentences: int,
               atlas: bool, progress: Progress) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # read when ray is imported
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local Ray needs no token file in ~/.ray
        import ray
        import ray.data
        from ray.data.expressions import col

        _started(ray, address, progress_bars)
        try:
            missing = [n for n in range(-(-len(sentences) // shard_sentences))
                       if not shard_path(directory, n).exists()]
            if missing:
                workers = max(1, min(len(missing), int(ray.cluster_resources().get("CPU", 1))))
                # Half a CPU each: actors holding every CPU would starve the task that reads the text (a hang).
                written = (ray.data.read_binary_files(str(Path(corpus).resolve()))
                           .flat_map(_sentence_rows, fn_kwargs=dict(split=split, labels=labels,
                                                                    shard_sentences=shard_sentences))
                           .filter(expr=col("shard").is_in(missing))  # a killed build's whole shards stay
                           .groupby("shard")
                           .map_groups(ShardWriter, batch_format="pyarrow", num_cpus=0.5,
                                       compute=ray.data.ActorPoolStrategy(size=workers),
                                       fn_constructor_kwargs=dict(spec=model_spec(model), directory=str(directory),
                                                                  layers=layers, shard_sentences=shard_sentences,
                                                                  atlas=atlas)))
                written.materialize()
            progress(len(sentences), len(sentences), "sentences")
        finally:
            ray.shutdown()

    return encode


def _started(ray, address: str | None, progress_bars: bool) -> None:
    # Workers import bertviz_core from the project folder (a working_dir would upload the whole folder, .venv too).
    environment = {"env_vars": {"PYTHONPATH": str(PROJECT)}}
    if address:
        ray.init(address=address, runtime_env=environment, logging_level="WARNING")
    else:  # a Ray of this machine alone, never one that RAY_ADDRESS points at; its sockets under a short path
        ray.init(address="local", include_dashboard=False, runtime_env=environment, logging_level="WARNING",
                 object_store_memory=LOCAL_OBJECT_STORE, _temp_dir=tempfile.mkdtemp(prefix="/tmp/ray-bl-"))
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress_bars
    context.print_on_execution_start = False
    context.execution_options.preserve_order = True
    context.execution_no_progress_timeout_s = NO_PROGRESS_SECONDS


def _sentence_rows(file: dict, split: str, labels: bool, shard_sentences: int) -> list[dict]:
    """One row per sentence of a file Ray read, numbered as ``read_sentences`` numbers them."""
    sentences = sentences_of(file["bytes"], file.get("path", "corpus"), split, labels)
    return [{"sentence_id": n, "shard": n // shard_sentences, "text": text, "label": label}
            for n, (text, label) in enumerate(zip(sentences.texts, sentences.labels))]


class ShardWriter:
    """A Ray actor: loads the model once, then encodes and writes one shard per group of sentences it is given."""

    def __init__(self, spec: str, directory: str, layers: list[int], shard_sentences: int, atlas: bool):
        from ..loading import load_model

        self.model = load_model(spec)
        self.directory, self.layers = Path(directory), layers
        self.shard_sentences, self.atlas = shard_sentences, atlas

    def __call__(self, group: pa.Table) -> pa.Table:
        group = group.sort_by("sentence_id")
        number = group.column("shard")[0].as_py()
        first = group.column("sentence_id")[0].as_py()
        part = Sentences(tuple(group.column("text").to_pylist()), tuple(group.column("label").to_pylist()))
        encoded = encode_sentences(self.model, part, first, self.layers, self.atlas)
        write_shard(self.directory, number, encoded)
        return pa.table({"shard": [number], "tokens": [encoded.tokens.num_rows]})
