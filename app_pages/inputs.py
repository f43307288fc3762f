"""Building the input: token + position + segment embeddings, summed and normalised, for the user's sentence."""

import streamlit as st

from bertviz_core.facts import casing_sentence, segments_sentence, sentence_head_sentence
from bertviz_core.charts.inputs import input_heatmaps, input_norms, order_changes
from bertviz_core.positions import compare_orders, input_vectors, reorder_words
from app_pages import compute
from app_pages.sidebar import current_analysis, current_lens
from app_pages.figures import chart

EXAMPLE = "She loves cats"


def why_segments(facts) -> str:
    """Why the model has segment rows, from what its checkpoint holds; BERT-base's reason named as BERT-base's."""
    if facts.sentence_head:
        return (f"{sentence_head_sentence(facts)} That task reads pairs of sentences, and attention alone cannot "
                "tell which text a token came from: each token gets the row of its segment, A for the first text, B "
                f"for the second. {segments_sentence(facts)}")
    use = (" Fine-tuning on pairs of texts (a question and a passage, a claim and its evidence) can put them to use."
           if facts.segment_types >= 2 else "")
    zero = " That part is zero below." if not facts.segment_types else ""
    return (f"BERT-base learned its segment rows for next sentence prediction, which reads sentence pairs. "
            f"{sentence_head_sentence(facts)} {segments_sentence(facts)}{zero}{use}")


def use_example() -> None:
    st.session_state["text"] = EXAMPLE


model = current_lens().model
analysis = current_analysis()
vectors = input_vectors(model, analysis)

st.title("Building the input: token + position + segment")
facts = compute.facts(model)
parts = ["- the **token embedding**, a learned table: the row for this vocabulary entry, the same wherever the token "
         f"appears. {casing_sentence(facts)}"]
if facts.positions != "none":
    kind = "a learned table" if facts.positions == "learned" else "the fixed sinusoidal formula"
    parts.append(f"- the **position embedding**, {kind}: the row for its place in the input (see the Positions page).")
if facts.segment_types:
    parts.append("- the **segment embedding**, a learned table: the row of sentence A or sentence B, for inputs made "
                 "of two texts.")
st.markdown(f"Before the first layer sees anything, {model.name} turns each token into one vector, the sum of "
            f"{len(parts)} part{'s' * (len(parts) > 1)}:\n" + "\n".join(parts) + "\n\n"
            "They are **added** (not concatenated), and the sum goes through a **LayerNorm**, which rescales each "
            "vector to a mean of 0 and a spread of 1 before applying learned weights. That result is what enters "
            "layer 1.")
st.markdown(f"**Why segments?** {why_segments(facts)}")
segments = facts.segment_types
if segments >= 2:
    st.caption("Segments here: " + ", ".join(sorted({"A" if s == 0 else "B" for s in analysis.segment_ids})) + ".")
if model.layout.projection(model.encoder) is not None:
    st.caption(f"{model.name} embeds in a smaller width and then projects to the hidden size; the bars show "
               "the embedding width, before that projection.")
st.button(f"Use the example “{EXAMPLE}”", on_click=use_example)

chart(st, input_heatmaps(analysis, vectors))
chart(st, input_norms(analysis, vectors))

st.subheader("Change the word order")
order = st.radio("New order", ["reverse", "shuffle"], horizontal=True)
seed = st.number_input("Shuffle seed", 0, 10_000, 0) if order == "shuffle" else 0
reordered = reorder_words(analysis.text, order, seed)
st.text(f"Original:  {analysis.text}\nReordered: {reordered}")  # st.text: user text is never read as markup
comparison = compare_orders(analysis, compute.analysis(model, reordered))
chart(st, order_changes(comparison))
if facts.positions == "none":
    st.markdown(f"A word's **token vector does not change** when it moves: it is the same table row. {model.name} "
                "has no position table, so nothing in its input says where a word stands.")
else:
    st.markdown("A word's **token vector does not change** when it moves: it is the same table row. Its **position "
                "vector changes** with its place, so the **input to layer 1 changes** too. That sum is the only way "
                "the model learns the order of the words.")
if facts.vocabulary == "byte-level BPE":
    st.caption("Byte-level BPE (this model's tokenizer) writes a word's leading space into its pieces: “She” at "
               "the start and “ĠShe” after a space are different table rows, so a word moved to or from the "
               "start does get another token vector. Words are matched here by their letters.")
