"""The model's anatomy: a block diagram built from its configuration, and where its parameters are."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from ..anatomy import ModelSummary
from .labels import safe_text


@dataclass(frozen=True)
class Block:
    title: str
    detail: str
    colour: str
    indent: float = 0.0
    """Blocks inside the repeated encoder layer are drawn indented."""


def _repetition(summary: ModelSummary) -> str:
    if summary.weight_sets >= summary.layers:
        return "the same structure repeated, each with its own weights"
    shared = "one set of weights" if summary.weight_sets == 1 else f"{summary.weight_sets} sets of weights"
    return f"the same structure repeated, sharing {shared} across all {summary.layers} layers (ALBERT)"


def architecture_blocks(summary: ModelSummary) -> list[Block]:
    """The model's parts in data-flow order, each labelled with the numbers from its config."""
    D, E, F, A = summary.hidden_size, summary.embedding_size, summary.intermediate_size, summary.heads
    segment = f" + segment ({summary.segments} x {E})" if summary.segments else " (no segment embeddings)"
    blocks = [
        Block("Input ids", f"up to {summary.max_positions} tokens from a {summary.vocab_size:,}-entry vocabulary",
              "#e8e8e8"),
        Block("Embeddings", f"token ({summary.vocab_size:,} x {E}) + position ({summary.max_positions} x {E})"
              f"{segment}, then LayerNorm", "#cfe3f7"),
    ]
    if summary.has_projection:
        blocks.append(Block("Embedding projection", f"linear {E} → {D}", "#cfe3f7"))
    blocks += [
        Block(f"Encoder layer  x {summary.layers}", _repetition(summary), "#fde9c9"),
        Block("Multi-head self-attention", f"{A} heads x {summary.head_size} dims; Q, K, V and output: {D} → {D}",
              "#fbd38d", indent=0.06),
        Block("Add & LayerNorm", "residual connection around the attention", "#fde9c9", indent=0.06),
        Block("Feed-forward", f"{D} → {F} → {D} with {summary.activation.upper()} in between", "#fbd38d",
              indent=0.06),
        Block("Add & LayerNorm", "residual connection around the feed-forward", "#fde9c9", indent=0.06),
    ]
    decoder = "decoder tied to the token embeddings" if summary.decoder_tied else "decoder"
    mlm = f"dense + activation + LayerNorm → {decoder} → {summary.vocab_size:,} logits"
    blocks.append(Block("Masked-LM head" + ("" if summary.has_mlm_head else " (not in this checkpoint)"), mlm,
                        "#d4f0d4" if summary.has_mlm_head else "#eeeeee"))
    blocks.append(Block("Classification head (added for fine-tuning)",
                        f"linear {D} → number of classes, then softmax, on the [CLS] or pooled vector", "#e6dcf5"))
    return blocks


def architecture_diagram(summary: ModelSummary) -> go.Figure:
    """The blocks stacked top to bottom, with arrows for the data flow."""
    blocks = architecture_blocks(summary)
    figure = go.Figure()
    step, height = 1.0, 0.72
    for row, block in enumerate(blocks):
        top = -row * step
        figure.add_shape(type="rect", x0=block.indent, x1=1 - block.indent, y0=top - height, y1=top,
                         fillcolor=block.colour, line=dict(color="#555", width=1))
        figure.add_annotation(x=0.5, y=top - height / 2, showarrow=False, align="center",
                              text=f"<b>{safe_text(block.title)}</b><br>{safe_text(block.detail)}")
        if row:
            figure.add_annotation(x=0.5, y=top, ax=0.5, ay=top + step - height, xref="x", yref="y", axref="x",
                                  ayref="y", showarrow=True, arrowhead=2, arrowwidth=1.5, text="")
    figure.update_xaxes(visible=False, range=[-0.02, 1.02])
    figure.update_yaxes(visible=False, range=[-len(blocks) * step + step - height - 0.1, 0.1])
    figure.update_layout(height=70 * len(blocks) + 60, margin=dict(l=10, r=10, t=40, b=10),
                         title=f"{safe_text(summary.name)}: how data flows through it", plot_bgcolor="white")
    return figure


def parameter_chart(summary: ModelSummary) -> go.Figure:
    """Parameters per component, in data-flow order; shared or tied weights counted once."""
    names = [name for name, _ in summary.parameters]
    counts = [count for _, count in summary.parameters]
    colours = ["#1f77b4" if name == "embeddings" else "#ff7f0e" if "attention" in name
               else "#2ca02c" if "feed-forward" in name else "#9467bd" for name in names]
    figure = go.Figure(go.Bar(x=counts, y=names, orientation="h", marker_color=colours,
                              hovertemplate="%{y}: %{x:,} parameters<extra></extra>"))
    figure.update_layout(title=f"{summary.total_parameters:,} parameters in all",
                         xaxis_title="parameters", yaxis=dict(autorange="reversed", type="category"),
                         height=max(300, 40 + 22 * len(names)), margin=dict(l=20, r=20, t=50, b=20))
    return figure
