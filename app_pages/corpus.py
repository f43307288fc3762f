"""Corpus search: the tokens of a whole corpus whose hidden state at a chosen layer is closest to one token of the
sentence, shown in their sentences; and how the matches change from layer to layer."""

import streamlit as st

from app_pages import compute
from app_pages.corpora import chosen_corpus
from app_pages.sidebar import current_analysis, current_lens
from app_pages.state import url_pills, url_slider
from app_pages.text import marked, md
from app_pages.figures import chart
from bertviz_core import InputError
from bertviz_core.attention.heads import first_content_token
from bertviz_core.charts.corpus import matched_words, matches_across_layers
from bertviz_core.corpus import query_word
from bertviz_core.corpus.search import MOST_GROUPS

NO_STRUCTURE = 0.25  # Kaufman & Rousseeuw's rule of thumb: a silhouette below it finds no substantial structure


def separation(silhouette: float | None) -> str:
    """What the silhouette says about the groups, including when one group would fit as well."""
    if silhouette is None:
        return "Too few occurrences to measure how well the groups are apart."
    said = f"Silhouette {silhouette:.2f} (1: well apart, 0: overlapping)"
    if silhouette < NO_STRUCTURE:
        return (f"{said}: below {NO_STRUCTURE}, no substantial structure (Kaufman & Rousseeuw 1990), so one group "
                "fits about as well as these.")
    return f"{said}."


def show_matches(result) -> None:
    for rank, match in enumerate(result.matches, start=1):
        label = f" · {md(match.label)}" if match.label else ""
        st.markdown(f"{rank}\\. `{match.score:.3f}`{label} — {marked(match.sentence, match.start, match.end)}")


model = current_lens().model
analysis = current_analysis()
st.title("Corpus search")
st.markdown("Every token of a corpus, run through the model, leaves a vector at each layer. Pick a token of your "
            "sentence: the corpus tokens whose vectors are closest to it (cosine similarity) show where else the "
            "model reads a token the same way. At the embedding output (layer 0) that is mostly the same word; "
            "deeper layers mix in the context, so a match may be the same word in the same sense, another sense, or "
            "another word altogether: the charts below show which this model does.")
try:
    index = chosen_corpus(model, "corpus", "corpus_folder")
except InputError as error:
    st.error(md(str(error)))
    st.stop()
st.caption(md(f"{index.manifest.data['tokens']:,} tokens of {index.manifest.data['corpus']['sentences']:,} "
              f"sentences, indexed with {index.manifest.data['model']['name']}."))

choices = [i for i in range(analysis.num_tokens) if not analysis.special_mask[i]] or [0]
clicked = url_pills("corpus_token", "Click a token of the sentence", choices, [md(t) for t in analysis.tokens])
token = clicked if clicked is not None else first_content_token(analysis)
left, right = st.columns(2)
layer = url_slider("corpus_layer", "Layer (0 = the embedding output)", index.layers[0], index.layers[-1],
                   index.layers[-1], column=left)
k = url_slider("corpus_k", "Matches", 1, 50, 10, column=right)
word = query_word(analysis, token)
occurs = index.count(word)
st.caption(md(("Showing the first content word; click another token above. " if clicked is None else "")
              + (f"“{word}” occurs {occurs:,} times in this corpus." if occurs else
                 f"“{word}” does not occur in this corpus, so every match is another word.")))
if layer not in index.layers:
    st.info(f"This index holds layers {', '.join(map(str, index.layers))}; choose one of them.")
    st.stop()

key = (str(index.directory), *analysis.key, token)
result = compute.derived(("corpus search", *key, layer, k), "Searching the corpus…",
                         lambda: index.search(analysis, token, layer, k))
st.subheader(md(f"The {k} corpus tokens closest to “{analysis.tokens[token]}” (token {token}) at layer {layer}"))
show_matches(result)
chart(st, matched_words(result, word))
across = compute.derived(("corpus layers", *key, k), "Searching every layer…",
                         lambda: index.across_layers(analysis, token, k))
chart(st, matches_across_layers(across, word))
st.caption(md(f"For each layer, the share of the {k} closest corpus tokens that are “{word}” itself, and how close "
              "they are. A share that falls in deeper layers may mean the model groups this token with other words "
              "used in similar contexts, but deeper layers also pull a token towards the other tokens of its own "
              "sentence and towards tokens at the same position: open the matches above to see which. A share that "
              "stays high means it keeps reading the word as itself."))

if occurs >= 2:
    st.subheader(md(f"Every “{word}” in the corpus at layer {layer}, grouped by k-means"))
    groups = compute.derived(("corpus groups", str(index.directory), word.lower(), layer),
                             "Grouping the occurrences…", lambda: index.occurrences(word, layer))
    count = len(groups.groups)
    st.markdown(md(f"k-means puts the {occurs} vectors of “{word}” into {count} group{'s' * (count > 1)}")
                + (f", the count from 2 to {MOST_GROUPS} whose groups are best apart: it never makes one group, even "
                   "for a word with a single sense, so these are groups of nearby vectors, not senses. "
                   if count > 1 else ". ") + separation(groups.silhouette))
    for number, group in enumerate(groups.groups, start=1):
        with st.expander(f"Group {number}: {len(group)} occurrences", expanded=number <= 2):
            for place in group:
                st.markdown(f"`{place.closeness:.2f}` {marked(place.sentence, place.start, place.end)}")
