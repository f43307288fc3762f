"""Query, key, value: how one head decides where one token looks, computed from the model's own weights."""

import streamlit as st

from bertviz_core.attention.heads import content_heads, is_content
from bertviz_core.charts.qkv import step_figure
from bertviz_core.qkv import head_arithmetic
from app_pages import compute
from app_pages.sidebar import current_analysis, current_lens
from app_pages.state import url_index, url_token
from app_pages.text import md
from app_pages.figures import chart


def head_chart(name: str) -> None:
    """A figure of this head and query, built once for every session looking at the same one."""
    chart(st, compute.figure((name, *analysis.key, layer, head, query), lambda: step_figure(name, step, analysis)))


def open_head(layer: int, head: int) -> None:
    st.session_state["layer"], st.session_state["head"] = layer + 1, head + 1  # the pickers count from 1


model = current_lens().model
analysis = current_analysis()

st.title("Query, key and value")
st.markdown("Each head of each layer turns every token's vector into three smaller vectors, with three learned "
            "matrices. Pick a token and follow how one head decides where it looks. Every number below is computed "
            "here from the model's own weights, and the result is checked against the attention the model reported.")
layer_column, head_column, token_column = st.columns(3)
layer = url_index("layer", "Layer", analysis.num_layers, column=layer_column)
head = url_index("head", "Head", analysis.num_heads, column=head_column)
# The seed's example: "bank" when the sentence has it, else the first word.
default = next((n for n, t in enumerate(analysis.tokens) if t.lstrip("Ġ▁").lower() == "bank"),
               min(1, analysis.num_tokens - 1))
query = url_token("query", "Query token", analysis.tokens, default, column=token_column)
step = head_arithmetic(model, analysis, layer, head, query)
d = step.query.shape[0]
who = md(f"“{analysis.tokens[query]}” (token {query})")

st.subheader("1. The query: what this token is looking for")
st.markdown(f"The vector of {who} entering layer {layer + 1} has {step.x.shape[0]} numbers. The "
            f"**query matrix** W_Q maps it to this head's {d}-number query, q = W_Q x + b_Q. Training shaped W_Q so that "
            "q describes what kind of token this one needs information from.")
head_chart("x")
head_chart("q")

st.subheader("2. The keys, the scores and the softmax")
st.markdown("Every token also gets a **key**, k = W_K x + b_K. Training shaped W_K so that a key advertises what "
            "kind of information its token holds, to be matched by the queries that need it. The query is compared "
            f"with each key by a dot product, divided by √{d} = {step.scale:.2f} so the scores do not grow with the "
            "head size, and the **softmax** turns the scores into weights that are positive and sum to 1.")
head_chart("k")
head_chart("scores")
head_chart("weights")
difference = float(abs(step.weights - analysis.attentions[layer, head, query]).max())
st.caption(f"Largest difference from the model's own attention row: {difference:.1e}.")
strongest = int(step.weights.argmax())
if not is_content(analysis, strongest):
    what = ("a special token that stands for no word" if analysis.special_mask[strongest]
            else "a punctuation mark or function word rather than a content word")
    st.info(md(f"In this head, “{analysis.tokens[query]}” gives its largest share of attention "
               f"({step.weights[strongest]:.0%}) to “{analysis.tokens[strongest]}”, {what}. Many heads do this: "
               "Clark et al. (2019) found much of BERT-base's attention going to [SEP], [CLS] and punctuation, and read "
               "it as a no-op, a place to park attention when the head has nothing to do for this token."))
    better = content_heads(analysis, query)
    if better:
        st.markdown(md(f"Heads where “{analysis.tokens[query]}” attends most to a content word:"))
        for column, found in zip(st.columns(len(better)), better):
            column.button(f"Layer {found.layer + 1}, head {found.head + 1}: “{analysis.tokens[found.key]}” "
                          f"{found.weight:.0%}", on_click=open_head, args=(found.layer, found.head),
                          key=f"open_{found.layer}_{found.head}")

st.subheader("3. The values and the weighted sum")
st.markdown("Each token finally offers a **value**, v = W_V x + b_V. Training shaped W_V so that a value carries "
            f"what this head passes on from its token when attended to. The head's output for {who} is the weighted "
            f"sum Σ weight × value. The outputs of all {analysis.num_heads} heads are joined and mixed by one more "
            "matrix before the residual connection.")
head_chart("v")
head_chart("output")

st.subheader(f"Every head of layer {layer + 1} at a glance")
head_chart("overview")
