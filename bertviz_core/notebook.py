"""BERT Lens in a notebook: every call returns the Plotly figure the app draws, and figures need no network.

Two kinds of call:

- bertviz's ``head_view`` and ``model_view``, taking what bertviz takes: the tuple of per-layer attention tensors
  (each ``[1, H, T, T]``) a transformers model returns with ``output_attentions=True``, and the token strings. A
  bertviz user changes one import. ``layer``, ``heads``, ``include_layers`` and ``include_heads`` count from 0, as in
  bertviz.
- One-liners on text, one per page's main view: ``attention``, ``fill_mask``, ``positions``, ``qkv``, ``contextual``,
  ``attributions``, ``decomposition`` and ``corpus_search``. ``model`` is a spec as ``load_model`` takes it
  ("offline", a hub id, a folder; None for the default) or a ``LoadedModel``; each spec is loaded once per process. Layers and heads count
  from 1, as in the app, its URLs and the command line; hidden-state layers (``contextual``, ``corpus_search``) from
  0, the embedding output.

Imported in a Jupyter kernel, the module has Plotly embed its JavaScript in the notebook once, in the output of the
first figure shown, instead of loading it from a CDN (docs/notebook.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import NotebookRenderer

from . import InputError, LoadedModel, analysis_key, analyze, analyze_many, load_model
from .analysis import Analysis
from .attention.heads import first_content_token
from .attention.views import ViewOptions, raw_view, view_matrix
from .cache import BoundedCache
from .charts import attention as attention_charts
from .cli.common import one_head

RENDERER = "bert_lens_notebook"
"""Plotly's notebook renderer with plotly.js embedded once and no MathJax fetched (Plotly's own adds a CDN script)."""
RENDERERS = f"plotly_mimetype+{RENDERER}"
"""What a figure's output holds: Plotly's JSON (JupyterLab, Notebook 7, VS Code) and HTML (nbconvert, nbviewer)."""
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
POSITIONS_TEXT = "Positions."
"""A text for the analysis ``positions`` reads the model's position table from (the table does not depend on it)."""


class _InlineNotebook(NotebookRenderer):
    """Activated before the first figure: one output with plotly.js inside. Each figure is then a ``<div>`` and a
    script calling that copy, with no script loaded from anywhere."""

    def __init__(self) -> None:
        super().__init__(config=PLOTLY_CONFIG, connected=False)

    def to_mimebundle(self, fig_dict: dict) -> dict:
        return {"text/html": pio.to_html(fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
                                         full_html=False, default_width="100%", default_height=525, validate=False)}


def notebook_output(figure: go.Figure) -> dict:
    """The output a notebook stores for ``figure`` shown by this module (plotly.js itself is stored once, apart)."""
    bundle = {}
    for name in RENDERERS.split("+"):
        bundle.update(pio.renderers[name].to_mimebundle(figure.to_dict()))
    return bundle


def _offline_in_jupyter() -> None:
    """In a Jupyter kernel whose Plotly default is the plain one, embed plotly.js once instead (the user's own
    PLOTLY_RENDERER, and other front ends' defaults, such as Colab's, are left alone)."""
    pio.renderers[RENDERER] = _InlineNotebook()
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if (type(shell).__name__ == "ZMQInteractiveShell" and "PLOTLY_RENDERER" not in os.environ
            and pio.renderers.default in ("plotly_mimetype", "plotly_mimetype+notebook")):
        pio.renderers.default = RENDERERS


_offline_in_jupyter()


# ---------------------------------------------------------------------------------------------
# bertviz's two calls
# ---------------------------------------------------------------------------------------------


