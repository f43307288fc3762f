"""Is attention an explanation? Nine attributions of one prediction, how faithful the model finds each, and causal
tests that switch heads off or copy hidden states from one sentence into another."""

import numpy as np
import streamlit as st

from bertviz_core import InputError
from bertviz_core.charts.clicks import clicked
from bertviz_core.charts.explain import (ABLATE_HEAD, aopc_bars, agreement_matrix, attribution_rows,
                                         deletion_curves, patching_map, sweep_grid)
from bertviz_core.charts.mlm import guesses_bars
from bertviz_core.explain.attributions import PAGE_MAX_TOKENS, METHODS, REMOVAL, attribute, describe_gap, faithfulness
from bertviz_core.explain.interventions import ablate, head_sweep, parse_heads, patch_activations
from bertviz_core.explain.target import class_target, mask_positions, mask_target
from app_pages import compute
from app_pages.sidebar import current_analysis, current_lens
from app_pages.state import trained_head, url_choice, url_text
from app_pages.text import md, percent
from app_pages.figures import chart

EXAMPLE = "The nurse said that [MASK] was tired."
CORRUPTED = {EXAMPLE: "The man said that [MASK] was tired."}
STEPS = [16, 32, 64, 128]
MASKED_WORD, CLASS = "the masked word", "the classifier's class"
SHOWN_GUESSES = 8


def use_example() -> None:
    st.session_state["text"] = EXAMPLE
    st.session_state["corrupt"] = CORRUPTED[EXAMPLE]


def ablate_clicked_head() -> None:
    cell = clicked(st.session_state["sweep_grid"].selection.points, ABLATE_HEAD)
    if cell is not None:
        chosen = [h for h in st.session_state.get("ablate", "").replace(" ", "").split(",") if h]
        head = f"{int(cell[0])}:{int(cell[1])}"
        st.session_state["ablate"] = ",".join(chosen + [head] if head not in chosen else chosen)


def chosen_target():
    """The target the widgets name, or a message in the page and a stop."""
    head = trained_head(model)
    choices = [MASKED_WORD] * model.has_mlm_head + [CLASS] * (head is not None)
    about = url_choice("explain_on", "Explain", choices, choices[0], horizontal=True) if len(choices) > 1 else \
        choices[0]
    try:
        if about == CLASS:
            label = url_choice("explain_class", "Class", list(head.labels), head.labels[0], horizontal=True)
            return class_target(analysis, head, label)
        masks = mask_positions(model, analysis)
        left, right = st.columns(2)
        word = url_text("explain_target", "Word to explain (empty: the top guess)", "", column=left)
        mask = int(url_choice("explain_mask", "At the mask", [str(m) for m in masks], str(masks[0]), column=right,
                              horizontal=True, format_func=lambda m: f"token {m}")) if len(masks) > 1 else None
        return mask_target(model, analysis, mask, word)
    except InputError as error:
        st.info(md(str(error)))
        if not mask_positions(model, analysis):
            st.button(f"Use the example “{EXAMPLE}”", on_click=use_example, type="primary")
        st.stop()


model = current_lens().model
st.title("Is attention an explanation?")
st.markdown("Attention weights say where each token looks; whether they also say why the model decides what it "
            "decides is debated: Jain & Wallace (2019) argued that attention is not an explanation, and Wiegreffe & "
            "Pinter (2019) argued against that strong claim (it depends on what an explanation must do). This page puts nine ways of crediting the input side by side "
            "for **one prediction**, then lets the model itself judge them: remove the tokens each method calls "
            "most important and watch the prediction fall. Last, it changes the model: switch heads off, or copy "
            "hidden states from one sentence into another.")
if not model.has_mlm_head and trained_head(model) is None:
    st.warning(md(f"{model.name} has no trained masked-LM head, so there is no masked word to explain. Choose a "
                  "model with one in the sidebar, or train a classifier on the Applications page and explain its "
                  "classes here."))
    st.stop()
