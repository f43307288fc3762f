"""Tokenization: how the sentence becomes WordPiece pieces and ids, step by step, with the loaded tokenizer."""

from dataclasses import asdict

import streamlit as st

from bertviz_core.charts.tokenization import pieces_figure
from bertviz_core.tokenization import token_rows, tokenization_steps
from app_pages.common import current_analysis, current_lens, md

model = current_lens().model
analysis = current_analysis()
steps = tokenization_steps(model.tokenizer, analysis.text_read)  # a truncated text: only what the model read

st.title("Tokenization")
st.markdown(f"How **{model.name}**'s own tokenizer turns the sentence into the pieces and ids the model reads. "
            + ("(Shown for the first sentence; the second is tokenized the same way.)" if analysis.text_pair else ""))
if steps.algorithm != "wordpiece":
    st.warning(steps.note)

st.subheader("1. Normalise")
if steps.normalization:
    st.dataframe([{"step": s.name, "text after it": s.text} for s in steps.normalization], hide_index=True)
    settings = [("lowercases", steps.lowercase), ("strips accents", steps.strip_accents)]
    st.caption("This tokenizer " + " and ".join(("" if on else "never ") + what for what, on in settings) + ".")
else:
    st.caption("This tokenizer does not change the text before splitting it.")

st.subheader("2. Split into words and punctuation, then 3. into pieces")
st.plotly_chart(pieces_figure(steps))
if steps.algorithm == "wordpiece":
    st.markdown("WordPiece works **longest match first**: it looks the whole remaining word up in the vocabulary, "
                "and while nothing matches it drops the last character and tries again. A piece that does not start "
                "the word is written with `##`. If no prefix at all is in the vocabulary, the whole word becomes "
                "`[UNK]`.")
    split_words = [w for w in steps.words if w.attempts]
    if split_words:
        default = next((n for n, w in enumerate(split_words) if len(w.pieces) > 1), 0)
        chosen = st.selectbox("Show the attempts for", range(len(split_words)), index=default,
                              format_func=lambda n: f"{split_words[n].word} → {' '.join(split_words[n].pieces)}")
        word = split_words[chosen]
        st.dataframe([{"tried": a.candidate, "in the vocabulary": "yes, kept" if a.matched else "no"}
                      for a in word.attempts], hide_index=True)
        st.caption(md(f"{len(word.attempts)} look-ups for “{word.word}”; each “yes” ends one piece."))
else:
    st.info(steps.note)

st.subheader("4. Add special tokens and look up the ids")
st.markdown("The model expects `[CLS]` first and `[SEP]` at the end of each sentence (RoBERTa: `<s>` and `</s>`); "
            "a batch of several inputs would also be padded with `[PAD]` to one length (a single sentence needs "
            "none). Each token is then replaced by its row number in the vocabulary.")
st.dataframe([asdict(row) for row in token_rows(analysis)], hide_index=True)