def head_view(attention=None, tokens=None, sentence_b_start=None, prettify_tokens=True, layer=None, heads=None,
              encoder_attention=None, decoder_attention=None, cross_attention=None, encoder_tokens=None,
              decoder_tokens=None, include_layers=None, html_action=None, *, pair: str = "all", top_k: int = 5,
              threshold: float = 0.0):
    """bertviz's head view of layer ``layer`` (0-based, default the first of ``include_layers``): a line from each
    token (left) to the tokens it attends to (right), one colour per head of ``heads`` (default all).

    ``sentence_b_start`` is the token where sentence B starts; ``pair`` ("A->A", "A->B", "B->A", "B->B") then shows one
    block, as bertviz's filter does. Each token's ``top_k`` strongest links at or above ``threshold`` are drawn.
    ``html_action``: None returns the figure, "view" displays it, "return" gives an ``IPython.display.HTML`` whose
    ``.data`` is one self-contained page."""
    attention, tokens = _self_attention(attention, tokens, encoder_attention, encoder_tokens, decoder_attention,
                                        cross_attention, decoder_tokens)
    include_layers = _indexes(include_layers, len(attention), "include_layers")
    layer = include_layers[0] if layer is None else layer
    if layer not in include_layers:
        raise ValueError(f"Layer {layer} is not in include_layers: {include_layers}")
    weights = _layer_weights(attention[layer])  # [H, T, T]
    view = raw_view(weights, _shown_tokens(tokens, prettify_tokens), sentence_b_start, pair)  # [H, R, C]
    figure = attention_charts.head_view(view, layer, _indexes(heads, len(weights), "heads"), top_k, threshold)[0]
    return _delivered(figure, html_action)


def model_view(attention=None, tokens=None, sentence_b_start=None, prettify_tokens=True, display_mode=None,
               encoder_attention=None, decoder_attention=None, cross_attention=None, encoder_tokens=None,
               decoder_tokens=None, include_layers=None, include_heads=None, html_action=None, *, pair: str = "all"):
    """bertviz's model view: every layer of ``include_layers`` x every head of ``include_heads`` (0-based, default
    all) as one image, each cell one head's attention scaled to its own maximum.

    ``sentence_b_start`` and ``pair`` as in ``head_view``. ``display_mode`` "dark" draws on a dark background (None
    or "light": the app's). ``html_action`` as in ``head_view``."""
    attention, tokens = _self_attention(attention, tokens, encoder_attention, encoder_tokens, decoder_attention,
                                        cross_attention, decoder_tokens)
    if display_mode not in (None, "light", "dark"):
        raise ValueError(f"display_mode must be 'light' or 'dark', got {display_mode!r}.")
    layers = _indexes(include_layers, len(attention), "include_layers")
    heads = _indexes(include_heads, len(_layer_weights(attention[0])), "include_heads")
    weights = None
    for n, layer in enumerate(layers):
        chosen = _layer_weights(attention[layer])[heads]  # [H', T, T]
        if weights is None:
            weights = np.empty((len(layers), *chosen.shape), dtype=np.float32)  # [L', H', T, T]: filled in place
        weights[n] = chosen
    weights.flags.writeable = False  # the view keeps it as it is, without a copy (150 MB at 512 tokens)
    view = raw_view(weights, _shown_tokens(tokens, prettify_tokens), sentence_b_start, pair)
    figure = attention_charts.model_view(view, layer_numbers=layers, head_numbers=heads)
    if display_mode == "dark":
        figure.update_layout(template="plotly_dark", plot_bgcolor="#111111", paper_bgcolor="#111111")
    return _delivered(figure, html_action)


def _self_attention(attention, tokens, encoder_attention, encoder_tokens, decoder_attention, cross_attention,
                    decoder_tokens):
    """(per-layer attention, tokens) of an encoder, from bertviz's arguments, refused as bertviz refuses them."""
    if decoder_attention is not None or cross_attention is not None or decoder_tokens is not None:
        raise ValueError("BERT Lens shows encoders: decoder_attention, cross_attention and decoder_tokens belong to "
                         "encoder-decoder models. Pass an encoder's self-attention as attention (or "
                         "encoder_attention) with its tokens.")
    if attention is not None:
        if encoder_attention is not None or encoder_tokens is not None:
            raise ValueError("If you specify 'attention' you may not specify any encoder-decoder arguments.")
        if tokens is None:
            raise ValueError("'tokens' is required")
    elif encoder_attention is not None:
        if encoder_tokens is None:
            raise ValueError("'encoder_tokens' required if 'encoder_attention' is not None")
        attention, tokens = encoder_attention, encoder_tokens
    else:
        raise ValueError("You must specify at least one attention argument.")
    if len(attention) == 0:
        raise ValueError("The attention holds no layers.")
    return attention, list(tokens)


