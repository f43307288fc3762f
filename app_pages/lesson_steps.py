"""What each kind of lesson question asks, and what its reveal draws from the loaded model. Each ``ask`` returns
the visitor's answer, or None while there is none; ``reveal`` draws the real charts and says how the answer did."""

from __future__ import annotations

import streamlit as st

from bertviz_core import InputError
from bertviz_core.charts.attention import head_heatmap
from bertviz_core.charts.compare import token_chips
from bertviz_core.charts.inputs import input_heatmaps, order_changes
from bertviz_core.charts.lessons import attention_row, two_way
from bertviz_core.charts.meaning import similarity_matrix_figure
from bertviz_core.charts.mlm import guesses_bars
from bertviz_core.charts.qkv import score_steps
from bertviz_core.attention.heads import head_statistics
from bertviz_core.facts import sentence_head_sentence
from bertviz_core.lessons import (ROLES, Step, guess_rank, most_similar_pair, query_token, role_counts, role_head,
                                  sentence_pairs, word_pieces)
from bertviz_core.mlm import next_sentence_probability
from bertviz_core.positions import compare_orders, input_vectors
from bertviz_core.qkv import head_arithmetic
from app_pages import compute
from app_pages.figures import chart
from app_pages.text import md, ordinal, percent

SHOWN_GUESSES = 10


class Context:
    """One step being shown: the model, the step, its analysis and the key its answer widget uses."""

    def __init__(self, model, step: Step, key: str):
        self.model, self.step, self.key = model, step, key
        self.analysis = compute.analysis(model, step.sentence, step.pair)

    def analyses(self):
        return compute.analyses(self.model, list(self.step.sentences))


def ask(context: Context):
    """The question's widget; its answer, or None."""
    question = context.step.question
    if question.kind == "guess_mask":
        return st.text_input("Your guess", key=context.key).strip() or None
    if question.kind == "token_count":
        return st.number_input("Your count", min_value=1, max_value=512, value=None, step=1, key=context.key)
    if question.kind == "attended_token":
        tokens = context.analysis.tokens
        return st.pills("Your token", list(range(len(tokens))), format_func=lambda n: md(tokens[n]), key=context.key)
    if question.kind == "similar_pair":
        sentences = context.step.sentences
        pairs = sentence_pairs(sentences)
        return st.radio("Your pair", pairs, index=None, key=context.key,
                        format_func=lambda p: f"“{sentences[p[0]]}” and “{sentences[p[1]]}”")
    options = question.options if question.kind == "choice" else ("Yes, B followed A", "No, B is from elsewhere")
    return st.radio("Your answer", options, index=None, key=context.key)


def view_settings(context: Context) -> dict:
    """What the step's link adds to pin its view: the head found by role (1-based), and the query on Q/K/V."""
    question = context.step.question
    if question.kind != "attended_token":
        return {}
    layer, head = role_head(context.analysis, question.role)
    query = {"query": query_token(context.analysis, question.query)} if context.step.page == "qkv" else {}
    return {"layer": layer + 1, "head": head + 1, **query}


def reveal(context: Context, answer) -> None:
    """Say how the answer did and draw the step's view."""
    {"guess_mask": _guessed_word, "token_count": _counted_tokens, "attended_token": _picked_token,
     "similar_pair": _picked_pair, "next_sentence": _next_sentence, "choice": _chosen}[context.step.question.kind](
        context, answer)


def _verdict(right: bool, text: str) -> None:
    (st.success if right else st.warning)(md(text))


def _guessed_word(context: Context, guess: str) -> None:
    model, analysis = context.model, context.analysis
    if not analysis.masks:
        st.info(md(f"{model.name} has no masked-LM head, so it cannot guess; choose the offline model in the "
                   "sidebar to see its guesses."))
        return
    try:
        ranked = guess_rank(model, analysis, guess)
    except InputError as error:
        st.info(md(str(error)))
        return
    top = analysis.masks[0]
    _verdict(ranked.rank == 1, f"{model.name} ranks “{ranked.guess}” {ordinal(ranked.rank)} "
                               f"({percent(ranked.probability)}); its first guess is “{top.tokens[0]}”.")
    chart(st, guesses_bars(top.tokens[:SHOWN_GUESSES], top.probs[:SHOWN_GUESSES], top.logits[:SHOWN_GUESSES],
                           f"{model.name}'s guesses at the mask", highlight=ranked.guess))


def _counted_tokens(context: Context, count: int) -> None:
    analysis = context.analysis
    _verdict(int(count) == analysis.num_tokens, f"You said {int(count)}; {context.model.name}'s tokenizer makes "
                                               f"{analysis.num_tokens} tokens.")
    chart(st, token_chips(analysis, f"{analysis.num_tokens} tokens"))


