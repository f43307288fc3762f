"""A classification head on frozen sentence embeddings (``meaning.sentence_embeddings``): the linear layer and
softmax that fine-tuning adds on top of BERT, trained here while the encoder stays as it is.

Names: ``N`` examples, ``M`` new examples, ``D`` embedding size, ``C`` classes. Every array returned is a read-only
float32 numpy copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .analysis import InputError, frozen_array
@dataclass(frozen=True, eq=False)
class TrainedHead:
    """Linear layer + softmax trained on frozen sentence embeddings: the part fine-tuning adds on top of BERT."""

    labels: tuple[str, ...]
    """[C] in order of first appearance."""
    weight: np.ndarray
    """[C, D]"""
    bias: np.ndarray
    """[C]"""
    losses: np.ndarray
    """[steps] cross-entropy on the training set before each step."""
    train_accuracy: float
    pooling: str
    """How the embeddings were pooled, so new sentences can be embedded the same way."""


def train_head(embeddings: np.ndarray, labels: list[str], steps: int = 300, lr: float = 0.05, seed: int = 0,
               pooling: str = "mean") -> TrainedHead:
    """Full-batch Adam on cross-entropy; deterministic for a given ``seed``; the encoder is not touched."""
    x = torch.tensor(np.asarray(embeddings), dtype=torch.float32)  # [N, D]
    labels = [str(label) for label in labels]
    if x.ndim != 2 or x.shape[0] != len(labels):
        raise InputError(f"Need one label per example: {x.shape[0] if x.ndim else 0} examples, {len(labels)} labels.")
    classes = tuple(dict.fromkeys(labels))  # [C]
    if len(labels) < 2 or len(classes) < 2:
        raise InputError("Give at least two examples with at least two different labels.")
    y = torch.tensor([classes.index(label) for label in labels])  # [N]
    linear = _initial_linear(x.shape[1], len(classes), seed)
    losses = _fit(linear, x, y, steps, lr)
    with torch.no_grad():
        accuracy = float((linear(x).argmax(dim=1) == y).float().mean())
    return TrainedHead(labels=classes, weight=frozen_array(linear.weight), bias=frozen_array(linear.bias),
                       losses=frozen_array(losses), train_accuracy=accuracy, pooling=pooling)


def _initial_linear(d: int, c: int, seed: int) -> torch.nn.Linear:
    """[D] -> [C], small random weights drawn from a private generator (the global torch seed is left alone)."""
    generator = torch.Generator().manual_seed(seed)
    linear = torch.nn.Linear(d, c)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(c, d, generator=generator) * 0.01)
        linear.bias.zero_()
    return linear


def _fit(linear: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> np.ndarray:
    optimizer = torch.optim.Adam(linear.parameters(), lr=lr)
    losses = np.empty(int(steps), dtype=np.float32)  # [steps]
    with torch.enable_grad():
        for step in range(int(steps)):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(linear(x), y)
            loss.backward()
            optimizer.step()
            losses[step] = loss.item()
    return losses


def classify(head: TrainedHead, embeddings: np.ndarray) -> np.ndarray:
    """[M, D] (or one [D] vector) -> [M, C] class probabilities; rows sum to 1."""
    x = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))  # [M, D]
    if x.shape[1] != head.weight.shape[1]:
        raise ValueError(f"Expected embeddings of size {head.weight.shape[1]}, got {x.shape[1]}.")
    logits = x @ head.weight.T.astype(np.float64) + head.bias  # [M, C]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return frozen_array(probs / probs.sum(axis=1, keepdims=True))