def _layer_weights(layer) -> np.ndarray:
    """One layer's weights [1, H, T, T] (a torch tensor as transformers returns it, or an array) -> [H, T, T]."""
    if hasattr(layer, "detach"):
        layer = layer.detach().float().cpu().numpy()
    weights = np.asarray(layer, dtype=np.float32)
    if weights.ndim != 4:
        raise ValueError("The attention tensor does not have the correct number of dimensions. Make sure you set "
                         "output_attentions=True when initializing your model.")
    if weights.shape[0] != 1:
        raise ValueError(f"The attention holds a batch of {weights.shape[0]} inputs; pass one (batch size 1).")
    return weights[0]


def _indexes(chosen: Sequence[int] | None, count: int, name: str) -> list[int]:
    """0-based indexes of ``count`` layers or heads; None or empty means all of them, as in bertviz."""
    if not chosen:
        return list(range(count))
    chosen = [int(index) for index in chosen]
    if not all(0 <= index < count for index in chosen):
        raise ValueError(f"{name} counts from 0 to {count - 1}, got {chosen}.")
    return chosen


def _shown_tokens(tokens: list[str], prettify: bool) -> list[str]:
    """bertviz's ``prettify_tokens``: a space for byte-level BPE's and SentencePiece's word markers, no '</w>'."""
    if not prettify:
        return [str(token) for token in tokens]
    return [str(token).replace("Ġ", " ").replace("▁", " ").replace("</w>", "") for token in tokens]


def _delivered(figure: go.Figure, html_action: str | None):
    if html_action is None:
        return figure
    from IPython.display import HTML, display

    if html_action == "view":
        display(figure)
        return None
    if html_action == "return":
        from .export import figure_html

        return HTML(figure_html(figure))
    raise ValueError("'html_action' parameter must be 'view' or 'return'")


# ---------------------------------------------------------------------------------------------
# One-liners on text, one per page
# ---------------------------------------------------------------------------------------------

_MODELS: dict[str, LoadedModel] = {}
_ANALYSES = BoundedCache(600_000_000)
"""Analyses of this process's calls, so asking for another layer, head or view does not run the model again."""


def model_for(model: str | LoadedModel | None = None) -> LoadedModel:
    """The model a spec names, loaded once per process (a ``LoadedModel`` is used as it is)."""
    if isinstance(model, LoadedModel):
        return model
    spec = (model or "").strip()
    if spec not in _MODELS:
        _MODELS[spec] = load_model(spec)
    return _MODELS[spec]


def analysis_of(model: LoadedModel, text: str, pair: str | None = None) -> Analysis:
    """``analyze(model, text, pair)``, run once per input while the analysis stays in this process's cache."""
    return _ANALYSES.get_or_compute(analysis_key(model, text, pair), lambda: analyze(model, text, pair))


def attention(text: str, model: str | LoadedModel | None = None, *, pair: str | None = None, view: str = "heatmap",
              layer: int = 1, head: int = 1, words: bool = False, hide_special: bool = False,
              hide_punctuation: bool = False, pair_block: str = "all") -> go.Figure:
    """The Attention page's ``view``: "heatmap" (one head), "head" (one head's lines) or "model" (every head), with
    the page's options (``pair_block``: "A->B" and the like, with a ``pair``)."""
    loaded = model_for(model)
    analysis = analysis_of(loaded, text, pair)
    layer, head = one_head(loaded, layer, head)
    options = ViewOptions(words=words, hide_special=hide_special, hide_punctuation=hide_punctuation, pair=pair_block)
    if not view_matrix(analysis, analysis.attentions[0, 0], options).row_names:
        raise InputError("The options hide every token of this text: show special tokens or punctuation again.")
    return attention_charts.view_figure(analysis, view, layer, head, options)


