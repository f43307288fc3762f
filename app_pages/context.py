"""Contextual embeddings: the same word in different sentences, drifting apart layer by layer."""

import streamlit as st

from bertviz_core import InputError
from bertviz_core.charts.meaning import occurrence_paths, similarity_by_layer
from bertviz_core.meaning import nearest_words, word_across_sentences
from app_pages.common import current_lens, md, url_slider, url_text

EXAMPLES = "I sat on the bank of the river.\nI deposited money at the bank.\nThe bank raised interest rates."

model = current_lens().model

st.title("Contextual embeddings: “bank” and “bank”")
st.markdown("A word's first vector is a row of the embedding table: the same for every “bank”. Each layer then "
            "mixes in information from the other words, so the vectors of a river bank and a money bank drift "
            "apart. Give two or more sentences that share a word and watch it happen.")
sentences_text = url_text("sentences", "Sentences, one per line", EXAMPLES, lines=4)
word = url_text("word", "Shared word", "bank").strip()
sentences = [line.strip() for line in sentences_text.splitlines() if line.strip()]
try:
    found = word_across_sentences(model, sentences, word)
except InputError as error:
    st.info(md(str(error)))
    st.stop()

st.caption(md("Found in sentences " + ", ".join(str(o.sentence + 1) for o in found.occurrences)
              + " (each occurrence's pieces are averaged)."))
st.plotly_chart(similarity_by_layer(found, sentences))
st.caption("The first point compares the bare token-embedding rows: one and the same row for every “bank”, so "
           "exactly 1. The input to layer 1 adds each occurrence's position (and segment), so it is close to 1 but "
           "not equal. Falling similarity at deeper layers is the model separating the senses by their context.")
st.plotly_chart(occurrence_paths(found, sentences))

st.subheader("What each occurrence reads as")
if not model.has_mlm_head:
    st.info(md(f"{model.name} has no masked-LM head, so its vectors cannot be read back as words. Choose a model "
               "with one in the sidebar: bert-lens-minilm-mlm (offline), which works anywhere, or bert-base-uncased, "
               "distilbert-base-uncased or roberta-base from the hub."))
    st.stop()
layer = url_slider("context_layer", "Layer", 0, model.num_layers, model.num_layers)
for occurrence, vectors in zip(found.occurrences, found.vectors):
    guesses = nearest_words(model, vectors[layer], k=8)
    st.markdown(md(f"Sentence {occurrence.sentence + 1}, “{occurrence.text}”: ")
                + ", ".join(f"**{md(token)}** {prob:.0%}" for token, prob in guesses))
st.caption("The masked-LM head applied to the occurrence's vector at the chosen layer. It was trained on the last "
           "layer only, so readings of earlier layers are suggestive, not predictions.")
