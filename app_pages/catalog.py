"""The pages, once: the navigation in app.py, the guide on the home page and the URL names all come from this list."""

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The folder that holds ``app_pages``: a clone's root, or the site-packages of an installed copy."""
SHARED_PARAMS = ("text", "pair", "model", "layer", "head")
"""URL names that mean the same on every page: the sidebar's sentence, pair and model, and a 1-based layer and head."""


@dataclass(frozen=True)
class PageInfo:
    script: str
    """The page's file, from the folder that holds ``app_pages`` (``app_pages/home.py``)."""
    title: str
    icon: str
    url_path: str
    blurb: str
    section: str
    params: tuple[str, ...] = ()
    """The page's own URL names: no other page reads them (shared names are in ``SHARED_PARAMS``)."""

    @property
    def path(self) -> Path:
        """The page's file, absolute, for ``st.Page`` and ``st.page_link``: Streamlit reads a relative path from the
        entry script's folder, the clone's root for ``app.py`` but ``app_pages/`` for ``app_pages/app.py``."""
        return ROOT / self.script


START, INSIDE, EXPLAIN, BEYOND = "Start", "Inside one sentence", "Is attention an explanation?", "Beyond one sentence"
SECTIONS = (START, INSIDE, EXPLAIN, BEYOND)
"""The navigation's sections, in the order the story is told; inside one sentence, pages follow BERT's computation."""

HOME = PageInfo("app_pages/home.py", "Home", ":material/home:", "", "what BERT is, and the loaded model", START)
"""The default page: Streamlit serves it at the root URL, and no other (``/home`` would be "Page not found")."""

PAGES = (
    PageInfo("app_pages/lesson.py", "Lesson", ":material/co_present:", "lesson",
             "a guided path through BERT that asks before it shows; a presenter mode for the classroom", START,
             ("name", "step", "presenter")),
    PageInfo("app_pages/tokenization.py", "Tokenization", ":material/text_fields:", "tokenization",
             "WordPiece step by step, from text to ids", INSIDE),
    PageInfo("app_pages/positions.py", "Positions", ":material/timeline:", "positions",
             "why order must be injected, learned versus sinusoidal", INSIDE, ("length", "width")),
    PageInfo("app_pages/inputs.py", "Building the input", ":material/add_circle:", "input",
             "token + position (+ segment, where the model has one), then LayerNorm", INSIDE),
    PageInfo("app_pages/architecture.py", "Architecture", ":material/account_tree:", "architecture",
             "the model's blocks and where its parameters are", INSIDE),
    PageInfo("app_pages/qkv.py", "Query, key, value", ":material/calculate:", "qkv",
             "how one head computes where a token looks", INSIDE, ("query",)),
    PageInfo("app_pages/attention.py", "Attention", ":material/grid_on:", "attention",
             "where each token looks, for every layer and head", INSIDE,
             ("view", "words", "hide_special", "hide_punct", "pair_block", "top_k", "focus", "token", "norm_per_head",
              "compare_text")),
    PageInfo("app_pages/context.py", "Contextual meaning", ":material/compare_arrows:", "context",
             "“bank” of a river versus a bank that lends", INSIDE, ("sentences", "word", "context_layer")),
    PageInfo("app_pages/masked_lm.py", "Masked LM", ":material/question_mark:", "masked-lm",
             "hide words and watch the model guess them; the 15% / 80-10-10 recipe", INSIDE,
             ("k", "masked", "whole_word", "left_only", "recipe")),
    PageInfo("app_pages/applications.py", "Applications", ":material/school:", "applications",
             "train a classification head, compare sentences", INSIDE, ("examples", "pooling", "compare")),
    PageInfo("app_pages/explain.py", "Explain", ":material/psychology:", "explain",
             "attributions, their faithfulness, heads switched off", EXPLAIN,
             ("explain_on", "explain_mask", "explain_target", "explain_class", "ig_steps", "ablate", "corrupt")),
    PageInfo("app_pages/decomposition.py", "Where the answer was written", ":material/account_tree:", "decompose",
             "the masked word's logit taken apart exactly, by token and by head; the routes it took", EXPLAIN,
             ("decomp_view", "route_threshold")),
    PageInfo("app_pages/corpus.py", "Corpus search", ":material/manage_search:", "corpus",
             "where else a whole corpus holds a token like this one, layer by layer", BEYOND,
             ("corpus", "corpus_folder", "corpus_token", "corpus_layer", "corpus_k")),
    PageInfo("app_pages/atlas.py", "Corpus atlas", ":material/scatter_plot:", "atlas",
             "what each head usually does over a corpus; one head's queries and keys; a map of the sentences", BEYOND,
             ("atlas_corpus", "atlas_folder", "atlas_view", "atlas_stat", "atlas_color", "atlas_projection",
              "atlas_map_layer", "atlas_pooling")),
    PageInfo("app_pages/compare.py", "Compare two models", ":material/compare:", "compare",
             "the same sentence through two models: tokens, guesses, attention, how alike their layers are", BEYOND,
             ("model_b", "cka_sentences", "cka_estimator")),
)
"""Every page but Home, section by section in navigation order."""

MLM_MODELS = ("offline", "bert-base-uncased", "distilbert-base-uncased", "roberta-base", "albert-base-v2",
              "google/electra-small-generator")
"""Specs of the presets with a trained masked-LM head: the offline model works anywhere, the others need the hub
or the local cache."""


def in_section(section: str) -> tuple[PageInfo, ...]:
    """The pages of one section, Home first in its own, in navigation order."""
    return tuple(page for page in (HOME, *PAGES) if page.section == section)


def params_of(url_path: str) -> frozenset[str]:
    """Every URL name the page at ``url_path`` may read and write: the shared ones and its own."""
    own = next((page.params for page in (HOME, *PAGES) if page.url_path == url_path), ())
    return frozenset(SHARED_PARAMS + own)
