"""The app as a user meets it: a real server, a real model, Debian's Chromium."""

from urllib.parse import quote

from browser_helpers import wait_idle

HEATMAP = "[data-testid='stPlotlyChart'] .heatmaplayer"


def y_tick_labels(page) -> list[str]:
    """The token labels down the side, in token order (the DOM holds them bottom-up)."""
    labels = page.locator("[data-testid='stPlotlyChart'] .yaxislayer-above .ytick text").all_text_contents()
    return sorted(labels, key=lambda label: int(label.split()[0]))


def test_deep_link_opens_the_view_on_a_fresh_server(app_url, page):
    """The first request this server sees is a shared link straight to a page."""
    page.goto(f"{app_url}/attention?text={quote('The farmer sold the cow.')}&layer=5&head=9")
    page.wait_for_selector(HEATMAP, timeout=180_000)
    wait_idle(page)
    assert page.get_by_text("Layer 5, head 9").count() == 1
    assert y_tick_labels(page)[:4] == ["0 [CLS]", "1 the", "2 farmer", "3 sold"]
    assert page.locator("[data-testid='stSidebar'] textarea").input_value() == "The farmer sold the cow."


def test_type_a_sentence_and_find_the_heatmap(app_url, page):
    page.goto(app_url)
    wait_idle(page)
    textarea = page.locator("[data-testid='stSidebar'] textarea")
    textarea.fill("Cats chase small mice.")
    textarea.press("Control+Enter")
    page.get_by_test_id("stTopNav").get_by_text("Inside one sentence").click()
    page.get_by_test_id("stTopNavDropdownLink").filter(has_text="Attention").click()
    page.wait_for_selector(HEATMAP, timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('.ytick text').length === 7")
    assert y_tick_labels(page) == ["0 [CLS]", "1 cats", "2 chase", "3 small", "4 mice", "5 .", "6 [SEP]"]
    assert "text=Cats+chase+small+mice." in page.url or "text=Cats%20chase%20small%20mice." in page.url
    # Hover the middle of the matrix: the label names both tokens and the weight.
    box = page.locator(f"{HEATMAP} image").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = page.locator(".hoverlayer .hovertext")
    hover.wait_for(timeout=10_000)
    text = hover.text_content()
    assert text.startswith("from 3 small → to 3 small: 0."), text
    assert not page.dialogs
