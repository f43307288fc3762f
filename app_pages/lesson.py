"""A guided lesson: each step asks a question about its own sentence, then shows what the loaded model really does,
with a link to the page where the view can be explored further."""

import streamlit as st

from bertviz_core.facts import facts_about
from bertviz_core.lessons import LessonError, lesson_names, load_lesson
from app_pages import compute
from app_pages.lesson_steps import Context, ask, reveal, view_settings
from app_pages.sidebar import current_lens
from app_pages.state import seeded, set_url, url, url_flag, url_number
from app_pages.text import md

PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"] {
  display: none; }
[data-testid="stMain"] .stMarkdown p, [data-testid="stMain"] .stMarkdown li, [data-testid="stMain"] .stProgress p,
[data-testid="stMain"] [data-testid="stWidgetLabel"] p, [data-testid="stMain"] input { font-size: 1.5rem;
  line-height: 1.5; }
[data-testid="stMain"] h1 { font-size: 3.2rem; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 2.3rem; }
</style>"""


def go_to(step: int) -> None:
    st.session_state["step"] = step


model = current_lens().model
names = lesson_names()
if not names:
    st.info("No lessons here: put lesson files (.yaml) in the lessons folder.")
    st.stop()
name = url("name", names[0])
if len(names) > 1 and name in names:
    name = st.selectbox("Lesson", names, key=seeded("name", name), on_change=go_to, args=(1,))
try:
    lesson = load_lesson(name)
except LessonError as error:
    st.error(md(str(error)))
    st.stop()
set_url(name=name)
if url_flag("presenter", "Presenter mode: larger type, no sidebar"):
    st.html(PRESENTER_CSS)
count = len(lesson.steps)
if not 1 <= st.session_state.get("step", 1) <= count:
    del st.session_state["step"]  # another lesson, with fewer steps
number = st.session_state[seeded("step", min(max(url_number("step", 1), 1), count))]
set_url(step=str(number))
step = lesson.steps[number - 1]

st.title(lesson.title)
st.caption(lesson.summary)
st.progress(number / count, text=f"Step {number} of {count}: {step.title}")
if step.explain:
    st.markdown(md(step.explain))
if step.facts:  # what the step relies on, stated for the loaded model from its checkpoint
    st.markdown(md("On the loaded model: " + facts_about(compute.facts(model), step.facts)))
st.caption(md(f"This step reads its own sentence, “{step.sentence}”" + (f" with “{step.pair}”" if step.pair else "")
              + "; the sentence in the sidebar stays yours for the other pages."))

st.subheader(step.question.prompt)
context = Context(model, step, key=f"answer_{lesson.name}_{number}")
answer = ask(context)
if answer is None:
    st.info("Answer first: what the model does appears after your answer.")
else:
    reveal(context, answer)
    st.markdown(md(step.reveal))
st.markdown(f"[Explore this view on its page]({step.link(**view_settings(context))})")

left, _, right = st.columns([1, 4, 1])
left.button("Previous", on_click=go_to, args=(number - 1,), disabled=number == 1, icon=":material/arrow_back:")
right.button("Next", on_click=go_to, args=(number + 1,), disabled=number == count, icon=":material/arrow_forward:",
             type="primary")
