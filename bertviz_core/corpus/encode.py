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
    token's character span in its sentence), and per layer L (0 = the embedding
    output) ``vector_L`` (float32 [D]) and ``norm_L``."""
    encodings = model.tokenizer(list(sentences.texts), truncation=True, max_length=model.max_tokens,
                                return_offsets_mapping=True, return_special_tokens_mask=True)
    parts = [_batch_rows(model, sentences, encodings, batch, first_id, layers)
             for batch in _length_batches([len(ids) for ids in encodings["input_ids"]], batch_tokens)]
    return pa.concat_tables(parts).sort_by("id")


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


def _batch_rows(model: LoadedModel, sentences: Sentences, encodings, batch: list[int], first_id: int,
                layers: Sequence[int]) -> pa.Table:
    names = [name for name in model.tokenizer.model_input_names if name in encodings]
    inputs = model.tokenizer.pad({name: [encodings[name][i] for i in batch] for name in names}, return_tensors="pt")
    rows = [_sentence_rows(encodings, sentences, i, first_id) for i in batch]
    kept = torch.tensor([(n, p) for n, (_, positions) in enumerate(rows) for p in positions]).reshape(-1, 2)
    table = pa.table({name: [value for meta, _ in rows for value in meta[name]] for name in METADATA.names},
                     schema=METADATA)
    with model.lock, torch.inference_mode():  # one batch at a time: other users' pages wait for one batch at most
        states = model.encoder(**inputs, output_hidden_states=True).hidden_states
        # Only the kept tokens of each chosen layer are copied: padding and special tokens never leave torch.
        vectors = [states[layer][kept[:, 0], kept[:, 1]].numpy() for layer in layers]  # each [N, D]
    for layer, layer_vectors in zip(layers, vectors):
        table = table.append_column(vector_column(layer), pa.FixedSizeListArray.from_arrays(
            pa.array(layer_vectors.reshape(-1)), layer_vectors.shape[1]))
        table = table.append_column(norm_column(layer), pa.array(np.linalg.norm(layer_vectors, axis=1)))
    return table


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