analysis = current_analysis()
if analysis.num_tokens > PAGE_MAX_TOKENS:
    st.info(f"This page explains inputs of up to {PAGE_MAX_TOKENS} tokens (some of its methods run the model once "
            f"per token); this one has {analysis.num_tokens}. Shorten the sentence in the sidebar, or use the "
            "command line (`python -m bertviz_core explain`), which takes longer inputs.")
    st.stop()

st.subheader("1. The prediction to explain")
target = chosen_target()
key = (*analysis.key, target.key)
plain = compute.derived(("explain", *key, "attention"), "Scoring…",
                        lambda: attribute(model, analysis, target, "attention"))
where = f"at token {target.mask_index}" if target.head is None else "for the whole sentence"
st.markdown(f"F = the logit of “{md(target.name)}” {where}: **{plain.score:.3f}**. The four gradient and removal "
            "methods below score how much F depends on each input token, and DecompX takes F apart exactly into "
            "one part per token. The four attention methods (raw attention, "
            "rollout, flow, value-norm weighting) read only where attention goes from the target's position: they "
            "give the same scores whatever word F is about.")

st.subheader("2. Nine attributions, one token axis")
steps = int(url_choice("ig_steps", "Integrated Gradients steps", [str(s) for s in STEPS], "64", horizontal=True))
attributions = []
for method in METHODS:
    settings = (steps,) if method == "integrated_gradients" else ()
    attributions.append(compute.progressing(
        ("explain", *key, method, *settings), f"{METHODS[method]}:",
        lambda progress, method=method: attribute(model, analysis, target, method, steps=steps, progress=progress)))
chart(st, attribution_rows(analysis.tokens, attributions))
integrated = next(a for a in attributions if a.method == "integrated_gradients")
st.caption(md(f"Integrated Gradients, {steps} steps from a baseline where every token but the special ones and the "
              "mask is the pad token; those kept tokens score 0 by construction (the input and the baseline agree "
              f"there). {describe_gap(integrated)} Gradients are taken at each token's word embedding, before "
              "positions and segments are added."))
with st.expander("What each method computes"):
    st.markdown(
        """
- **Raw attention**: the last layer's attention from the target's position, mean of heads.
- **Rollout** (Abnar & Zuidema 2020): attention multiplied through every layer, each layer's residual connection
  added as the identity.
- **Attention flow** (same paper): the same layered graph read as pipes; a token's score is the maximum flow it can
  send to the target's position.
- **Value-norm weighting** (Kobayashi et al. 2020): the length of what each token actually adds, ‖Σₕ αₕ f(xⱼ)‖, in
  the last layer.
- **Gradient norm**: how sharply F changes with the token's embedding, ‖∂F/∂eⱼ‖.
- **Gradient × input**: the first-order estimate of what the embedding contributes, Σ ∂F/∂eⱼ · eⱼ (signed).
- **Integrated Gradients** (Sundararajan et al. 2017, with Captum): (x − x′) times the gradient averaged along the
  straight path from the baseline x′ to the input x, summed over the embedding's dimensions. The scores add up to
  F(x) − F(x′) only in the limit of infinitely many steps; the caption above gives this run's gap.
- **Value zeroing**, a variant of Mohebbi et al. (2023): F(input) − F(input with token j's value vectors zeroed in
  every layer at once), read at the output. The paper zeroes one layer at a time, measures how much each token's
  representation changes (cosine distance), and combines the layers by rollout.
- **DecompX** (Modarressi et al. 2023): every vector the model computes written as a sum of one part per input
  token plus a bias, carried through every layer (attention weights, LayerNorm statistics and the activation's
  ratio act(z)/z fixed at the values the model computed); the token's part of F, signed. The parts and the bias
  add up to F exactly.
"""
    )

st.subheader("3. Which explanation does the model agree with?")
faithful = compute.progressing(("faithfulness", *key, steps), "Deleting tokens:",
                               lambda progress: faithfulness(model, analysis, attributions, progress=progress))
best, worst = faithful.ranking[0], faithful.ranking[-1]
aopc = dict(zip(faithful.methods, faithful.aopc))
st.markdown(md(f"On this sentence the model agrees most with **{METHODS[best]}** (AOPC {aopc[best]:.3f}) and least "
               f"with **{METHODS[worst]}** ({aopc[worst]:.3f}); removing tokens in random order gives "
               f"{faithful.random_aopc:.3f}. {REMOVAL}").replace("\\*\\*", "**"))
