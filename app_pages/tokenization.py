"""Tokenization: how the sentence becomes WordPiece pieces and ids, step by step, with the loaded tokenizer."""

from dataclasses import asdict

import streamlit as st

from bertviz_core.charts.tokenization import pieces_figure
from bertviz_core.tokenization import padded_input, token_rows, tokenization_steps
from app_pages.sidebar import current_analysis, current_lens
from app_pages.text import md
from app_pages.figures import chart

WORDS_LISTED = 200

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
shown = steps.words[:WORDS_LISTED]
st.caption(md(f"{len(steps.words)} words and punctuation marks: " + " · ".join(w.word for w in shown)
              + (" · …" if len(steps.words) > len(shown) else "")))
chart(st, pieces_figure(steps))
if steps.algorithm == "wordpiece":
    st.markdown("WordPiece works **longest match first**: it looks the whole remaining word up in the vocabulary, "
                "and while nothing matches it drops the last character and tries again. A piece that does not start "
                "the word is written with `##`. Then the rest of the word is searched the same way. If any remaining "
                "part finds no match at all, even one character long, the **whole word** becomes `[UNK]`, not only "
                "that part.")
    split_words = [w for w in steps.words if w.attempts]
    if split_words:
        default = next((n for n, w in enumerate(split_words) if len(w.pieces) > 1), 0)
        chosen = st.selectbox("Show the attempts for", range(len(split_words)), index=default,
                              format_func=lambda n: f"{split_words[n].word} → {' '.join(split_words[n].pieces)}")
        word = split_words[chosen]
        st.dataframe([{"tried": a.candidate, "in the vocabulary": "yes, kept" if a.matched else "no"}
                      for a in word.attempts], hide_index=True)
        st.caption(md(f"{len(word.attempts)} look-ups for “{word.word}”; each “yes” ends one piece."))
    too_long = [w.word for w in steps.words if w.unknown and not w.attempts and not w.added]
    if too_long:
        st.caption(md(f"WordPiece does not even try words longer than {steps.max_word_chars} characters: "
                      + ", ".join(f"“{w[:20]}…” ({len(w)})" for w in too_long) + " became "
                      f"{model.tokenizer.unk_token} with no look-up."))
else:
    st.caption("The attempts table is WordPiece's search; this tokenizer merges instead (see the note above), so "
               "its pieces are shown as it produces them.")

st.subheader("4. Add special tokens and look up the ids")
tok = model.tokenizer
st.markdown(md(f"The model expects {tok.cls_token} first and {tok.sep_token} at the end of each sentence. Each "
               "token is then replaced by its row number in the vocabulary."))
st.dataframe([asdict(row) for row in token_rows(analysis)], hide_index=True)
if tok.pad_token is not None:
    padded = padded_input(tok, analysis.text_read, analysis.text_pair)
    tail = range(max(0, len(padded.tokens) - 8), len(padded.tokens))
    st.markdown(md(f"In a batch, shorter inputs are filled up to the longest with {tok.pad_token} (id "
                   f"{tok.pad_token_id}), and the attention mask (0) tells every layer to ignore those positions. "
                   "This sentence alone needs none; here it is padded by three, as in a batch with a longer text "
                   "(the last positions):"))
    st.dataframe([{"position": i, "token": padded.tokens[i], "id": int(padded.ids[i]),
                   "attention mask": int(padded.attention_mask[i])} for i in tail], hide_index=True)
