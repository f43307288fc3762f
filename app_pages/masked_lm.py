"""Masked language modelling: mask words and watch the model guess them, step by step, and the recipe it learned by."""

import streamlit as st

from bertviz_core import InputError
from bertviz_core.charts.mlm import (guesses_bars, lens_heatmap, logit_distribution, mask_matrix, recipe_chips,
                                     recipe_shares_chart, vector_strip)
from bertviz_core.mlm import (attention_masks, compare_contexts, head_steps, logit_lens, mask_and_predict,
                              positions_to_mask, recipe_run, recipe_shares)
from bertviz_core.facts import training_sentence
from app_pages import compute
from app_pages.catalog import MLM_MODELS
from app_pages.sidebar import PRESETS, current_analysis, current_lens
from app_pages.state import url_flag, url_pills, url_slider
from app_pages.text import md, ordinal, percent
from app_pages.figures import chart

EXAMPLE = "The farmers cultivate the [MASK] to grow crops."
MOST_GUESSES = 20  # every result keeps this many guesses, the slider's maximum: moving it only shows more or fewer


def use_example() -> None:
    st.session_state["text"] = EXAMPLE


MLM_LABELS = [label for spec in MLM_MODELS for label, preset in PRESETS.items() if preset == spec]  # offline first


def use_offline_model() -> None:
    st.session_state["model_choice"] = MLM_LABELS[0]


model = current_lens().model
st.title("Masked language modelling")
st.markdown("BERT-base was pre-trained on two tasks: **masked language modelling**, hiding words and guessing them "
            "from **both sides**, which this page shows, and **next sentence prediction** (is sentence B the one that "
            "followed A?). RoBERTa later dropped the second task and ALBERT replaced it with sentence order; the "
            f"first is what the family's original models share. {training_sentence(compute.facts(model))}")
if not model.has_mlm_head:
    st.warning(md(f"{model.name} has no trained masked-LM head, so it cannot guess hidden words. Choose a model "
                  f"that has one in the sidebar: {'; '.join(MLM_LABELS)}."))
    st.button(f"Use {MLM_LABELS[0]}", on_click=use_offline_model, type="primary")
    st.stop()
analysis = current_analysis()
mask_id = model.tokenizer.mask_token_id
own_mask = model.tokenizer.mask_token
st.markdown(md("Write [MASK] in the sentence" + (f" (BERT Lens turns it into {model.name}'s own mask token, "
                                                 f"{own_mask})" if own_mask != "[MASK]" else "")
               + ", or click a word below to hide it."))

st.subheader("1. Fill the mask")
k = url_slider("k", "Guesses to show", 1, MOST_GUESSES, 5)
typed = [m.position for m in analysis.masks]
choices = [i for i in range(analysis.num_tokens) if not analysis.special_mask[i] and analysis.input_ids[i] != mask_id]
# Pill labels are read as Markdown: md() keeps a token such as "*" or "$" literal.
clicked = url_pills("masked", "Click a token to mask it", choices, [md(t) for t in analysis.tokens]) if choices else None
whole_word = url_flag("whole_word", "Mask the whole word (all its pieces)")
chosen = typed + ([clicked] if clicked is not None else [])
if not chosen:
    st.info("No mask yet: write [MASK] where a word should be guessed, or click a token above.")
    st.button(f"Use the example “{EXAMPLE}”", on_click=use_example)
    st.stop()
try:
    positions = positions_to_mask(analysis, chosen, whole_word)
except InputError as error:
    st.info(md(str(error)))
    st.stop()
masked_key = ("masked", *analysis.key, positions)  # what the results below are computed from
prediction = compute.derived(masked_key, "Guessing…",
                             lambda: mask_and_predict(model, analysis, list(positions), top_k=MOST_GUESSES))
columns = st.columns(min(3, len(prediction.guesses)))
for n, guess in enumerate(prediction.guesses):
    hidden_word = guess.original_id != mask_id
    with columns[n % len(columns)]:
        title = f"Token {guess.position}: " + (f"hidden “{guess.original_token}”" if hidden_word else "typed mask")
        chart(st, guesses_bars(guess.tokens[:k], guess.probs[:k], guess.logits[:k], title,
                                     highlight=guess.original_token if hidden_word else None))
        if hidden_word:
            st.caption(md(f"{model.name} ranked “{guess.original_token}” {ordinal(guess.original_rank)}, "
                          f"{percent(guess.original_prob)}."))
if len(prediction.guesses) > 3:
    st.caption(f"{len(prediction.guesses)} masks, each guessed in the same forward pass.")

st.subheader("2. How a guess is made")
position = st.selectbox("Follow the guess at", [g.position for g in prediction.guesses],
                        format_func=lambda p: f"token {p}")
steps = compute.derived(("steps", *masked_key, position), "Following the guess…",
                        lambda: head_steps(model, prediction.hidden_states[-1][position], top_k=MOST_GUESSES))
st.markdown(f"**Step 1.** The encoder's last layer gives the masked position a contextual vector of "
            f"{steps.hidden.shape[0]} numbers (length {steps.hidden_norm:.1f}); it holds what the context says "
            "should be there.")
