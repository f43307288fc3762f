"""The masked-LM head at work: masking chosen tokens, the three steps of one guess, the logit lens,
bidirectional vs left-only context, and BERT's training recipe run by transformers' own collator.

Names as in ``analysis``: ``L`` layers, ``T`` tokens, ``D`` hidden size, ``E`` embedding size, ``V`` vocabulary
size, ``k`` guesses kept, ``S`` selected positions, ``N`` runs. Every array returned is a read-only numpy copy
(float32 for values, int64 for ids).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling

from .analysis import Analysis, HoldsArrays, InputError, frozen_array, most_likely, normalised_text
from .loading import LoadedModel, next_sentence_head
from .tokenization import word_groups

FATES = ("not selected", "[MASK]", "random", "unchanged")
"""What the training recipe did to each token."""
RECIPE_SPLIT = (0.8, 0.1, 0.1)
"""Of the selected tokens: replaced by [MASK], by a random token, left unchanged (BERT's recipe)."""


def _require_head(model: LoadedModel) -> None:
    if not model.has_mlm_head:
        raise ValueError(f"{model.name} has no trained masked-LM head, so it cannot guess masked words.")
    if model.tokenizer.mask_token_id is None:
        raise ValueError(f"{model.name}'s tokenizer has no mask token.")


def _encoder_inputs(model: LoadedModel, ids: torch.Tensor, segments: torch.Tensor | None = None) -> dict:
    """[B, T] ids -> the encoder's keyword arguments: attention mask all ones, segments where the model uses them."""
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "token_type_ids" in model.tokenizer.model_input_names:
        inputs["token_type_ids"] = torch.zeros_like(ids) if segments is None else segments
    return inputs


def _tokens(model: LoadedModel, ids) -> tuple[str, ...]:
    return tuple(model.tokenizer.convert_ids_to_tokens([int(i) for i in ids]))


# ---------------------------------------------------------------------------------------------
# Masking chosen tokens
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedGuess:
    """The head's guesses at one position that was masked, and how it rated the token that was there."""

    position: int
    original_id: int
    original_token: str
    token_ids: np.ndarray
    """[k] int64, best first."""
    tokens: tuple[str, ...]
    logits: np.ndarray
    """[k] float32."""
    probs: np.ndarray
    """[k] float32 softmax over the whole vocabulary."""
    original_rank: int
    """1-based rank of the original token among all V entries (1 = the head's top guess)."""
    original_prob: float


@dataclass(frozen=True, eq=False)
class MaskedPrediction(HoldsArrays):
    """One forward pass with the chosen tokens replaced by the mask token."""

    positions: tuple[int, ...]
    """Every masked position, ascending (whole-word masking adds the word's other pieces)."""
    input_ids: np.ndarray
    """[T] int64 the ids actually fed to the model."""
    tokens: tuple[str, ...]
    """[T] their token strings."""
    guesses: tuple[MaskedGuess, ...]
    """One per masked position, in the order of ``positions``."""
    hidden_states: np.ndarray
    """[L + 1, T, D] float32 of this masked run (for the logit lens)."""


def mask_and_predict(model: LoadedModel, analysis: Analysis, token_indices: list[int], top_k: int = 10,
                     whole_word: bool = False) -> MaskedPrediction:
    """Mask the tokens at ``token_indices`` of ``analysis`` (with ``whole_word``, every piece of their words) and
    let the masked-LM head guess them in one forward pass."""
    _require_head(model)
    positions = positions_to_mask(analysis, token_indices, whole_word)
    ids = torch.tensor(analysis.input_ids.tolist()).unsqueeze(0)  # [1, T]
    original = ids[0, list(positions)].clone()  # [S]
    ids[0, list(positions)] = model.tokenizer.mask_token_id
    with model.lock, torch.inference_mode():
        hidden = _masked_hidden_states(model, analysis, ids)  # [L + 1, T, D]
        logits = model.mlm_logits(hidden[-1, list(positions)]).float()  # [S, V]
    guesses = tuple(_guess(model, p, int(o), row, top_k) for p, o, row in zip(positions, original, logits))
    return MaskedPrediction(positions=positions, input_ids=frozen_array(ids[0], np.int64),
                            tokens=_tokens(model, ids[0]), guesses=guesses, hidden_states=frozen_array(hidden))


def _masked_hidden_states(model: LoadedModel, analysis: Analysis, ids: torch.Tensor) -> torch.Tensor:
    """[L + 1, T, D] for the masked ``ids`` [1, T]. When they are the analysed input (every chosen token was a typed
    [MASK]), the analysis already holds them: a class opening the page at once then shares one encoder pass per
    sentence instead of two."""
    if np.array_equal(ids[0].numpy(), analysis.input_ids):
        return torch.tensor(analysis.hidden_states)
    segments = torch.tensor(analysis.segment_ids.tolist()).unsqueeze(0)  # [1, T]
    output = model.encoder(**_encoder_inputs(model, ids, segments), output_hidden_states=True)
    return torch.stack(output.hidden_states)[:, 0]


def positions_to_mask(analysis: Analysis, token_indices: list[int], whole_word: bool = False) -> tuple[int, ...]:
    """The positions ``mask_and_predict`` masks, ascending: the tokens chosen and, with ``whole_word``, every other
    piece of their words. Two choices with the same positions give the same masked input."""
    if not token_indices:
        raise InputError("Choose at least one token to mask.")
    word_of = {p: pieces for pieces in word_groups(analysis.word_ids.tolist()) for p in pieces}
    chosen = set()
    for index in token_indices:
        index = int(index)
        if not 0 <= index < analysis.num_tokens:
            raise InputError(f"There is no token {index}; the text has {analysis.num_tokens} tokens.")
        if analysis.special_mask[index]:
            raise InputError(f"{analysis.tokens[index]} is a special token, not part of the text; it cannot be masked.")
        chosen.update(word_of[index] if whole_word else (index,))
    return tuple(sorted(chosen))


def _guess(model: LoadedModel, position: int, original_id: int, logits: torch.Tensor, top_k: int) -> MaskedGuess:
    """``logits`` [V] at one masked position -> its top-k and the original token's rank and probability."""
    probs, best = most_likely(logits, top_k)  # [V], [k]
    return MaskedGuess(
        position=int(position),
        original_id=original_id,
        original_token=_tokens(model, [original_id])[0],
        token_ids=frozen_array(best, np.int64),
        tokens=_tokens(model, best),
        logits=frozen_array(logits[best]),
        probs=frozen_array(probs[best]),
        original_rank=1 + int((logits > logits[original_id]).sum()),
        original_prob=float(probs[original_id]),
    )


# ---------------------------------------------------------------------------------------------
# The three steps of one guess
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HeadSteps(HoldsArrays):
    """Hidden state -> dense + activation + LayerNorm -> dot product with every word embedding -> softmax."""

    hidden: np.ndarray
    """[D] float32 the last layer's vector at the position."""
    hidden_norm: float
    transformed: np.ndarray
    """[E] float32 after the head's dense layer, activation and LayerNorm."""
    logits: np.ndarray
    """[V] float32 transformed . word embedding (+ bias) for every vocabulary entry."""
    probs: np.ndarray
    """[V] float32 softmax of ``logits``."""
    top_ids: np.ndarray
    """[k] int64, best first."""
    top_tokens: tuple[str, ...]
    top_logits: np.ndarray
    """[k] float32."""
    top_probs: np.ndarray
    """[k] float32."""

    @property
    def argmax_token(self) -> str:
        return self.top_tokens[0]


def head_steps(model: LoadedModel, hidden: np.ndarray, top_k: int = 10) -> HeadSteps:
    """Run the masked-LM head on one hidden vector [D], keeping every intermediate."""
    _require_head(model)
    vector = torch.tensor(np.asarray(hidden, dtype=np.float32)).unsqueeze(0)  # [1, D]
    with model.lock, torch.inference_mode():
        transformed = model.layout.mlm_transform(model.model)(vector)  # [1, E]
        logits = model.model.get_output_embeddings()(transformed)[0].float()  # [V]
    probs, best = most_likely(logits, top_k)  # [V], [k]
    return HeadSteps(
        hidden=frozen_array(vector[0]),
        hidden_norm=float(vector[0].norm()),
        transformed=frozen_array(transformed[0]),
        logits=frozen_array(logits),
        probs=frozen_array(probs),
        top_ids=frozen_array(best, np.int64),
        top_tokens=_tokens(model, best),
        top_logits=frozen_array(logits[best]),
        top_probs=frozen_array(probs[best]),
    )


# ---------------------------------------------------------------------------------------------
# Logit lens
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LogitLens(HoldsArrays):
    """The masked-LM head applied to every layer's hidden state at one position: what each layer 'would guess'."""

    position: int
    token_ids: np.ndarray
    """[L + 1, k] int64, best first; row 0 is the embedding output, the last row the model's real prediction."""
    tokens: tuple[tuple[str, ...], ...]
    """[L + 1][k]."""
    probs: np.ndarray
    """[L + 1, k] float32."""

    def top(self, k: int) -> LogitLens:
        """The same readings, keeping each layer's ``k`` best (a view, nothing recomputed)."""
        return LogitLens(position=self.position, token_ids=self.token_ids[:, :k],
                         tokens=tuple(row[:k] for row in self.tokens), probs=self.probs[:, :k])


def logit_lens(model: LoadedModel, hidden_states: np.ndarray, position: int, top_k: int = 5) -> LogitLens:
    """``hidden_states`` [L + 1, T, D] (from ``analyze`` or ``mask_and_predict``) -> top-k guesses per layer."""
    _require_head(model)
    if not 0 <= position < hidden_states.shape[1]:
        raise InputError(f"There is no token {position}; the text has {hidden_states.shape[1]} tokens.")
    vectors = torch.tensor(np.asarray(hidden_states[:, position], dtype=np.float32))  # [L + 1, D]
    with model.lock, torch.inference_mode():
        probs, best = most_likely(model.mlm_logits(vectors).float(), top_k)  # [L + 1, V], [L + 1, k]
    return LogitLens(position=int(position), token_ids=frozen_array(best, np.int64),
                     tokens=tuple(_tokens(model, row) for row in best), probs=frozen_array(probs.gather(-1, best)))


# ---------------------------------------------------------------------------------------------
# Bidirectional vs left-only context
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ContextComparison(HoldsArrays):
    full: MaskedGuess
    """Guesses at the mask seeing the whole input, as BERT does."""
    left: MaskedGuess
    """Guesses at the same mask seeing only the tokens up to and including it."""
    left_tokens: tuple[str, ...]
    """The tokens the model saw in the left-only run: nothing after the mask, not even the end marker."""


def compare_contexts(model: LoadedModel, analysis: Analysis, prediction: MaskedPrediction, position: int,
                     top_k: int = 10) -> ContextComparison:
    """The guesses at one masked ``position`` of ``prediction`` (from ``mask_and_predict`` on ``analysis``) against
    what the model guesses when the input stops right after the mask, as a left-to-right model would read it."""
    _require_head(model)
    if position not in prediction.positions:
        raise InputError(f"Token {position} is not masked.")
    ids = torch.tensor(prediction.input_ids[:position + 1].tolist()).unsqueeze(0)  # [1, position + 1]
    segments = torch.tensor(analysis.segment_ids[:position + 1].tolist()).unsqueeze(0)  # [1, position + 1]
    with model.lock, torch.inference_mode():
        hidden = model.encoder(**_encoder_inputs(model, ids, segments)).last_hidden_state[0, position]  # [D]
        logits = model.mlm_logits(hidden.unsqueeze(0))[0].float()  # [V]
    full = prediction.guesses[prediction.positions.index(position)]
    return ContextComparison(full=full, left=_guess(model, position, full.original_id, logits, top_k),
                             left_tokens=_tokens(model, ids[0]))


def attention_masks(num_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """[T, T] uint8 who may attend to whom (row query, column key): all ones for BERT, lower-triangular for a
    left-to-right model."""
    full = np.ones((num_tokens, num_tokens), dtype=np.uint8)
    return frozen_array(full, np.uint8), frozen_array(np.tril(full), np.uint8)


# ---------------------------------------------------------------------------------------------
# The training recipe (transformers' DataCollatorForLanguageModeling)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipeGuess:
    """The model's guess at one position the recipe selected; the loss is what training would minimise."""

    position: int
    original_token: str
    input_token: str
    """What the model saw there: the mask token, a random token, or the original."""
    predicted_token: str
    """The head's top-1 guess."""
    original_prob: float
    loss: float
    """Cross-entropy: -log(original_prob)."""


@dataclass(frozen=True, eq=False)
class RecipeRun(HoldsArrays):
    """One seeded draw of BERT's masking recipe on one text, and the model's loss on it."""

    seed: int
    probability: float
    tokens: tuple[str, ...]
    """[T] original tokens."""
    input_ids: np.ndarray
    """[T] int64 original ids."""
    selectable: int
    """Tokens the recipe may select: all but the special ones ([CLS], [SEP], a typed [MASK])."""
    fate: tuple[str, ...]
    """[T] one of ``FATES`` per token."""
    corrupted_ids: np.ndarray
    """[T] int64 what the model is fed."""
    corrupted_tokens: tuple[str, ...]
    guesses: tuple[RecipeGuess, ...]
    """One per selected position, in order."""
    total_loss: float | None
    """Mean cross-entropy over the selected positions (the training loss); None when none was selected."""


@dataclass(frozen=True)
class RecipeShares(HoldsArrays):
    """How often the recipe selected, masked, randomised or kept tokens over many seeded runs."""

    runs: int
    probability: float
    selectable: int
    """Tokens the recipe may select in one run (special tokens never are), as ``RecipeRun.selectable``."""
    selected: int
    masked: int
    random: int
    unchanged: int

    @property
    def shares(self) -> tuple[float, float, float, float]:
        """Observed (selected of selectable, [MASK] of selected, random of selected, unchanged of selected)."""
        picked = max(self.selected, 1)
        return (self.selected / max(self.selectable * self.runs, 1), self.masked / picked, self.random / picked,
                self.unchanged / picked)

    @property
    def expected(self) -> tuple[float, float, float, float]:
        return (self.probability, *RECIPE_SPLIT)


def _collator(tokenizer, seed: int, probability: float) -> DataCollatorForLanguageModeling:
    """transformers' own collator with its defaults (80 / 10 / 10), seeded by its private torch.Generator, so the
    global random state is left alone."""
    return DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=probability, seed=int(seed),
                                           return_tensors="pt")


def _recipe_ids(tokenizer, text: str, max_length: int) -> list[int]:
    text = (text or "").strip()
    if not text:
        raise InputError("Enter some text to mask.")
    return tokenizer(text, truncation=True, max_length=max_length)["input_ids"]


def _selectable(tokenizer, ids: list[int]) -> int:
    """How many of ``ids`` the collator may select: it never selects special tokens."""
    return len(ids) - sum(tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True))


