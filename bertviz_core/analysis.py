"""One forward pass -> one frozen ``Analysis`` that every page, chart and export reads from.

Names used everywhere: ``L`` layers, ``H`` heads, ``T`` tokens, ``D`` hidden size, ``E`` embedding
size (equal to ``D`` except for ALBERT and ELECTRA, which project E -> D), ``P`` position rows,
``V`` vocabulary size. Layers are 0-based here; the app shows them 1-based.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .explain.hooks import watching
from .loading import LoadedModel

MASK_ALIAS = "[MASK]"
"""Typed by users for every model; replaced by the model's own mask token (e.g. RoBERTa's <mask>)."""


class InputError(ValueError):
    """The text cannot be analysed; the message is written for the person who typed it."""


class HoldsArrays:
    """``nbytes``: the memory of the numpy arrays a result holds, so bounded caches can count it."""

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))


@dataclass(frozen=True)
class MaskPrediction:
    """The masked-LM head's guesses at one mask token."""

    position: int
    """Index of the mask in the token sequence."""
    token_ids: np.ndarray
    """[k] int64, best first."""
    tokens: tuple[str, ...]
    """[k] the vocabulary entries of ``token_ids``."""
    logits: np.ndarray
    """[k] float32 raw scores."""
    probs: np.ndarray
    """[k] float32 softmax over the whole vocabulary."""
    full_logits: np.ndarray | None = None
    """[V] float32, only when asked for."""


@dataclass(frozen=True, eq=False)
class Analysis(HoldsArrays):
    """Everything one forward pass shows. Arrays are read-only numpy copies, no padding."""

    model_name: str
    model_location: str
    """Where the model was loaded from (``LoadedModel.location``): with ``text`` and ``text_pair``, the ``key``."""
    text: str
    """The text as fed to the model (``normalised_text``: stripped, ``[MASK]`` replaced by the model's mask token)."""
    text_pair: str | None
    tokens: tuple[str, ...]
    """[T] token strings as the tokenizer spells them."""
    input_ids: np.ndarray
    """[T] int64."""
    word_ids: np.ndarray
    """[T] int64, index of the word each piece belongs to, counted across both texts; -1 for special tokens."""
    special_mask: np.ndarray
    """[T] bool, True for [CLS], [SEP] and the like."""
    segment_ids: np.ndarray
    """[T] int64, 0 for the first text, 1 for the pair (special tokens join the text they close)."""
    offsets: np.ndarray
    """[T, 2] int64 character span in its own text (``text`` or ``text_pair``); (0, 0) for special tokens."""
    position_ids: np.ndarray
    """[T] int64 rows of ``position_table`` the model used (RoBERTa's start after its padding index)."""
    attentions: np.ndarray
    """[L, H, T, T] float32, query row -> key column; each row sums to 1."""
    hidden_states: np.ndarray
    """[L + 1, T, D] float32; index 0 is the embedding output that enters layer 1."""
    token_embeddings: np.ndarray
    """[T, E] float32 rows of the word-embedding table."""
    position_embeddings: np.ndarray
    """[T, E] float32 rows of the position table."""
    segment_embeddings: np.ndarray
    """[T, E] float32 rows of the segment (token-type) table; zeros where the model has none."""
    position_table: np.ndarray
    """[P, E] float32, the model's whole learned position-embedding matrix."""
    masks: tuple[MaskPrediction, ...]
    """One per mask token, in order; empty when the model has no masked-LM head."""
    truncated: bool
    original_length: int
    """Token count before truncation to ``max_length``."""
    max_length: int

    @property
    def key(self) -> tuple[str, str, str | None]:
        """``analysis_key`` of the input this analysis was made from: results derived from it extend this key."""
        return self.model_location, self.text, self.text_pair

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]

    @property
    def text_read(self) -> str:
        """The part of ``text`` the model read: all of it, unless truncation cut it at the token limit."""
        if not self.truncated:
            return self.text
        first = (self.segment_ids == 0) & ~self.special_mask  # [T] tokens of the first text
        return self.text[:int(self.offsets[first, 1].max(initial=0))]


def normalised_text(model: LoadedModel, text: str | None) -> str:
    """The text as the model will read it: stripped, with a typed ``[MASK]`` replaced by the model's own mask token
    (RoBERTa's ``<mask>``). Every path that feeds typed text to the model goes through this."""
    text = (text or "").strip()
    mask = model.tokenizer.mask_token
    return text.replace(MASK_ALIAS, mask) if mask and mask != MASK_ALIAS else text


def analysis_key(model: LoadedModel, text: str, text_pair: str | None = None) -> tuple[str, str, str | None]:
    """What an analysis depends on: (model location, normalised text, normalised pair or None). Inputs that differ
    only in what ``normalised_text`` removes have the same key and the same analysis."""
    return model.location, normalised_text(model, text), normalised_text(model, text_pair) or None