def fill_mask(text: str, model: str | LoadedModel | None = None, *, k: int = 5, mask: int | None = None) -> go.Figure:
    """The Masked LM page's guesses: the ``k`` likeliest words at the [MASK] at token ``mask`` (default the first)."""
    from .charts.mlm import guesses_bars
    from .explain.target import mask_positions
    from .mlm import mask_and_predict

    loaded = model_for(model)
    if not loaded.has_mlm_head:
        raise InputError(f"{loaded.name} has no trained masked-LM head; choose a model that has one ('offline').")
    analysis = analysis_of(loaded, text)
    masks = mask_positions(loaded, analysis)
    if not masks:
        raise InputError("No mask in the text: write [MASK] where a word should be guessed.")
    mask = masks[0] if mask is None else mask
    if mask not in masks:
        raise InputError(f"Token {mask} is not a mask; the masks are at token {', '.join(map(str, masks))}.")
    if k < 1:
        raise InputError("k must be at least 1.")
    guess = mask_and_predict(loaded, analysis, [mask], top_k=k).guesses[0]
    return guesses_bars(guess.tokens, guess.probs, guess.logits, f"Token {guess.position}: typed mask")


POSITION_VIEWS = ("table", "curves", "similarity", "path")


def positions(model: str | LoadedModel | None = None, *, view: str = "similarity", length: int = 128,
              formula: bool = False, width: int | None = None, dimensions: Sequence[int] = (0, 1, 6, 7)) -> go.Figure:
    """The Positions page's charts of the model's position table (``formula``: the sinusoidal table of ``width``
    dimensions instead) over the first ``length`` positions: ``view`` "table", "curves" (of ``dimensions``),
    "similarity" (cosine) or "path" (the first two principal components)."""
    from .charts.positions import dimension_curves, pca_path, similarity_heatmap, table_heatmap
    from .positions import model_positions, sinusoidal
    from .vectors import cosine_similarity, pca

    loaded = model_for(model)
    found = model_positions(loaded, analysis_of(loaded, POSITIONS_TEXT))
    if not 2 <= length <= len(found.table):
        raise InputError(f"length counts positions from 2 to {len(found.table)}, got {length}.")
    table = sinusoidal(length, width or found.table.shape[1]) if formula else found.table[:length]  # [length, E]
    title = "Sinusoidal" if formula else f"{found.kind.capitalize()} ({loaded.name})"
    draw = {"table": lambda: table_heatmap(table, title),
            "curves": lambda: dimension_curves(table, list(dimensions), title),
            "similarity": lambda: similarity_heatmap(cosine_similarity(table), title),
            "path": lambda: pca_path(pca(table, 2), f"{title}, principal components")}
    return _drawn(draw, view)


def qkv(text: str, model: str | LoadedModel | None = None, *, layer: int = 1, head: int = 1, query: int | None = None,
        view: str = "weights") -> go.Figure:
    """The Query, key, value page: one step of how head ``head`` of ``layer`` computes where token ``query`` (default
    the first content word) looks, from the model's own weights; ``view`` is one of ``charts.qkv.STEPS``."""
    from .charts.qkv import step_figure
    from .qkv import head_arithmetic

    loaded = model_for(model)
    analysis = analysis_of(loaded, text)
    layer, head = one_head(loaded, layer, head)
    query = first_content_token(analysis) if query is None else query
    return step_figure(view, head_arithmetic(loaded, analysis, layer, head, query), analysis)


def contextual(sentences: str | Sequence[str], word: str = "bank", model: str | LoadedModel | None = None, *,
               view: str = "layers") -> go.Figure:
    """The Contextual meaning page: ``word`` in each of ``sentences`` (a list, or one text with a sentence a line;
    "sense: sentence" labels its sense). ``view``: "layers" (how alike each pair is, layer by layer), "senses" (the
    gap between same-sense and different-sense pairs) or "paths" (each occurrence through the layers, in 2-D)."""
    from .charts.meaning import occurrence_paths, sense_gap_figure, similarity_by_layer
    from .meaning import labelled_lines, word_across_sentences

    loaded = model_for(model)
    lines = labelled_lines(sentences if isinstance(sentences, str) else "\n".join(sentences))
    texts = [sentence for _, sentence in lines]
    found = word_across_sentences(analyze_many(loaded, texts, run=analysis_of), word, [sense for sense, _ in lines])

    def senses() -> go.Figure:
        gap = found.sense_gap()
        if gap is None:
            raise InputError("Label the sentences with their senses ('river: ...', 'money: ...'), at least two with "
                             "the same sense and one with another.")
        return sense_gap_figure(gap, found.word)

    draw = {"layers": lambda: similarity_by_layer(found, texts), "senses": senses,
            "paths": lambda: occurrence_paths(found, texts)}
    return _drawn(draw, view)