left, right = st.columns([3, 2])
chart(left, deletion_curves(faithful))
chart(right, aopc_bars(faithful))
chart(st, agreement_matrix(faithful))
st.caption("AOPC: the fall in the target's probability from the unchanged input, averaged over the removal steps "
           "1 to K. Samek et al. (2017) average over K + 1 steps, step 0 included, which scales every method's AOPC "
           "by K / (K + 1) and keeps their order. Agreement is over the text's tokens only (special tokens and the mask left out).")

st.subheader("4. Switch heads off")
st.markdown("Ablating a head zeroes its context vector (its weighted sum of values) before the layer's output "
            "projection, as if the head had never run; the rest of the model is untouched.")
sweep = compute.progressing(("sweep", *key), "Ablating every head in turn:",
                            lambda progress: head_sweep(model, analysis, target, progress=progress))
chart(st, sweep_grid(sweep), key="sweep_grid", on_select=ablate_clicked_head, selection_mode="points")
harmful = np.unravel_index(int(np.argmin(sweep.change)), sweep.change.shape)
change = float(sweep.change[harmful])
effect = ("lowers it most" if change < 0 else "changes it least: no single head lowers it, each one ablated raises "
          "it or leaves it")
st.caption(md(f"log p(“{target.name}”) = {sweep.log_prob:.3f} with every head. Ablating layer {harmful[0] + 1}, "
              f"head {harmful[1] + 1} {effect} ({change:+.3f})."))
if target.head is None:
    typed = url_text("ablate", "Heads to ablate together, as layer:head (click the grid, or type: 6:9, 2:3)",
                     f"{harmful[0] + 1}:{harmful[1] + 1}")
    try:
        heads = parse_heads(model, typed)
        ablated = compute.derived(("ablate", *analysis.key, heads), "Ablating…",
                                  lambda: ablate(model, analysis, heads, top_k=SHOWN_GUESSES))
    except InputError as error:
        st.info(md(str(error)))
    else:
        before = next(m for m in analysis.masks if m.position == target.mask_index)
        after = next(m for m in ablated.masks if m.position == target.mask_index)
        names = ", ".join(f"{layer + 1}:{head + 1}" for layer, head in heads)
        left, right = st.columns(2)
        shown = slice(0, SHOWN_GUESSES)
        chart(left, guesses_bars(before.tokens[shown], before.probs[shown], before.logits[shown], "Every head",
                                       highlight=target.name))
        chart(right, guesses_bars(after.tokens, after.probs, after.logits, f"Without {names}",
                                        highlight=target.name))
else:
    st.caption("Heads ablated together are compared by the masked word's guesses; for a class, the sweep above is "
               "the head-by-head view.")

st.subheader("5. Activation patching")
st.markdown("Run a **corrupted** sentence (one word changed), then copy a single hidden state from the **clean** "
            "run into it. Where the copy brings the clean prediction back, that state carries the information "
            "the change removed. Both sentences need the same number of tokens.")
corrupt = url_text("corrupt", "Corrupted sentence", CORRUPTED.get(analysis.text.replace(
    model.tokenizer.mask_token, "[MASK]"), ""))
if not corrupt.strip():
    st.info(md(f"Type a corrupted sentence above, for instance the sidebar's with one word changed (“{EXAMPLE}” "
               f"pairs with “{CORRUPTED[EXAMPLE]}”)."))
    st.stop()
try:
    corrupted = compute.analysis(model, corrupt)
    patched = compute.progressing(("patch", *key, corrupted.key), "Patching every layer and token:",
                                  lambda progress: patch_activations(model, analysis, corrupted, target, progress))
except InputError as error:
    st.info(md(str(error)))
    st.stop()
chart(st, patching_map(patched))
st.caption(md(f"Restored share = (m_patched − m_corrupted) / (m_clean − m_corrupted), m the logit of "
              f"“{target.name}”: {percent(1.0)} means the single copied state brings back the clean logit."))