def analysis_bytes(model: LoadedModel, text: str, text_pair: str | None = None, max_length: int = 512) -> int:
    """The memory ``analyze`` will keep for this text, known before it runs (the tokenizer alone): attention weights
    [L, H, T, T], hidden states [L + 1, T, D], the three input parts [T, E] and the position table, all float32,
    and seven int64 values per token (ids, word ids, offsets, ...)."""
    _, text, text_pair = analysis_key(model, text, text_pair)
    limit = max(2, min(int(max_length), model.max_tokens))
    tokens = len(model.tokenizer(text, text_pair, truncation=True, max_length=limit, verbose=False)["input_ids"])
    config, table = model.config, model.encoder.embeddings.position_embeddings.weight  # [P, E]
    hidden = config.num_hidden_layers + 1, tokens, config.hidden_size
    return 4 * (model.num_layers * model.num_heads * tokens * tokens + int(np.prod(hidden))
                + 3 * tokens * table.shape[1] + table.numel()) + 7 * 8 * tokens


def analyze(
    model: LoadedModel,
    text: str,
    text_pair: str | None = None,
    max_length: int = 512,
    *,
    top_k: int = 10,
    full_logits: bool = False,
) -> Analysis:
    """Run ``model`` once on ``text`` (and ``text_pair``) and return everything the pages show."""
    _, text, text_pair = analysis_key(model, text, text_pair)
    if not text:
        raise InputError("Enter some text to analyse.")
    limit = max(2, min(int(max_length), model.max_tokens))
    original_length = len(model.tokenizer(text, text_pair, truncation=False, verbose=False)["input_ids"])
    encoding = model.tokenizer(
        text, text_pair, truncation=True, max_length=limit, return_tensors="pt",
        return_offsets_mapping=True, return_special_tokens_mask=True,
    )
    inputs = {name: encoding[name] for name in model.tokenizer.model_input_names if name in encoding}
    with (model.lock, torch.inference_mode(), _capture_embedding_parts(model) as parts,
          _capture_attentions(model) as attentions):
        output = model.encoder(**inputs, output_hidden_states=True)
        last_hidden = output.hidden_states[-1][0]  # [T, D]
        masks = mask_predictions(model, encoding["input_ids"][0], last_hidden, top_k, full_logits)
    hidden_states = list(output.hidden_states)
    del output  # now the list holds torch's only references, and copying releases each tensor as it goes
    ids = encoding["input_ids"][0]
    return Analysis(
        model_name=model.name,
        model_location=model.location,
        text=text,
        text_pair=text_pair,
        tokens=tuple(model.tokenizer.convert_ids_to_tokens(ids.tolist())),
        input_ids=frozen_array(ids, np.int64),
        word_ids=frozen_array(_global_word_ids(encoding), np.int64),
        special_mask=frozen_array(encoding["special_tokens_mask"][0], bool),
        segment_ids=frozen_array(_segment_ids(encoding), np.int64),
        offsets=frozen_array(encoding["offset_mapping"][0], np.int64),
        position_ids=frozen_array(parts["position_ids"].reshape(-1)[-len(ids):], np.int64),
        attentions=attentions.array,
        hidden_states=_frozen_stack(hidden_states),
        token_embeddings=frozen_array(parts["token"][0]),
        position_embeddings=frozen_array(parts["position"].expand_as(parts["token"])[0]),
        segment_embeddings=frozen_array(parts.get("segment", torch.zeros_like(parts["token"]))[0]),
        position_table=frozen_array(model.encoder.embeddings.position_embeddings.weight),
        masks=masks,
        truncated=original_length > limit,
        original_length=original_length,
        max_length=limit,
    )


Run = Callable[[LoadedModel, str], Analysis]
"""Runs or finds the analysis of one text: ``analyze`` itself, or a cache in front of it (the app's)."""


def analyze_many(model: LoadedModel, texts: Sequence[str], run: Run = analyze) -> list[Analysis]:
    """One analysis per text, in the order given (results index the texts as given, so none is dropped); an empty
    text is an error that names it."""
    if not texts:
        raise InputError("Enter at least one sentence.")
    empty = [str(n + 1) for n, text in enumerate(texts) if not (text or "").strip()]
    if empty:
        raise InputError(f"Sentence {', '.join(empty)} is empty; enter some text or remove it.")
    return [run(model, text) for text in texts]


class _Attentions:
    """Every layer's attention weights, copied into one read-only float32 [L, H, T, T] array as the forward pass
    makes them: torch's copy of a layer is then freed while the next layer runs. Asked of the model itself
    (``output_attentions``), torch keeps every layer's until the pass ends, and at 512 tokens on BERT-base its copy
    and ours (150 MB each) were both resident, the server's peak (bench/pages.py)."""

    def __init__(self, model: LoadedModel) -> None:
        self._layers = model.num_layers
        self._array: np.ndarray | None = None
        self._filled = 0

    def keep(self, module, args, output) -> None:
        weights = output[1] if isinstance(output, tuple) else None  # every family returns (context, weights)
        if weights is None:
            raise RuntimeError("The model returned no attention weights; it must be loaded with eager attention.")
        if self._array is None:
            self._array = np.empty((self._layers, *weights.shape[1:]), dtype=np.float32)
        torch.from_numpy(self._array[self._filled]).copy_(weights[0])
        self._filled += 1

    @property
    def array(self) -> np.ndarray:
        if self._filled != self._layers:
            raise RuntimeError(f"The model's attention ran {self._filled} times for its {self._layers} layers.")
        self._array.flags.writeable = False
        return self._array


