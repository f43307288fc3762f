"""Is attention an explanation? What one prediction depends on, found by the model's own forward passes.

``target`` names what is explained (a masked word's logit, a trained class), ``hooks`` edits inside the shared
model's forward pass (thread-owned, always removed), ``attributions`` scores the input tokens nine ways and measures
how faithful each is, ``interventions`` ablates heads, sweeps them and patches hidden states, ``decompose`` takes
what the model computed apart exactly, by input token or by component, and traces ALTI's routes.
"""
