"""Every page opens in Chromium without an error box and draws its charts."""

from urllib.parse import quote, urlparse

import pytest

from app_pages.catalog import HOME, PAGES as CATALOGUE
from browser_helpers import wait_idle

PAGES = [page.url_path for page in (HOME, *CATALOGUE)]
CHARTS = {  # path -> charts the page draws for a one-sentence input
    "": 0,  # home, at the root URL
    "tokenization": 1,
    "positions": 8,
    "input": 3,
    "architecture": 2,
    "attention": 1,
    "masked-lm": 0,  # no mask in the sentence yet: the page offers tokens to mask (tests/e2e/test_masked_lm.py)
    "qkv": 8,
    "context": 3,
    "applications": 1,
    "explain": 0,  # no mask in the sentence: the page offers an example (tests/e2e/test_explain_page.py)
    "decompose": 0,  # no mask in the sentence: the page offers an example (tests/e2e/test_decomposition_page.py)
    "lesson": 0,  # nothing is revealed before an answer (tests/e2e/test_lesson_page.py)
    "compare": 5,  # both models' tokens and attention (embedded by default: no guesses), and their CKA
    "corpus": 2,
    "atlas": 2,  # the head atlas and, drawn with the head view, its first sentence
}


NAVIGATION = {  # the story the top bar tells, section by section (issue 27): written out, not read from the catalogue
    "Start": ["", "lesson"],
    "Inside one sentence": ["tokenization", "positions", "input", "architecture", "qkv", "attention", "context",
                            "masked-lm", "applications"],
    "Is attention an explanation?": ["explain", "decompose"],
    "Beyond one sentence": ["corpus", "atlas", "compare"],
}


def test_every_page_is_one_click_away_in_its_section(app_url, page):
    """Each section of the top bar opens onto its pages, in order; together they are every page, none hidden."""
    page.goto(f"{app_url}/qkv")
    wait_idle(page)
    sections = page.get_by_test_id("stTopNavSection")
    assert sections.all_inner_texts() == list(NAVIGATION)
    for index, (section, paths) in enumerate(NAVIGATION.items()):
        sections.nth(index).click()
        menu = page.get_by_test_id("stTopNavDropdownLink").filter(visible=True)
        menu.first.wait_for()
        assert [urlparse(link.get_attribute("href")).path.strip("/") for link in menu.all()] == paths, section
        page.keyboard.press("Escape")
    assert sorted(path for paths in NAVIGATION.values() for path in paths) == sorted(PAGES)


@pytest.mark.parametrize("path", PAGES)
def test_page_opens_and_draws_its_charts(app_url, page, path):
    charts = CHARTS[path]
    page.goto(f"{app_url}/{path}?text={quote('She loves unaffable cats.')}")
    page.wait_for_selector("[data-testid='stSidebar'] textarea", timeout=120_000)
    if charts:
        page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {charts}",
                               timeout=120_000)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator("[data-testid='stPlotlyChart']").count() == charts
    assert page.locator("h1").first.inner_text()


def test_tokenization_shows_the_attempts(app_url, page):
    page.goto(f"{app_url}/tokenization?text={quote('Unaffable owners.')}")
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=120_000)
    wait_idle(page)
    chips = page.locator("[data-testid='stPlotlyChart'] .textpoint text").all_text_contents()
    assert chips[:3] == ["una", "##ffa", "##ble"]
    assert page.get_by_text("12 look-ups for “unaffable”").count() == 1