def _fates(tokenizer, original: torch.Tensor, corrupted: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[N, T] -> [N, T] index into ``FATES``, read from the collator's output.

    The collator does not report which branch it took, so the fate is what can be seen: a random draw that hit the
    original token (1 in V) reads as unchanged, one that hit the mask token as [MASK]."""
    selected = labels != -100
    masked = selected & (corrupted == tokenizer.mask_token_id) & (original != tokenizer.mask_token_id)
    unchanged = selected & ~masked & (corrupted == original)
    fate = torch.zeros(original.shape, dtype=torch.long)  # [N, T]
    fate[masked] = 1
    fate[selected & ~masked & ~unchanged] = 2
    fate[unchanged] = 3
    return fate


def recipe_run(model: LoadedModel, text: str, seed: int, probability: float = 0.15) -> RecipeRun:
    """One draw of the recipe on ``text`` (``[MASK]`` typed in it stays a mask and, being special, is never
    selected), then one forward pass on the corrupted input and the loss at the selected positions."""
    _require_head(model)
    ids = _recipe_ids(model.tokenizer, normalised_text(model, text), model.max_tokens)
    batch = _collator(model.tokenizer, seed, probability)([ids])
    original, corrupted, labels = torch.tensor([ids]), batch["input_ids"], batch["labels"]  # [1, T] each
    fate = _fates(model.tokenizer, original, corrupted, labels)[0]  # [T]
    positions = (labels[0] != -100).nonzero().flatten()  # [S]
    with model.lock, torch.inference_mode():
        last = model.encoder(**_encoder_inputs(model, corrupted)).last_hidden_state[0]  # [T, D]
        logits = model.mlm_logits(last[positions]).float()  # [S, V]
    log_probs = logits.log_softmax(dim=-1)  # [S, V]
    targets = labels[0, positions]  # [S]
    losses = -log_probs[torch.arange(len(positions)), targets]  # [S]
    guesses = tuple(
        RecipeGuess(position=int(p), original_token=_tokens(model, [t])[0],
                    input_token=_tokens(model, [corrupted[0, p]])[0],
                    predicted_token=_tokens(model, [logits[n].argmax()])[0],
                    original_prob=float(losses[n].neg().exp()), loss=float(losses[n]))
        for n, (p, t) in enumerate(zip(positions, targets))
    )
    return RecipeRun(
        seed=int(seed), probability=float(probability), tokens=_tokens(model, ids),
        input_ids=frozen_array(ids, np.int64), selectable=_selectable(model.tokenizer, ids),
        fate=tuple(FATES[int(f)] for f in fate),
        corrupted_ids=frozen_array(corrupted[0], np.int64), corrupted_tokens=_tokens(model, corrupted[0]),
        guesses=guesses, total_loss=float(losses.mean()) if len(positions) else None,
    )


def recipe_shares(tokenizer, text: str, runs: int, seed: int, probability: float = 0.15,
                  max_length: int = 512) -> RecipeShares:
    """``runs`` draws of the recipe on ``text`` in one batched collator call, counted by fate."""
    if runs < 1:
        raise InputError("Run the recipe at least once.")
    ids = _recipe_ids(tokenizer, text, max_length)
    batch = _collator(tokenizer, seed, probability)([ids] * int(runs))
    original = torch.tensor([ids]).expand(int(runs), -1)  # [N, T]
    counts = torch.bincount(_fates(tokenizer, original, batch["input_ids"], batch["labels"]).flatten(),
                            minlength=len(FATES))
    return RecipeShares(runs=int(runs), probability=float(probability), selectable=_selectable(tokenizer, ids),
                        selected=int(counts[1:].sum()), masked=int(counts[1]), random=int(counts[2]),
                        unchanged=int(counts[3]))


# ---------------------------------------------------------------------------------------------
# Next sentence prediction
# ---------------------------------------------------------------------------------------------


def next_sentence_probability(model: LoadedModel, analysis: Analysis) -> float | None:
    """P(sentence B followed A) from BERT's own next-sentence head on the analysis of the pair (A, B): the [CLS]
    state through the pooler (dense + tanh), then the 2-way classifier, whose first class is "is next". None
    when the checkpoint has no such head."""
    if analysis.text_pair is None:
        raise InputError("Next sentence prediction reads two sentences: give the second one too.")
    head = next_sentence_head(model)
    if head is None:
        return None
    cls = torch.tensor(np.asarray(analysis.hidden_states[-1][0]))  # [D]
    pooled = torch.tanh(head["pooler_weight"] @ cls + head["pooler_bias"])  # [D]
    logits = head["weight"] @ pooled + head["bias"]  # [2]
    return float(logits.softmax(dim=-1)[0])
