"""Hooks inside the shared model's forward pass that act only in the thread that set them (``owned``) and are always
removed: edits of value vectors, heads' context vectors and the hidden state entering or leaving a layer
(``intervening``), and the outputs ``analyze`` copies out as they are made (``watching``).

The model is one object shared by every visitor. Callers hold ``model.lock`` while the hooks are set, so no other
forward pass runs meanwhile; the hooks also pass through any call from another thread (the Q/K/V views call the
attention's linear maps outside the lock). ALBERT runs one shared layer module for every layer, so a hook does not
know its layer from its module: each module counts its calls within a forward pass, restarted by a hook on the
encoder, and the n-th call of a module is the n-th layer it serves.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Callable

import torch

from ..loading import LoadedModel

Edit = Callable[[int, torch.Tensor], torch.Tensor]
"""(0-based layer, tensor [B, T, ...]) -> the tensor to use instead (it may be the same one, changed in place)."""


@dataclass(frozen=True)
class Edits:
    """What to change, each given the layer it runs for; None leaves that place alone."""

    values: Edit | None = None
    """The value projection's output [B, T, D] (every head's value vectors)."""
    contexts: Edit | None = None
    """The attention output projection's input [B, T, H * d]: each head's weighted sum of values."""
    layer_inputs: Edit | None = None
    """The hidden states [B, T, D] entering a layer (``Analysis.hidden_states[layer]``)."""
    layer_outputs: Edit | None = None
    """The hidden states [B, T, D] a layer returns (``Analysis.hidden_states[layer + 1]``)."""


PLACES: dict[str, tuple[Callable, str]] = {
    "values": (lambda model, layer: model.layout.attention(layer)[2], "output"),
    "contexts": (lambda model, layer: model.layout.attention(layer)[3], "input"),
    "layer_inputs": (lambda model, layer: layer, "input"),
    "layer_outputs": (lambda model, layer: layer, "output"),
}
"""Each field of ``Edits`` -> (layer module -> the module hooked, whether its input or its output is edited)."""


@contextlib.contextmanager
def intervening(model: LoadedModel, edits: Edits):
    """Apply ``edits`` to this thread's forward passes of ``model`` inside the block. Call it holding the lock."""
    owner = threading.get_ident()
    calls: dict[tuple[str, int], int] = {}  # (place, id(module)) -> its calls so far in this forward pass

    def restart(module, args, kwargs):
        calls.clear()

    handles = [model.encoder.register_forward_pre_hook(owned(restart, owner), with_kwargs=True)]
    try:
        layers = model.layout.layers(model.encoder)
        for place, (find, where) in PLACES.items():
            edit = getattr(edits, place)
            if edit is None:
                continue
            modules = [find(model, layer) for layer in layers]
            for module in {id(m): m for m in modules}.values():
                served = [n for n, m in enumerate(modules) if m is module]
                hook = owned(_hook(edit, where, served, calls, (place, id(module))), owner)
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True) if where == "input"
                               else module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _hook(edit: Edit, where: str, served: list[int], calls: dict, key: tuple):
    """A forward (pre-)hook applying ``edit`` to the first tensor in (or out) for the layer of this call."""

    def layer() -> int:
        done = calls.get(key, 0)
        calls[key] = done + 1
        return served[done % len(served)]

    def on_input(module, args, kwargs):
        if args:
            return (edit(layer(), args[0]), *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": edit(layer(), kwargs["hidden_states"])}

    def on_output(module, args, output):
        if isinstance(output, tuple):
            return (edit(layer(), output[0]), *output[1:])
        return edit(layer(), output)

    return on_input if where == "input" else on_output


def owned(hook: Callable, owner: int) -> Callable:
    """``hook`` acting only in the thread ``owner``: any other thread's call through the shared model passes by."""

    def guarded(*args, **kwargs):
        return hook(*args, **kwargs) if threading.get_ident() == owner else None

    return guarded


@contextlib.contextmanager
def watching(hooks: list[tuple[torch.nn.Module, Callable]]):
    """Each (module, hook): inside the block, the hook sees the module's outputs in this thread's forward passes;
    removed however the block ends."""
    owner = threading.get_ident()
    handles = [module.register_forward_hook(owned(hook, owner)) for module, hook in hooks]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