def attributions(text: str, model: str | LoadedModel | None = None, *, methods: Sequence[str] | None = None,
                 word: str | None = None, mask: int | None = None, steps: int | None = None) -> go.Figure:
    """The Explain page's attributions: how much the guess ``word`` (default the top guess) at the [MASK] at token
    ``mask`` (default the first) owes each input token, by each of ``methods`` (default all nine; names as in
    ``explain.attributions.METHODS``); ``steps`` for Integrated Gradients."""
    from .charts.explain import attribution_rows
    from .explain.attributions import IG_STEPS, METHODS, attribute
    from .explain.target import mask_target

    loaded = model_for(model)
    analysis = analysis_of(loaded, text)
    target = mask_target(loaded, analysis, mask, word)
    found = [attribute(loaded, analysis, target, method, steps=steps or IG_STEPS) for method in methods or METHODS]
    return attribution_rows(analysis.tokens, found)


def decomposition(text: str, model: str | LoadedModel | None = None, *, view: str = "tokens",
                  word: str | None = None, mask: int | None = None, threshold: float = 0.1) -> go.Figure:
    """The decomposition page: the logit of ``word`` (default the top guess) at the [MASK] at token ``mask`` (default
    the first) taken apart exactly. ``view``: "tokens" (one part per input token), "components" (each head and
    feed-forward, layers x heads) or "routes" (the routes into the mask that carry at least ``threshold``)."""
    from .charts.decompose import component_grid, route_figure, token_parts
    from .explain.decompose import decompose_components, decompose_tokens, route_graph, routes
    from .explain.target import mask_target

    loaded = model_for(model)
    analysis = analysis_of(loaded, text)
    target = mask_target(loaded, analysis, mask, word)
    draw = {"tokens": lambda: token_parts(decompose_tokens(loaded, analysis, target)),
            "components": lambda: component_grid(decompose_components(loaded, analysis, target)),
            "routes": lambda: route_figure(route_graph(routes(loaded, analysis), target.mask_index, threshold),
                                           analysis.tokens)}
    return _drawn(draw, view)


_INDEXES: dict[tuple[str, str], object] = {}


def corpus_search(text: str, token: int | None = None, model: str | LoadedModel | None = None, *,
                  corpus: str | Path | Sequence[str] | None = None, layer: int | None = None, k: int = 10,
                  view: str = "matches") -> go.Figure:
    """The Corpus search page: the ``k`` corpus tokens closest to token ``token`` (default the first content word) of
    ``text``. ``corpus``: None for the shipped sentences, sentences to index, or an index folder built by
    ``python -m bertviz_core index``. ``view``: "matches" (which words they are, at ``layer``, default the last
    indexed) or "layers" (the matches layer by layer)."""
    from .charts.corpus import matched_words, matches_across_layers
    from .corpus import query_word

    loaded = model_for(model)
    analysis = analysis_of(loaded, text)
    index = _corpus_index(loaded, corpus)
    token = first_content_token(analysis) if token is None else token
    word = query_word(analysis, token)
    layer = index.layers[-1] if layer is None else layer
    draw = {"matches": lambda: matched_words(index.search(analysis, token, layer, k), word),
            "layers": lambda: matches_across_layers(index.across_layers(analysis, token, k), word)}
    return _drawn(draw, view)


def _corpus_index(model: LoadedModel, corpus):
    """The index of ``corpus`` (see ``corpus_search``): built once where the app keeps its indexes, opened once per
    process."""
    from .corpus import CorpusIndex
    from .corpus.library import index_folder, index_root, opened, shipped_sentences
    from .corpus.text import Sentences

    if isinstance(corpus, (str, Path)):
        folder, sentences = Path(corpus), None
    else:
        sentences = shipped_sentences() if corpus is None else Sentences(tuple(corpus), ("",) * len(corpus))
        folder = index_folder(index_root(), model, sentences)
    key = (model.location, str(folder))
    if key not in _INDEXES:
        _INDEXES[key] = CorpusIndex(folder, model) if sentences is None else opened(model, sentences, folder)
    return _INDEXES[key]


def _drawn(draw: dict, view: str) -> go.Figure:
    if view not in draw:
        raise InputError(f"view is one of {', '.join(draw)}; got {view!r}.")
    return draw[view]()
