"""The pages, once: the navigation in app.py and the guide on the home page are both built from this list."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    script: str
    title: str
    icon: str
    url_path: str
    blurb: str


PAGES = (
    PageInfo("app_pages/tokenization.py", "Tokenization", ":material/text_fields:", "tokenization",
             "WordPiece step by step, from text to ids"),
    PageInfo("app_pages/positions.py", "Positions", ":material/timeline:", "positions",
             "why order must be injected, learned versus sinusoidal"),
    PageInfo("app_pages/inputs.py", "Building the input", ":material/add_circle:", "input",
             "token + position + segment, then LayerNorm"),
    PageInfo("app_pages/architecture.py", "Architecture", ":material/account_tree:", "architecture",
             "the model's blocks and where its parameters are"),
    PageInfo("app_pages/attention.py", "Attention", ":material/grid_on:", "attention",
             "where each token looks, for every layer and head"),
    PageInfo("app_pages/masked_lm.py", "Masked LM", ":material/question_mark:", "masked-lm",
             "hide words and watch the model guess them; the 15% / 80-10-10 recipe"),
    PageInfo("app_pages/qkv.py", "Query, key, value", ":material/calculate:", "qkv",
             "how one head computes where a token looks"),
    PageInfo("app_pages/context.py", "Contextual meaning", ":material/compare_arrows:", "context",
             "“bank” of a river versus a bank that lends"),
    PageInfo("app_pages/applications.py", "Applications", ":material/school:", "applications",
             "train a classification head, compare sentences"),
)

MLM_MODELS = ("offline", "bert-base-uncased", "distilbert-base-uncased", "roberta-base", "albert-base-v2",
              "google/electra-small-generator")
"""Specs of the presets with a trained masked-LM head: the offline model works anywhere, the others need the hub
or the local cache."""
