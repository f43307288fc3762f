"""The masked-LM page in Chromium, on a tiny masked-LM model loaded from a local folder (real loading code)."""

from pathlib import Path
from urllib.parse import quote

import pytest

from browser_helpers import wait_for_chart_title, wait_idle
from tiny_models import save_tiny_model


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory) -> Path:
    return save_tiny_model("bert", tmp_path_factory.mktemp("mlm") / "tiny-bert")


def test_without_a_head_the_page_says_which_models_have_one(app_url, page):
    page.goto(f"{app_url}/masked-lm?model=embedded")
    page.wait_for_selector("[data-testid='stAlert']", timeout=120_000)
    wait_idle(page)
    assert page.get_by_text("has no trained masked-LM head").count() == 1
    assert page.get_by_text("bert-lens-minilm-mlm (offline, with masked-LM head); bert-base-uncased").count() == 1
    page.get_by_role("button", name="Use bert-lens-minilm-mlm").click()
    page.wait_for_function("() => document.body.innerText.includes('No mask yet')", timeout=120_000)
    assert "model=offline" in page.url and page.get_by_text("has no trained masked-LM head").count() == 0


def test_click_a_token_and_run_the_recipe(app_url, page, mlm_dir):
    page.goto(f"{app_url}/masked-lm?model={quote(str(mlm_dir))}&text={quote('The cat sat on the mat.')}")
    page.wait_for_selector("[data-testid='stButtonGroup']", timeout=120_000)
    wait_idle(page)
    assert page.get_by_text("No mask yet").count() == 1
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="mat", exact=True).click()
    page.wait_for_function("() => document.body.innerText.includes('ranked “mat”')", timeout=60_000)
    wait_idle(page)
    assert "masked=6" in page.url
    wait_for_chart_title(page, "Token 6: hidden “mat”")
    assert page.get_by_text("Loss of this run").count() == 0  # sections 3 and 4 run the model only when asked
    for box in ("Cut the sentence off after the mask and guess again", "Run the recipe on this sentence"):
        page.get_by_text(box).click()
        wait_idle(page)
    page.wait_for_function("() => document.body.innerText.includes('Loss of this run')", timeout=60_000)
    assert "left_only=1" in page.url and "recipe=1" in page.url
    recipe = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Seed 0:")
    recipe.scroll_into_view_if_needed()
    colours = recipe.locator("path").evaluate_all("paths => paths.map(p => getComputedStyle(p).fill)")
    assert "rgb(251, 211, 141)" in colours or "rgb(248, 201, 196)" in colours or "rgb(198, 233, 198)" in colours
    assert page.get_by_text("Loss of this run").count() == 1
    # The clicked mask is also the one read left-to-right: the input stops right after it.
    assert page.get_by_text("Left-only input: [CLS] the cat sat on the [MASK]", exact=True).count() == 1
