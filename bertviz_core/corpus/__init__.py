"""A corpus indexed by contextual meaning: every token's hidden state at chosen layers, in Parquet shards and one
FAISS index per layer, searched by cosine similarity (exBERT's search, for any BERT-family model and any text)."""

from .search import CorpusIndex, Match, Occurrence, SearchResult, WordGroups, query_word
from .store import CorpusIndexError, Manifest, build_index, model_fingerprint, read_manifest
from .text import Sentences, read_sentences

__all__ = ["CorpusIndex", "CorpusIndexError", "Manifest", "Match", "Occurrence", "SearchResult", "Sentences",
           "WordGroups", "build_index", "model_fingerprint", "query_word", "read_manifest", "read_sentences"]