chart(st, vector_strip(steps.hidden, "Contextual vector at the mask"))
decoder = ("the word-embedding matrix (the decoder is tied to the input embeddings)" if model.decoder_tied
           else "the decoder's own matrix, one row per vocabulary entry")
st.markdown(f"**Step 2.** The masked-LM head transforms it (dense layer, activation, LayerNorm) and multiplies it "
            f"by {decoder}, adding a bias, giving one **logit** per vocabulary entry.")
left, right = st.columns(2)
chart(left, vector_strip(steps.transformed, "After dense + activation + LayerNorm"))
chart(right, logit_distribution(steps))
st.markdown(md(f"**Step 3.** Softmax turns the logits into probabilities (exponentiate, divide by the sum): the "
               f"highest logit, {steps.top_logits[0]:.2f}, becomes {steps.top_probs[0]:.1%}, and its word, "
               f"“{steps.argmax_token}”, is the guess (the argmax).").replace("\\*\\*", "**"))
lens = compute.derived(("lens", *masked_key, position), "Reading every layer…",
                       lambda: logit_lens(model, prediction.hidden_states, position, top_k=MOST_GUESSES))
chart(st, lens_heatmap(lens.top(k)))
st.caption("The logit lens applies the same head to every layer's vector at the mask: the guess forms with depth. "
           "The last row is the model's actual prediction; earlier rows are readings, not predictions.")

st.subheader("3. Both sides versus the left side only")
st.markdown("A left-to-right model such as GPT sees only the words before the gap. BERT sees both sides. Below, "
            "the same BERT is given the sentence cut off right after the mask: this is **not** a left-to-right "
            "model, since the tokens that remain still see each other in both directions; it only shows how much "
            "the words after the gap were helping.")
st.button(f"Try the example “{EXAMPLE}”", on_click=use_example, key="example_again")
if url_flag("left_only", "Cut the sentence off after the mask and guess again",
            help="Runs the model once more, on the shortened input."):
    comparison = compute.derived(("contexts", *masked_key, position), "Reading the left side only…",
                                 lambda: compare_contexts(model, analysis, prediction, position, top_k=MOST_GUESSES))
    st.caption(md(f"At token {position}, the one followed above; the left-only input stops right after the mask, "
                  f"so it also lacks the end marker ({model.tokenizer.sep_token}) that the tokenizer puts at the end "
                  "of every input, as BERT-base's pre-training did: part of the change may come from that missing "
                  "marker, not only from the missing words."))
    left, right = st.columns(2)
    full, cut = comparison.full, comparison.left
    chart(left, guesses_bars(full.tokens[:k], full.probs[:k], full.logits[:k], "Whole sentence (BERT)"))
    chart(right, guesses_bars(cut.tokens[:k], cut.probs[:k], cut.logits[:k], "Cut off after the mask (same BERT)"))
    st.text("Left-only input: " + " ".join(comparison.left_tokens))
full_mask, causal = attention_masks(min(analysis.num_tokens, 12))
left, right = st.columns(2)
chart(left, mask_matrix(full_mask, analysis.tokens[:12], "BERT: every token sees every token"))
chart(right, mask_matrix(causal, analysis.tokens[:12], "GPT-style: each token sees only its left"))

st.subheader("4. The training recipe: 15%, then 80 / 10 / 10")
st.markdown("In pre-training, 15% of the tokens are **selected**; of those, 80% become [MASK], 10% become a "
            "**random** word and 10% stay **unchanged**, and the model must predict the original at every selected "
            "position. Why not always [MASK]? Because [MASK] never appears when the model is later fine-tuned or "
            "used, so it must also learn to check every ordinary-looking word. Below is transformers' own "
            "`DataCollatorForLanguageModeling` on this sentence.")
if url_flag("recipe", "Run the recipe on this sentence", help="Draws the masking and runs the model on what it made."):
    left, middle, right = st.columns(3)
    seed = left.number_input("Seed", 0, 1_000_000, 0)
    probability = middle.slider("Selection probability", 0.05, 0.5, 0.15, 0.05)
    runs = right.select_slider("Runs for the shares", [100, 500, 1000, 2000, 5000], value=1000)
    run = compute.derived(("recipe", *analysis.key, int(seed), probability), "Running the recipe…",
                          lambda: recipe_run(model, analysis.text, int(seed), probability))
    chart(st, recipe_chips(run))
    st.caption("Grey: not selected; orange: replaced by [MASK]; red: replaced by a random token; green: selected but "
               "left unchanged.")
    if run.guesses:
        st.dataframe([{"position": g.position, "original": g.original_token, "model saw": g.input_token,
                       "model predicts": g.predicted_token, "p(original)": round(g.original_prob, 4),
                       "loss": round(g.loss, 4)} for g in run.guesses], hide_index=True)
        st.markdown(f"Loss of this run (mean cross-entropy over the selected tokens): **{run.total_loss:.3f}**")
    else:
        st.caption("This seed selected no token; try another seed or a longer sentence.")
    shares = compute.derived(("shares", *analysis.key, runs, int(seed), probability),
                             f"Running the recipe {runs:,} times…",
                             lambda: recipe_shares(model.tokenizer, analysis.text, runs, int(seed), probability,
                                                   max_length=model.max_tokens))
    chart(st, recipe_shares_chart(shares))
