"""The Attention page's views in Chromium: switch views, open a head from the model view."""

from urllib.parse import quote

from browser_helpers import MODEL_VIEW_TITLE, SERVED, wait_for_chart_title, wait_idle

TEXT = quote("The unaffable clerk left the bank.")


def choose_view(page, name: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text="Heatmap").get_by_text(name, exact=True).click()
    wait_idle(page)


def test_switch_views_and_open_a_head_from_the_model_view(app_url, page):
    page.goto(f"{app_url}/attention?text={TEXT}")
    page.wait_for_selector("[data-testid='stPlotlyChart'] .heatmaplayer", timeout=120_000)
    wait_idle(page)
    for view, title in [("Head view", "Layer 1: lines from each token"), ("Head roles", "entropy (nats)"),
                        ("Rollout and norms", "Rollout through layer 1"), ("Model view", MODEL_VIEW_TITLE)]:
        choose_view(page, view)
        wait_for_chart_title(page, title)
        assert page.locator("[data-testid='stException']").count() == 0
    # The cell of layer 3, head 5: the markers sit at the centre of each cell of the mosaic.
    plot = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first.bounding_box()
    x = plot["x"] + plot["width"] * (4 + 0.5) / SERVED.num_attention_heads
    y = plot["y"] + plot["height"] * (2 + 0.5) / SERVED.num_hidden_layers
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_for_chart_title(page, "Layer 3, head 5", timeout=60_000)
    wait_idle(page)
    assert "view=Heatmap" in page.url and "layer=3" in page.url and "head=5" in page.url
    assert page.locator("[data-testid='stPlotlyChart'] .heatmaplayer").count() == 1


def test_click_a_token_in_the_head_view_to_isolate_it(app_url, page):
    page.goto(f"{app_url}/attention?text={TEXT}&view=Head+view&top_k=3")
    page.wait_for_selector("[data-testid='stPlotlyChart'] .textpoint", timeout=120_000)
    wait_idle(page)
    page.get_by_text("33 lines drawn").wait_for(timeout=60_000)  # 11 tokens x 3 links; fails if never shown
    # Plotly listens on the plot area above the labels: click where the label is drawn.
    label = page.locator("[data-testid='stPlotlyChart'] .textpoint").filter(has_text="5 clerk").first.bounding_box()
    page.mouse.move(label["x"] + label["width"] - 2, label["y"] + label["height"] / 2)
    page.mouse.click(label["x"] + label["width"] - 2, label["y"] + label["height"] / 2)
    # "3 lines drawn;" is also inside "33 lines drawn;": wait for the URL, then read the caption.
    page.wait_for_function("() => location.search.includes('focus=6')", timeout=60_000)  # after "every token"
    page.get_by_text("3 lines drawn;", exact=False).filter(has_not_text="33 lines").first.wait_for(timeout=60_000)


def test_options_reach_the_head_view_and_the_model_view(app_url, page):
    page.goto(f"{app_url}/attention?text={TEXT}&view=Head+view&top_k=3&hide_special=1&words=1")
    page.wait_for_selector("[data-testid='stPlotlyChart'] .textpoint", timeout=120_000)
    wait_idle(page)
    labels = page.locator("[data-testid='stPlotlyChart'] .textpoint").all_text_contents()
    assert "2 unaffable" in labels and not any("[CLS]" in label or "##" in label for label in labels)
    page.get_by_text("special tokens hidden, word pieces merged into words").wait_for(timeout=60_000)
    page.get_by_test_id("stRadio").filter(has_text="Heatmap").get_by_text("Model view", exact=True).click()
    wait_for_chart_title(page, MODEL_VIEW_TITLE)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
