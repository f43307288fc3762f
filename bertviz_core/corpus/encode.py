"""Sentences -> one row per token with its hidden state at the chosen layers: what a corpus index stores.

The same function runs in-process and inside each Ray actor, so both builds write the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence
from weakref import WeakKeyDictionary

import numpy as np
import pyarrow as pa
import torch

from ..attention.views import is_punctuation
from ..loading import LoadedModel
from ..tokenization import word_groups, word_span
from .heads import STATISTICS, batch_statistics
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


SENTENCE_HEADS = "heads"
"""The sentence column of every head's statistics: L x H x S float32 (``heads.STATISTICS`` order)."""


@dataclass(frozen=True)
class Encoded:
    """What one pass over some sentences gives an index."""

    tokens: pa.Table
    """One row per indexed token (``encode_sentences``)."""
    sentences: pa.Table
    """One row per sentence: sentence_id, tokens (its length with the special tokens), ``heads`` (every head's
    statistics on it, ``sentence_heads``) and per layer L ``cls_L``, the hidden state of its first token ([CLS]),
    which the token rows leave out."""


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


def cls_column(layer: int) -> str:
    return f"cls_{layer}"


def encode_sentences(model: LoadedModel, sentences: Sentences, first_id: int, layers: Sequence[int],
                     heads: bool = True, batch_tokens: int = BATCH_TOKENS) -> Encoded:
    """Every token of ``sentences`` (sentence ids from ``first_id``) except special tokens and padding, in
    (sentence id, token index) order: id, sentence_id, token_index (0 = ``[CLS]``, as in ``Analysis.tokens``),
    token, word (the whole word it is part of) and word_index (its number in the sentence), start and end (the
    token's character span in its sentence), and per layer L (0 = the embedding output) ``vector_L`` (see
    ``layer_vectors``) and ``norm_L``; and one row per sentence (``Encoded.sentences``, with every head's
    statistics unless ``heads`` is False)."""
    encodings = model.tokenizer(list(sentences.texts), truncation=True, max_length=model.max_tokens,
                                return_offsets_mapping=True, return_special_tokens_mask=True)
    rows = [_sentence_rows(encodings, sentences, index, first_id) for index in range(len(sentences))]
    table = pa.table({name: [value for meta, _ in rows for value in meta[name]] for name in METADATA.names},
                     schema=METADATA)
    # Each batch's vectors go straight to their rows: the table is in id order with no sort, and no copy of it.
    first_row = np.cumsum([0] + [len(positions) for _, positions in rows])
    D, shape = model.config.hidden_size, (model.num_layers, model.num_heads, len(STATISTICS))
    vectors = [np.empty((table.num_rows, D), np.float32) for _ in layers]
    firsts = [np.empty((len(sentences), D), np.float32) for _ in layers]
    statistics = np.empty((len(sentences), *shape), np.float32) if heads else None
    for batch in _length_batches([len(ids) for ids in encodings["input_ids"]], batch_tokens):
        rows_of_batch = np.concatenate([np.arange(first_row[i], first_row[i + 1]) for i in batch])
        _encode_batch(model, encodings, batch, [rows[i][1] for i in batch], torch.from_numpy(rows_of_batch),
                      layers, vectors, firsts, statistics)
    for layer, states in zip(layers, vectors):
        table = table.append_column(float32_field(vector_column(layer), D), float32_column(states))
        # torch's norm runs on every core; numpy's on one, and at every layer it reads all the shard's vectors.
        norms = torch.linalg.vector_norm(torch.from_numpy(states), dim=1).numpy()
        table = table.append_column(norm_column(layer), pa.array(norms))
    per_sentence = pa.table({"sentence_id": pa.array(range(first_id, first_id + len(sentences)), pa.int64()),
                             "tokens": pa.array([len(ids) for ids in encodings["input_ids"]], pa.int32())})
    if heads:
        per_sentence = per_sentence.append_column(float32_field(SENTENCE_HEADS, *shape),
                                                  float32_column(statistics.reshape(len(sentences), -1)))
    for layer, states in zip(layers, firsts):
        per_sentence = per_sentence.append_column(float32_field(cls_column(layer), D), float32_column(states))
    return Encoded(table, per_sentence)


def float32_field(name: str, *shape: int) -> pa.Field:
    """Vectors are stored as fixed-size binary values, each the float32s of one vector (a hidden state, a sentence's
    head statistics): Parquet reads them back six times faster than lists of floats, which it decodes value by
    value."""
    return pa.field(name, pa.binary(int(np.prod(shape)) * 4), nullable=False,
                    metadata={"dtype": "<f4", "shape": ",".join(map(str, shape))})