@contextlib.contextmanager
def _capture_attentions(model: LoadedModel):
    attentions = _Attentions(model)
    with watching([(module, attentions.keep) for module in attention_modules(model)]):
        yield attentions


def attention_modules(model: LoadedModel) -> list[torch.nn.Module]:
    """Each distinct attention module of the encoder (ALBERT's one shared module once): the module that holds a
    layer's query map, whose forward pass returns the attention weights after the context vectors."""
    found: dict[int, torch.nn.Module] = {}
    for layer in model.layout.layers(model.encoder):
        query = model.layout.attention(layer)[0]
        holder = next(module for module in layer.modules() if any(child is query for child in module.children()))
        found[id(holder)] = holder
    return list(found.values())


@contextlib.contextmanager
def _capture_embedding_parts(model: LoadedModel):
    """Record what the embedding tables actually return during the forward pass, and the position ids used."""
    embeddings = model.encoder.embeddings
    parts: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, args, output):
            parts.setdefault(name, output)
            if name == "position":
                parts.setdefault("position_ids", args[0])
        return hook

    tables = {"token": "word_embeddings", "position": "position_embeddings", "segment": "token_type_embeddings"}
    with watching([(getattr(embeddings, attr), keep(name)) for name, attr in tables.items()
                  if hasattr(embeddings, attr)]):
        yield parts


def mask_predictions(model: LoadedModel, ids: torch.Tensor, last_hidden: torch.Tensor, top_k: int,
                     full_logits: bool = False) -> tuple[MaskPrediction, ...]:
    """The masked-LM head's top-k at every mask token of ``ids`` [T], from the last hidden states [T, D]."""
    mask_id = model.tokenizer.mask_token_id
    if not model.has_mlm_head or mask_id is None:
        return ()
    positions = (ids == mask_id).nonzero().flatten()  # [N]
    if len(positions) == 0:
        return ()
    logits = model.mlm_logits(last_hidden[positions]).float()  # [N, V]
    probs, best = most_likely(logits, top_k)  # [N, V], [N, k]
    return tuple(
        MaskPrediction(
            position=int(position),
            token_ids=frozen_array(best[n], np.int64),
            tokens=tuple(model.tokenizer.convert_ids_to_tokens(best[n].tolist())),
            logits=frozen_array(logits[n, best[n]]),
            probs=frozen_array(probs[n, best[n]]),
            full_logits=frozen_array(logits[n]) if full_logits else None,
        )
        for n, position in enumerate(positions)
    )


def most_likely(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[..., V] logits -> ([..., V] softmax probabilities, [..., k] ids of the k most likely entries, best first)."""
    probs = logits.softmax(dim=-1)
    return probs, probs.topk(min(int(k), probs.shape[-1]), dim=-1).indices


def _global_word_ids(encoding) -> np.ndarray:
    """Word index per token across both texts (the tokenizer restarts counting in the pair); -1 for specials."""
    words = encoding.word_ids(0)
    sequences = encoding.sequence_ids(0)
    first_text_words = 1 + max((w for w, s in zip(words, sequences) if s == 0 and w is not None), default=-1)
    return np.array([-1 if w is None else w + (first_text_words if s == 1 else 0) for w, s in zip(words, sequences)])


def _segment_ids(encoding) -> np.ndarray:
    """0 or 1 per token; a special token belongs to the text before it ([CLS] to the first)."""
    segments, current = [], 0
    for sequence in encoding.sequence_ids(0):
        current = current if sequence is None else sequence
        segments.append(current)
    return np.array(segments)


def _frozen_stack(tensors: list[torch.Tensor]) -> np.ndarray:
    """N tensors [1, ...] -> read-only float32 [N, ...], copied once (torch.stack and then a numpy copy would copy
    twice). Each tensor is dropped from ``tensors`` once copied, so torch's copy and ours never both exist whole."""
    stacked = np.empty((len(tensors), *tensors[0].shape[1:]), dtype=np.float32)
    target = torch.from_numpy(stacked)  # the same memory: torch's copy runs on all cores, numpy's on one
    for index in range(len(tensors)):
        target[index].copy_(tensors[index][0])
        tensors[index] = None
    stacked.flags.writeable = False
    return stacked


def frozen_array(values, dtype=np.float32) -> np.ndarray:
    """A read-only numpy copy, so a cached analysis can be shared safely and pins no torch tensor."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.array(values, dtype=dtype, copy=True)
    array.flags.writeable = False
    return array
