"""What a loaded model is made of: its sizes from the config and its parameters per component."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .facts import ModelFacts, training_sentence
from .loading import LoadedModel


@dataclass(frozen=True)
class ModelSummary:
    name: str
    family: str
    layers: int
    heads: int
    hidden_size: int
    head_size: int
    intermediate_size: int
    embedding_size: int
    vocab_size: int
    max_positions: int
    """Longest input: the position table's rows that inputs can use (``position_rows`` minus RoBERTa's offset)."""
    position_rows: int
    """Rows of the position table as stored (RoBERTa: 514, of which 512 are positions)."""
    segments: int
    """Rows of the segment (token-type) table; 0 where the model has none (DistilBERT)."""
    activation: str
    has_mlm_head: bool
    decoder_tied: bool
    """The masked-LM decoder is the token-embedding table itself (False when there is no head, or it has its own)."""
    weight_sets: int
    """Layers with their own weights: ``layers``, except ALBERT, which shares one set (or a few) across all layers."""
    parameters: tuple[tuple[str, int], ...]
    """(component, count) in data-flow order; shared or tied weights are counted once, where they first appear."""

    @property
    def total_parameters(self) -> int:
        return sum(count for _, count in self.parameters)

    @property
    def positions_phrase(self) -> str:
        """The position table described the same way on every page: '512 positions' or, where rows are reserved,
        '512 positions (a table of 514 rows; the first 2 are never used as positions)'."""
        reserved = self.position_rows - self.max_positions
        if not reserved:
            return f"{self.max_positions:,} positions"
        return (f"{self.max_positions:,} positions (a table of {self.position_rows:,} rows; the first {reserved} are "
                "never used as positions)")

    @property
    def has_projection(self) -> bool:
        """ALBERT and ELECTRA embed in a smaller width and project up to the hidden size."""
        return self.embedding_size != self.hidden_size


@dataclass(frozen=True)
class SizeRow:
    """One model's headline sizes, for the comparison table."""

    model: str
    layers: int
    hidden_size: int
    heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    parameters_millions: float


REFERENCES = (
    # Published sizes of the original BERT (Devlin et al., 2019): for comparison, not read from any model. 30,522
    # is the uncased models' vocabulary; the cased ones have 28,996 entries.
    SizeRow("BERT-base uncased (reference)", 12, 768, 12, 3072, 30522, 512, 110),
    SizeRow("BERT-large uncased (reference)", 24, 1024, 16, 4096, 30522, 512, 340),
)
CASED_VOCABULARY = 28996


ORIGINAL_RECIPES = {
    # How each family's original model was trained, from its paper: said of that model, never of the loaded one.
    "bert": "the original BERT (Devlin et al. 2019) was pre-trained on two tasks at once: masked language modelling "
            "(15% of the tokens selected, most of them replaced by [MASK], and guessed from both sides) and next "
            "sentence prediction (is sentence B the one that follows sentence A, or a random one?).",
    "roberta": "the original RoBERTa (Liu et al. 2019) dropped next sentence prediction: it was pre-trained on masked "
               "language modelling alone, longer and on more text, with fresh masks every time a sentence was seen.",
    "albert": "the original ALBERT (Lan et al. 2020) replaced next sentence prediction with sentence-order prediction "
              "(are A and B in their original order, or swapped?), besides masked language modelling.",
    "distilbert": "the original DistilBERT (Sanh et al. 2019) was trained to imitate BERT-base (distillation) with "
                  "masked language modelling, without next sentence prediction.",
    "electra": "the original ELECTRA (Clark et al. 2020) trains two models: a small generator fills masks (masked "
               "language modelling), and the discriminator learns to spot which tokens the generator replaced.",
}
ORIGINAL_RECIPES.update({name: ORIGINAL_RECIPES["roberta"] for name in ("xlm-roberta", "camembert")})


def pretraining_story(facts: ModelFacts, family: str) -> str:
    """How the loaded model learned, where the project knows it; otherwise that its checkpoint does not say, and how
    its family's original model was trained, named as that model's."""
    if facts.trained_with:
        return training_sentence(facts)
    return f"{training_sentence(facts)} For comparison, {ORIGINAL_RECIPES[family]}"


def model_summary(model: LoadedModel) -> ModelSummary:
    config = model.config
    hidden = config.hidden_size
    return ModelSummary(
        name=model.name,
        family=model.family,
        layers=model.num_layers,
        heads=model.num_heads,
        hidden_size=hidden,
        head_size=hidden // model.num_heads,
        intermediate_size=getattr(config, "intermediate_size", None) or config.hidden_dim,  # DistilBERT: hidden_dim
        embedding_size=getattr(config, "embedding_size", hidden),
        vocab_size=config.vocab_size,
        max_positions=model.max_tokens,
        position_rows=config.max_position_embeddings,
        segments=_segment_rows(model),
        activation=str(getattr(config, "hidden_act", None) or getattr(config, "activation", "gelu")),
        has_mlm_head=model.has_mlm_head,
        decoder_tied=model.decoder_tied,
        weight_sets=getattr(config, "num_hidden_groups", model.num_layers),
        parameters=tuple(_parameter_counts(model)),
    )


def _segment_rows(model: LoadedModel) -> int:
    table = getattr(model.encoder.embeddings, "token_type_embeddings", None)
    return table.num_embeddings if table is not None else 0


def _parameter_counts(model: LoadedModel) -> list[tuple[str, int]]:
    seen: set[int] = set()

    def count(params) -> int:
        fresh = [p for p in params if id(p) not in seen]
        seen.update(id(p) for p in fresh)
        return sum(p.numel() for p in fresh)

    encoder = model.encoder
    projection = model.layout.projection(encoder)
    rows = [("embeddings", count(encoder.embeddings.parameters())
             + (count(projection.parameters()) if projection is not None else 0))]
    for index, layer in enumerate(model.layout.layers(encoder), start=1):
        attention, feed_forward = _split_layer(layer)
        rows += [(f"layer {index} attention", count(attention)), (f"layer {index} feed-forward", count(feed_forward))]
    pooler = getattr(encoder, "pooler", None)
    if isinstance(pooler, nn.Module):
        rows.append(("pooler", count(pooler.parameters())))
    if model.has_mlm_head:
        rows.append(("MLM head", count(model.model.parameters())))  # what remains after the encoder's share
    return rows


def _split_layer(layer: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """A layer's parameters: self-attention with its add & norm, and the feed-forward block with its own."""
    attention, feed_forward = [], []
    for name, param in layer.named_parameters():
        parts = name.split(".")
        is_attention = "attention" in parts or "sa_layer_norm" in parts
        (attention if is_attention else feed_forward).append(param)
    return attention, feed_forward


def comparison_rows(summary: ModelSummary) -> tuple[SizeRow, ...]:
    """The loaded model next to the reference BERT sizes."""
    loaded = SizeRow(f"{summary.name} (loaded)", summary.layers, summary.hidden_size, summary.heads,
                     summary.intermediate_size, summary.vocab_size, summary.max_positions,
                     round(summary.total_parameters / 1e6, 1))
    return (loaded, *REFERENCES)