def _found_head(context: Context) -> tuple[int, int, int]:
    question = context.step.question
    layer, head = role_head(context.analysis, question.role)
    st.caption(md(f"The head that attends most to {ROLES[question.role][1]} on this sentence, found on "
                  f"{context.model.name}: layer {layer + 1}, head {head + 1}."))
    return layer, head, query_token(context.analysis, question.query)


def _picked_token(context: Context, picked: int) -> None:
    analysis = context.analysis
    layer, head, query = _found_head(context)
    weights = analysis.attentions[layer, head, query]
    best = int(weights.argmax())
    _verdict(picked == best, f"You picked “{analysis.tokens[picked]}” ({percent(weights[picked])}); the head's "
                             f"strongest is “{analysis.tokens[best]}” ({percent(weights[best])}).")
    title = f"Where “{analysis.tokens[query]}” looks in layer {layer + 1}, head {head + 1}"
    chart(st, attention_row(analysis.tokens, weights, picked, title))
    if context.step.page == "qkv":
        arithmetic = compute.derived(("qkv", *analysis.key, layer, head, query), "Computing the scores…",
                                     lambda: head_arithmetic(context.model, analysis, layer, head, query))
        chart(st, score_steps(arithmetic, analysis.tokens))
    else:
        chart(st, head_heatmap(analysis, layer, head))
        _role_census(context)


def _same_row_or_not(context: Context, analyses, word: str) -> None:
    """Whether ``word`` is the same vocabulary entry in both sentences, on the loaded model's tokenizer."""
    pieces = [word_pieces(analysis, word) for analysis in analyses]
    shown = " and ".join(f"{' '.join(p)} in “{a.text}”" for p, a in zip(pieces, analyses))
    same = ("the same token-embedding rows, so only the position part of the sum differs" if pieces[0] == pieces[1]
            else "different token-embedding rows, so the token part of the sum differs too")
    st.markdown(md(f"On {context.model.name}, “{word}” is read as {shown}: {same}."))


def _role_census(context: Context) -> None:
    """How many heads play each role on this sentence, on the loaded model: the reveal's claims, measured."""
    counts = role_counts(context.analysis)
    total = sum(counts.values())
    listed = "; ".join(f"{role} {count}" for role, count in counts.items())
    sep = float(head_statistics(context.analysis).to_sep.mean())
    st.caption(md(f"On {context.model.name}, on this sentence, its {total} heads by what each does most: {listed}. "
                  f"Of all attention, {percent(sep)} goes to the closing special token."))


def _picked_pair(context: Context, picked: tuple[int, int]) -> None:
    sentences = context.step.sentences
    best, similarities = most_similar_pair(context.analyses())
    _verdict(tuple(picked) == best, f"{context.model.name} finds “{sentences[best[0]]}” and “{sentences[best[1]]}” "
                                    f"most alike (cosine {similarities[best]:.2f}); your pair scores "
                                    f"{similarities[tuple(picked)]:.2f}.")
    chart(st, similarity_matrix_figure(similarities, list(sentences)))


def _next_sentence(context: Context, answer: str) -> None:
    probability = compute.derived(("next sentence", *context.analysis.key), "Asking the next-sentence head…",
                                  lambda: next_sentence_probability(context.model, context.analysis))
    if probability is None:
        st.info(md(f"{sentence_head_sentence(compute.facts(context.model))} So it cannot answer. bert-base-uncased "
                   "has one: choose it in the sidebar where the hub can be reached."))
        return
    said_yes = answer.startswith("Yes")
    _verdict(said_yes == (probability >= 0.5), f"{context.model.name} gives {percent(probability)} that B "
                                               "followed A.")
    chart(st, two_way(probability, ("B followed A", "B is from elsewhere"), "Next sentence prediction"))


def _chosen(context: Context, answer: str) -> None:
    question = context.step.question
    _verdict(answer == question.answer, f"You chose “{answer}”. " + (
        "Right." if answer == question.answer else f"The answer is “{question.answer}”."))
    analyses = context.analyses() if len(context.step.sentences) >= 2 else []
    if context.step.page == "input" and analyses:
        if question.query:
            _same_row_or_not(context, analyses[:2], question.query)
        chart(st, order_changes(compare_orders(analyses[0], analyses[1])))
    elif context.step.page == "input":
        chart(st, input_heatmaps(context.analysis, input_vectors(context.model, context.analysis)))
    else:
        chart(st, token_chips(context.analysis, context.step.sentence))
