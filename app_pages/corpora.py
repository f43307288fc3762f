"""The corpus a corpus page works on: the shipped one, the visitor's upload, or an operator's index folder; each page
keeps the choice under URL names of its own."""

from pathlib import Path

import streamlit as st

from app_pages import compute
from app_pages.sidebar import local_paths_allowed
from app_pages.state import url_choice, url_text
from bertviz_core import InputError
from bertviz_core.corpus import CorpusIndex
from bertviz_core.corpus.library import UPLOADS, index_folder, index_root, shipped_sentences, token_count
from bertviz_core.corpus.text import sentences_of

UPLOAD_TOKENS = 20_000  # indexed on the shared server; bigger corpora go through the command line or Ray
SOURCES = {"shipped": "Shipped: 440 sentences held out of the offline model's fine-tuning", "upload": "Upload a text file",
           "folder": "An index folder on this server"}


def chosen_corpus(model, source_name: str, folder_name: str) -> CorpusIndex:
    """The index the visitor chose: the shipped corpus, their own upload (never in the URL, so a shared link never
    opens someone else's), or, where the operator allows it, an index folder built by the command line or Ray."""
    sources = ["shipped", "upload"] + (["folder"] if local_paths_allowed() else [])
    source = url_choice(source_name, "Corpus", sources, "shipped", horizontal=True, format_func=SOURCES.get)
    if source == "shipped":
        sentences = shipped_sentences()
        return compute.corpus_index(model, sentences, index_folder(index_root(), model, sentences))
    if source == "folder":
        folder = url_text(folder_name, "Index folder (built by `python -m bertviz_core index`)", "").strip()
        if not folder:
            st.stop()
        return compute.opened_corpus_index(model, Path(folder))
    return uploaded_corpus(model)


def uploaded_corpus(model) -> CorpusIndex:
    upload = st.file_uploader(f"A UTF-8 .txt file, one sentence per line (at most {UPLOAD_TOKENS:,} tokens)",
                              type=["txt"])
    prose = st.checkbox("The file is prose: split it into sentences")
    if upload is None:
        st.stop()
    sentences = sentences_of(upload.getvalue(), upload.name, "prose" if prose else "lines")
    folder = index_folder(index_root() / UPLOADS, model, sentences)
    if not folder.exists():  # a new upload: checked once, not on every rerun of the page
        tokens = token_count(model, sentences)
        if tokens > UPLOAD_TOKENS:
            raise InputError(f"This file has {tokens:,} tokens; the app indexes at most {UPLOAD_TOKENS:,}. Index "
                             "bigger corpora with `python -m bertviz_core index` and open the folder here.")
    return compute.corpus_index(model, sentences, folder)
