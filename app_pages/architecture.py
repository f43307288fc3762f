"""Architecture: the loaded model drawn from its configuration, its parameters, and BERT's published sizes."""

from dataclasses import asdict

import streamlit as st

from bertviz_core import model_summary
from bertviz_core.anatomy import CASED_VOCABULARY, comparison_rows
from bertviz_core.charts.anatomy import architecture_diagram, parameter_chart
from bertviz_core.facts import pooler_sentence
from app_pages import compute
from app_pages.sidebar import current_lens
from app_pages.figures import chart

summary = model_summary(current_lens().model)

st.title("Architecture")
st.markdown(
    f"""
{summary.name} is an encoder: embeddings turn token ids into vectors, then **{summary.layers} encoder layers** of
the same structure each let every token gather information from every other token (**self-attention** with {summary.heads}
heads) and then transform each token on its own (**feed-forward**). Around each of the two sub-blocks a **residual
connection** adds the block's input back to its output, and a **LayerNorm** rescales the result. A **head** on top
turns the final vectors into an answer: the masked-LM head guesses hidden words; for a task such as sentiment, a
small classification head is added and trained (fine-tuning).
"""
)
left, right = st.columns([3, 2])
chart(left, architecture_diagram(summary))
chart(right, parameter_chart(summary))
st.caption("Every number comes from the loaded model's configuration and weights."
           + (" The masked-LM decoder shares its weights with the token embeddings, so they are counted once, under "
              "embeddings." if summary.decoder_tied else "")
           + (f" {summary.name} reuses its layers' weights ({summary.weight_sets} set(s) for {summary.layers} "
              "layers), so they are counted once." if summary.weight_sets < summary.layers else ""))

counted = any(component == "pooler" for component, _ in summary.parameters)
facts = compute.facts(current_lens().model)
if facts.has_pooler or counted:
    st.caption(f"The pooler is a {summary.hidden_size} x {summary.hidden_size} dense layer and tanh on the first "
               f"token's vector. {pooler_sentence(facts)} "
               + ("It is counted above." if counted else "Not counted above: the masked-LM model class does not "
                                                         "load it."))
else:
    st.caption(pooler_sentence(facts))

st.subheader("Compared with the original BERT")
st.dataframe([asdict(row) for row in comparison_rows(summary)], hide_index=True)
st.caption("BERT-base and BERT-large rows are the published reference sizes (Devlin et al., 2019), not read from a "
           f"loaded model. Their vocabulary, 30,522 entries, is the uncased models'; the cased ones have "
           f"{CASED_VOCABULARY:,}. The table's max_positions counts positions: {summary.positions_phrase}.")
