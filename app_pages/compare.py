"""Two models side by side on the same sentence: their tokens, their guesses, their attention, and how alike their
hidden states are layer by layer."""

import streamlit as st

from bertviz_core import InputError, ModelLoadError
from bertviz_core.attention.views import view_matrix
from bertviz_core.charts.attention import model_view
from bertviz_core.charts.compare import cka_heatmap, token_chips
from bertviz_core.charts.mlm import guesses_bars
from bertviz_core.compare import MAX_WORDS, compare_layers
from bertviz_core.corpus.library import shipped_sentences
from app_pages import compute
from app_pages.figures import chart
from app_pages.sidebar import allowed, current_analysis, current_lens
from app_pages.state import url_choice, url_text
from app_pages.text import md

SHOWN_GUESSES = 8


def tokenizer_kind(model) -> str:
    """WordPiece, BPE or Unigram: the algorithm inside the fast tokenizer."""
    return type(model.tokenizer.backend_tokenizer.model).__name__


model = current_lens().model
analysis = current_analysis()
st.title("Compare two models")
st.markdown("The sidebar's sentence through two models at once. They may split it differently (BERT's WordPiece, "
            "RoBERTa's byte-level BPE), guess masks differently, and spread their attention differently; the last "
            "chart measures how alike their hidden states are, every layer of one against every layer of the other.")
spec = url_text("model_b", "Second model: a name the sidebar takes (offline, embedded, bert-base-uncased, "
                "roberta-base, distilbert-base-uncased, a hub id)", "embedded").strip()
if not spec:
    st.info("Name a second model to compare with.")
    st.stop()
try:
    other = compute.second_model(model, allowed(spec))
    typed = st.session_state.get("text", ""), st.session_state.get("pair") or None
    other_analysis = compute.analysis(other, *typed)
except (ModelLoadError, InputError) as error:
    st.info(md(str(error)))
    st.stop()
pair = ((model, analysis), (other, other_analysis))

st.subheader("1. Tokens")
for each, result in pair:
    chart(st, token_chips(result, f"{each.name}: {tokenizer_kind(each)}, {result.num_tokens} tokens"))

st.subheader("2. Masked-word guesses")
guessing = [(each, result) for each, result in pair if result.masks]
if len(guessing) < 2:
    missing = ", ".join(each.name for each, result in pair if not result.masks)
    st.caption(md(f"No guesses from {missing}: write [MASK] in the sentence, with two models that have a masked-LM "
                  "head (offline, bert-base-uncased, roberta-base, ...)."))
else:
    for column, (each, result) in zip(st.columns(2), guessing):
        guess = result.masks[0]
        chart(column, guesses_bars(guess.tokens[:SHOWN_GUESSES], guess.probs[:SHOWN_GUESSES],
                                   guess.logits[:SHOWN_GUESSES], f"{each.name}, first mask (token {guess.position})"))

st.subheader("3. Attention, every layer and head")
for column, (each, result) in zip(st.columns(2), pair):
    title = f"{each.name}: {each.num_layers} layers x {each.num_heads} heads"
    figure = compute.figure(("compared model view", *result.key), lambda result=result, title=title: model_view(
        view_matrix(result, result.attentions)).update_layout(title=title))
    chart(column, figure)

st.subheader("4. How alike are their layers?")
st.markdown("Tokens differ between tokenizers, so the models are compared on **words**: each word's vector is the "
            "mean of its pieces. CKA (Kornblith et al. 2019) is 1 when two layers hold the same information up to a "
            "rotation and scaling, and near 0 when they share none. With a few hundred vectors in hundreds of "
            "dimensions plain CKA drifts towards 1 for any pair of layers, so the debiased estimator is the default.")
typed_sentences = url_text("cka_sentences", "Sentences to compare on, one per line (empty: the shipped corpus)", "",
                           lines=3)
estimator = url_choice("cka_estimator", "Estimator", ["debiased", "plain"], "debiased", horizontal=True)
sentences = [line for line in typed_sentences.splitlines() if line.strip()] or list(shipped_sentences().texts)
try:
    found = compute.progressing(
        ("cka", model.location, other.location, tuple(sentences), estimator), "Reading word vectors:",
        lambda progress: compare_layers(model, other, sentences, estimator == "debiased", progress))
except InputError as error:
    st.info(md(str(error)))
    st.stop()
chart(st, cka_heatmap(found, model.name, other.name))
st.caption(f"Over the first sentences, up to {MAX_WORDS:,} words; a word either model's tokenizer drops is left out.")
