"""Sentences -> one row per token with its hidden state at the chosen layers: what a corpus index stores.

The same function runs in-process and inside each Ray actor, so both builds write the same rows.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import torch

from ..loading import LoadedModel
from .text import Sentences

TOKEN_BITS = 16
"""A token's FAISS id is ``sentence_id << TOKEN_BITS | token_index``: ids follow (sentence id, token index) order
and name their token without a lookup table (no BERT-family model reads 65,536 tokens)."""
BATCH_TOKENS = 1024
"""Padded tokens per forward pass (sentences are sorted by length first, so little of it is padding): with BERT-base's
13 hidden states that is 40 MB of activations at a time, and a forward pass no slower per token than a bigger one."""
METADATA = pa.schema([("id", pa.int64()), ("sentence_id", pa.int64()), ("token_index", pa.int32()),
                      ("token", pa.string()), ("word", pa.string()), ("word_index", pa.int32()), ("start", pa.int32()),
                      ("end", pa.int32())])
"""The columns of each indexed token besides its vectors and norms."""


def token_ids(sentence_ids: np.ndarray, token_indexes: np.ndarray) -> np.ndarray:
    return (np.asarray(sentence_ids, np.int64) << TOKEN_BITS) | np.asarray(token_indexes, np.int64)


def split_token_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FAISS ids -> (sentence ids, token indexes)."""
    ids = np.asarray(ids, np.int64)
    return ids >> TOKEN_BITS, ids & ((1 << TOKEN_BITS) - 1)


def vector_column(layer: int) -> str:
    return f"vector_{layer}"


def norm_column(layer: int) -> str:
    return f"norm_{layer}"


def encode_sentences(model: LoadedModel, sentences: Sentences, first_id: int, layers: Sequence[int],
                     batch_tokens: int = BATCH_TOKENS) -> pa.Table:
    """Every token of ``sentences`` (sentence ids from ``first_id``) except special tokens and padding, in
    (sentence id, token index) order: id, sentence_id, token_index (0 = ``[CLS]``, as in ``Analysis.tokens``),
    token, word (the whole word it is part of) and word_index (its number in the sentence), start and end (the
    token's character span in its sentence), and per layer L (0 = the embedding output) ``vector_L`` (see
    ``layer_vectors``) and ``norm_L``."""
    encodings = model.tokenizer(list(sentences.texts), truncation=True, max_length=model.max_tokens,
                                return_offsets_mapping=True, return_special_tokens_mask=True)
    rows = [_sentence_rows(encodings, sentences, index, first_id) for index in range(len(sentences))]
    table = pa.table({name: [value for meta, _ in rows for value in meta[name]] for name in METADATA.names},
                     schema=METADATA)
    # Each batch's vectors go straight to their rows: the table is in id order with no sort, and no copy of it.
    first_row = np.cumsum([0] + [len(positions) for _, positions in rows])
    vectors = [np.empty((table.num_rows, model.config.hidden_size), np.float32) for _ in layers]
    for batch in _length_batches([len(ids) for ids in encodings["input_ids"]], batch_tokens):
        _encode_batch(model, encodings, batch, [rows[i][1] for i in batch],
                      torch.from_numpy(np.concatenate([np.arange(first_row[i], first_row[i + 1]) for i in batch])),
                      layers, vectors)
    for layer, states in zip(layers, vectors):
        table = table.append_column(vector_field(layer, states.shape[1]), pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(states.shape[1] * 4), len(states), [None, pa.py_buffer(states)]))
        table = table.append_column(norm_column(layer), pa.array(np.linalg.norm(states, axis=1)))
    return table


def vector_field(layer: int, dimensions: int) -> pa.Field:
    """A layer's vectors are stored as fixed-size binary values, each the D float32 of one hidden state: Parquet
    reads them back six times faster than lists of floats, which it decodes value by value."""
    return pa.field(vector_column(layer), pa.binary(dimensions * 4), nullable=False,
                    metadata={"dtype": "<f4", "shape": str(dimensions)})


def layer_vectors(table: pa.Table, layer: int) -> np.ndarray:
    """The hidden states [N, D] float32 of a table of token rows at ``layer`` (read-only, no copy when the column is
    in one chunk)."""
    column = table.column(vector_column(layer))
    dimensions = column.type.byte_width // 4
    chunks = [np.frombuffer(chunk.buffers()[1] or b"", np.float32, len(chunk) * dimensions,
                            chunk.offset * dimensions * 4) for chunk in column.chunks]
    flat = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    return flat.reshape(-1, dimensions)


def _length_batches(lengths: list[int], batch_tokens: int) -> Iterator[list[int]]:
    """Sentence indexes in batches of similar length, each at most ``batch_tokens`` once padded."""
    batch: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and (len(batch) + 1) * lengths[index] > batch_tokens:
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def _encode_batch(model: LoadedModel, encodings, batch: list[int], positions: list[list[int]],
                  rows: torch.Tensor, layers: Sequence[int], vectors: list[np.ndarray]) -> None:
    """One forward pass over the sentences ``batch``: the hidden states of their indexed ``positions`` at each
    layer are written to ``rows`` of that layer's ``vectors``."""
    names = [name for name in model.tokenizer.model_input_names if name in encodings]
    inputs = model.tokenizer.pad({name: [encodings[name][i] for i in batch] for name in names}, return_tensors="pt")
    kept = torch.tensor([(n, p) for n, sentence in enumerate(positions) for p in sentence]).reshape(-1, 2)
    with model.lock, torch.inference_mode():  # one batch at a time: other users' pages wait for one batch at most
        states = model.encoder(**inputs, output_hidden_states=True).hidden_states
        # Only the kept tokens of each chosen layer are copied: padding and special tokens never leave torch.
        for layer, stored in zip(layers, vectors):
            torch.from_numpy(stored).index_copy_(0, rows, states[layer][kept[:, 0], kept[:, 1]])


def _sentence_rows(encodings, sentences: Sentences, index: int, first_id: int) -> tuple[dict[str, list], list[int]]:
    """(metadata columns, token positions) of one sentence's indexed tokens: every piece but the special ones."""
    text, sentence_id = sentences.texts[index], first_id + index
    positions = [p for p, special in enumerate(encodings["special_tokens_mask"][index]) if not special]
    offsets, words = encodings["offset_mapping"][index], encodings.word_ids(index)
    spans = _word_spans(words, offsets)
    tokens = encodings.tokens(index)
    meta = {
        "id": token_ids(np.full(len(positions), sentence_id), np.array(positions, np.int64)).tolist(),
        "sentence_id": [sentence_id] * len(positions),
        "token_index": positions,
        "token": [tokens[p] for p in positions],
        "word": [text[slice(*spans[words[p]])] for p in positions],
        "word_index": [words[p] for p in positions],
        "start": [offsets[p][0] for p in positions],
        "end": [offsets[p][1] for p in positions],
    }
    return meta, positions


def _word_spans(words: list[int | None], offsets: list[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Word index -> (start, end) character span of the whole word its pieces make."""
    spans: dict[int, tuple[int, int]] = {}
    for word, (start, end) in zip(words, offsets):
        if word is not None:
            first, last = spans.get(word, (start, end))
            spans[word] = (min(first, start), max(last, end))
    return spans
