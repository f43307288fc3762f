"""Contextual embeddings: the same word in different sentences, drifting apart layer by layer, and what tells the
senses apart."""

import streamlit as st

from bertviz_core import InputError
from bertviz_core.charts.meaning import occurrence_paths, sense_gap_figure, similarity_by_layer
from bertviz_core.meaning import labelled_lines, occurrence_readings, word_across_sentences
from app_pages import compute
from app_pages.sidebar import current_lens
from app_pages.state import url_slider, url_text
from app_pages.text import md
from app_pages.figures import chart

EXAMPLES = ("river: I sat on the bank of the river.\nriver: The boat drifted towards the muddy bank.\n"
            "money: I deposited money at the bank.\nmoney: The bank raised its interest rates.")

model = current_lens().model

st.title("Contextual embeddings: “bank” and “bank”")
st.markdown("A word's first vector is a row of the embedding table: the same for every “bank”. Each layer then "
            "mixes in information from the other words, so the vectors of a river bank and a money bank drift "
            "apart. Give two or more sentences that share a word and watch it happen; start a line with its sense "
            "and a colon (“river: …”) to see whether the model tells the senses apart.")
lines = labelled_lines(url_text("sentences", "Sentences, one per line (optionally “sense: sentence”)", EXAMPLES,
                                lines=5))
word = url_text("word", "Shared word", "bank").strip()
senses, sentences = [sense for sense, _ in lines], [sentence for _, sentence in lines]
try:
    analysed = compute.analyses(model, sentences)
    found = word_across_sentences(analysed, word, senses)
except InputError as error:
    st.info(md(str(error)))
    st.stop()

st.caption(md("Found in sentences " + ", ".join(str(o.sentence + 1) for o in found.occurrences)
              + " (each occurrence's pieces are averaged)."))
chart(st, similarity_by_layer(found, sentences))
same_input = found.same_input()
st.caption("The first point compares the bare token-embedding rows: one and the same row for every “bank”, so "
           "exactly 1. The input to layer 1 adds each occurrence's position (and segment): it stays exactly 1 only "
           "where the word stands at the same position in both sentences"
           + (md(" (here: " + ", ".join(f"{found.occurrences[i].sentence + 1} and {found.occurrences[j].sentence + 1}"
                                         for i, j in same_input) + ")") if same_input else "")
           + ", and is close to 1 elsewhere. Then every pair falls, pairs of the same sense too: each layer mixes in "
             "the words around, whatever they mean.")

gap = found.sense_gap()
if gap is None:
    st.info("Label the sentences with their senses (“river: …”, “money: …”), at least two with the same sense and "
            "one with another, to see what separates senses: the gap between same-sense and different-sense pairs.")
else:
    chart(st, sense_gap_figure(gap, found.word))
    widest = gap.widest
    step = ("the token rows", "the input to layer 1")[widest] if widest < 2 else f"layer {widest - 1}"
    st.caption(f"Falling similarity alone is not the model separating senses: what separates them is the gap. "
               f"Pairs of the same sense stay {gap.gap[widest]:.2f} more alike than pairs of different senses at "
               f"{step}, where the gap is widest ({gap.same_pairs} same-sense and {gap.different_pairs} "
               f"different-sense pairs); at the token rows it is {gap.gap[0]:.2f}, since every “{md(found.word)}” "
               "starts from the same row.")
chart(st, occurrence_paths(found, sentences))

st.subheader("What each occurrence reads as")
if not model.has_mlm_head:
    st.info(md(f"{model.name} has no masked-LM head, so its vectors cannot be read back as words. Choose a model "
               "with one in the sidebar: bert-lens-minilm-mlm (offline), which works anywhere, or bert-base-uncased, "
               "distilbert-base-uncased or roberta-base from the hub."))
    st.stop()
layer = url_slider("context_layer", "Layer", 0, model.num_layers, model.num_layers)
readings = compute.derived(("readings", tuple(a.key for a in analysed), found.word), "Reading every layer as words…",
                           lambda: occurrence_readings(model, found))
for occurrence, reading in zip(found.occurrences, readings):
    st.markdown(md(f"Sentence {occurrence.sentence + 1}, “{occurrence.text}”: ")
                + ", ".join(f"**{md(token)}** {prob:.0%}" for token, prob in reading[layer]))
st.caption("The masked-LM head applied to the occurrence's vector at the chosen layer. It was trained on the last "
           "layer only, so readings of earlier layers are suggestive, not predictions.")
