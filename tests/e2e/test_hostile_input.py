"""Markup typed as text stays text on every page: no dialog opens, no injected element appears, nothing crashes."""

from urllib.parse import quote

import pytest

from browser_helpers import wait_idle
from test_pages import CHARTS, PAGES

HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> **bold** $x^2$ [MASK]"
INJECTED = ("() => document.querySelectorAll('img[src=\"x\"]').length"
            " + [...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert(')).length")


@pytest.mark.parametrize("path", PAGES)
def test_markup_is_shown_as_text(app_url, page, path):
    page.goto(f"{app_url}/{path}?text={quote(HOSTILE)}")
    page.wait_for_selector("[data-testid='stSidebar'] textarea", timeout=120_000)
    if CHARTS[path]:
        page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {CHARTS[path]}",
                               timeout=120_000)
    wait_idle(page)
    assert page.dialogs == []
    assert page.evaluate(INJECTED) == 0
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stSidebar'] textarea").input_value() == HOSTILE
