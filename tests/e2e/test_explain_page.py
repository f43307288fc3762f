"""The Explain page in Chromium: every part drawn for a masked word, a head of the sweep clicked into the ablation,
and bad input answered in the page."""

from urllib.parse import quote

from browser_helpers import SERVED, wait_for_chart_title, wait_for_first_run, wait_idle

NURSE = "The nurse said that [MASK] was tired."
MAN = "The man said that [MASK] was tired."


def sweep_cell(page, layer: int, head: int) -> tuple[float, float]:
    """The centre of the sweep grid's cell for 1-based ``layer`` and ``head``, where its transparent marker sits."""
    chart = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Each head ablated on its own")
    area = chart.locator(".nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    return (box["x"] + box["width"] * (head - 0.5) / SERVED.num_attention_heads,
            box["y"] + box["height"] * (layer - 0.5) / SERVED.num_hidden_layers)


def test_explain_a_mask_then_ablate_a_clicked_head(app_url, page):
    page.goto(f"{app_url}/explain?text={quote(NURSE)}&corrupt={quote(MAN)}")
    wait_for_first_run(page, timeout=180_000)
    for title in ("Each method's scores for “she”", "Deletion curves", "Do the methods agree",
                  "Each head ablated on its own", "Activation patching"):
        wait_for_chart_title(page, title)
    wait_idle(page)
    ablated = page.get_by_label("Heads to ablate together").input_value()
    x, y = sweep_cell(page, 1, 1)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_for_chart_title(page, f"Without {ablated}, 1:1")
    wait_idle(page)
    assert f"ablate={quote(ablated + ',1:1')}" in page.url
    assert page.locator("[data-testid='stException']").count() == 0


def test_bad_heads_and_a_corrupted_sentence_of_another_length_get_messages(app_url, page):
    page.goto(f"{app_url}/explain?text={quote(NURSE)}&corrupt={quote('The young man said that [MASK] was tired.')}")
    wait_for_first_run(page, timeout=180_000)
    page.get_by_text("the clean one has 10, the corrupted one 11").wait_for(timeout=120_000)
    field = page.get_by_label("Heads to ablate together")
    field.fill("99:1")
    field.press("Enter")
    page.get_by_text("there is no head 99:1").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
