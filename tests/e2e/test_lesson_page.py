"""Every shipped lesson in Chromium, step by step: an empty answer first (nothing revealed), then a wrong one, then a
right one, each answered the way a student would, through the page's own widgets."""

import sys
from pathlib import Path

from browser_helpers import wait_for_first_run, wait_idle

from bertviz_core import load_model
from bertviz_core.lessons import lesson_names, load_lesson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_app import lesson_answers  # noqa: E402  the same right and wrong answers as the in-process test

ALERT = "[data-testid='stAlertContent{}']"


def answer(page, step, given) -> None:
    kind = step.question.kind
    main = page.get_by_test_id("stMain")
    if kind in ("guess_mask", "token_count"):
        field = main.get_by_label("Your guess" if kind == "guess_mask" else "Your count")
        field.fill(str(given))
        field.press("Enter")
    elif kind == "attended_token":
        main.get_by_test_id("stButtonGroup").locator("button").nth(given).click()
    else:
        if kind == "similar_pair":
            given = f"“{step.sentences[given[0]]}” and “{step.sentences[given[1]]}”"
        main.get_by_test_id("stRadio").get_by_text(given, exact=True).click()
    wait_idle(page)


def test_every_lesson_step_by_step_with_empty_wrong_and_right_answers(app_url, page):
    model = load_model("offline")
    for name in lesson_names():
        lesson = load_lesson(name)
        page.goto(f"{app_url}/lesson?name={name}&model=offline")
        wait_for_first_run(page)
        for number, step in enumerate(lesson.steps, start=1):
            page.get_by_text(f"Step {number} of {len(lesson.steps)}: {step.title}").wait_for(timeout=60_000)
            wait_idle(page)
            assert page.get_by_text("Answer first").count() == 1
            assert page.locator("[data-testid='stPlotlyChart']").count() == 0
            answers = lesson_answers(step, model)
            no_head = step.question.kind == "next_sentence"  # the offline model has no next-sentence head
            for which, alert in (("wrong", "Warning"), ("right", "Success")):
                answer(page, step, answers[which])
                if no_head:
                    page.get_by_text("So it cannot answer").wait_for(timeout=60_000)
                    continue
                page.locator(ALERT.format(alert)).wait_for(timeout=60_000)
                page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60_000)
            assert page.locator("[data-testid='stException']").count() == 0
            if number < len(lesson.steps):
                page.get_by_role("button", name="Next").click()
                wait_idle(page)


def test_presenter_mode_hides_the_sidebar_and_shows_large_type(app_url, page):
    page.goto(f"{app_url}/lesson?name=bert-path&step=5&model=offline&presenter=1")
    wait_for_first_run(page)
    page.get_by_text("Step 5 of").wait_for(timeout=60_000)
    wait_idle(page)
    assert not page.get_by_test_id("stSidebar").is_visible()
    size = page.locator("[data-testid='stMain'] .stMarkdown p").first.evaluate("p => getComputedStyle(p).fontSize")
    assert float(size.rstrip("px")) >= 22