def float32_column(rows: np.ndarray) -> pa.Array:
    """[N, W] float32 (C order) -> N fixed-size binary values, without a copy."""
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(rows.shape[1] * 4), len(rows),
                                                [None, pa.py_buffer(np.ascontiguousarray(rows, np.float32))])


def float32_rows(table: pa.Table, name: str) -> np.ndarray:
    """A column of ``float32_field`` values as [N, W] float32 (read-only, no copy when it is in one chunk)."""
    column = table.column(name)
    width = column.type.byte_width // 4
    chunks = [np.frombuffer(chunk.buffers()[1] or b"", np.float32, len(chunk) * width, chunk.offset * width * 4)
              for chunk in column.chunks]
    flat = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    return flat.reshape(-1, width)


def layer_vectors(table: pa.Table, layer: int) -> np.ndarray:
    """The hidden states [N, D] float32 of a table of token rows at ``layer``."""
    return float32_rows(table, vector_column(layer))


def sentence_heads(table: pa.Table, num_layers: int, num_heads: int) -> np.ndarray:
    """[N, L, H, S] every head's statistics on each sentence of a table of sentence rows."""
    return float32_rows(table, SENTENCE_HEADS).reshape(-1, num_layers, num_heads, len(STATISTICS))


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


def _encode_batch(model: LoadedModel, encodings, batch: list[int], positions: list[list[int]], rows: torch.Tensor,
                  layers: Sequence[int], vectors: list[np.ndarray], firsts: list[np.ndarray],
                  statistics: np.ndarray | None) -> None:
    """One forward pass over the sentences ``batch``: the hidden states of their indexed ``positions`` at each
    layer are written to ``rows`` of that layer's ``vectors``, their first tokens' to ``firsts``, and every head's
    statistics on each sentence to ``statistics`` (unless None)."""
    names = [name for name in model.tokenizer.model_input_names if name in encodings]
    inputs = model.tokenizer.pad({name: [encodings[name][i] for i in batch] for name in names}, return_tensors="pt")
    width = inputs["input_ids"].shape[1]
    kept = torch.tensor([n * width + p for n, sentence in enumerate(positions) for p in sentence], dtype=torch.long)
    with model.lock, torch.inference_mode():  # one batch at a time: other users' pages wait for one batch at most
        output = model.encoder(**inputs, output_hidden_states=True, output_attentions=statistics is not None)
        # Only the kept tokens of each chosen layer are copied: padding and special tokens never leave torch. Rows
        # of the flattened batch, picked by index_select, copy a third faster than pairs of (sentence, position).
        for layer, stored, first in zip(layers, vectors, firsts):
            states = output.hidden_states[layer]
            torch.from_numpy(stored).index_copy_(0, rows, states.reshape(-1, states.shape[-1]).index_select(0, kept))
            first[batch] = states[:, 0].numpy()
        if statistics is not None:
            statistics[batch] = batch_statistics(output.attentions, *_key_kinds(model, inputs, encodings, batch))


def _key_kinds(model: LoadedModel, inputs, encodings, batch: list[int]) -> tuple[torch.Tensor, ...]:
    """([B] lengths, [B, T] separators, [B, T] punctuation) of a padded batch: separators are the special tokens
    after the first, punctuation the other tokens made only of punctuation (as ``attention.unit_kinds`` marks
    them)."""
    ids = inputs["input_ids"]  # [B, T]
    special = torch.zeros(ids.shape, dtype=torch.bool)
    for n, index in enumerate(batch):
        mask = encodings["special_tokens_mask"][index]
        special[n, :len(mask)] = torch.tensor(mask, dtype=torch.bool)
    lengths = torch.tensor([len(encodings["input_ids"][index]) for index in batch])
    separators = special & (torch.arange(ids.shape[1]) > 0)[None, :]
    return lengths, separators, _punctuation_ids(model)[ids] & ~special


_PUNCTUATION: WeakKeyDictionary = WeakKeyDictionary()


def _punctuation_ids(model: LoadedModel) -> torch.Tensor:
    """[V] bool: which vocabulary entries are made only of punctuation; once per loaded model."""
    if model.encoder not in _PUNCTUATION:
        tokens = model.tokenizer.convert_ids_to_tokens(list(range(len(model.tokenizer))))
        _PUNCTUATION[model.encoder] = torch.tensor([is_punctuation(token or "") for token in tokens])
    return _PUNCTUATION[model.encoder]


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
    return {words[pieces[0]]: word_span(offsets, pieces) for pieces in word_groups(words)
            if words[pieces[0]] is not None}
