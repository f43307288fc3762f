"""The query/key/value page and the applications page, driven like a student would."""

from browser_helpers import wait_for_chart_title, wait_idle


def test_changing_the_query_token_changes_the_charts(app_url, page):
    page.goto(f"{app_url}/qkv?layer=2&head=4")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 8", timeout=120_000)
    wait_idle(page)
    wait_for_chart_title(page, "Where 2 bank looks, in every head of this layer")
    before = page.locator("[data-testid='stPlotlyChart']").nth(1).inner_html()
    page.get_by_test_id("stSelectbox").filter(has_text="Query token").click()
    page.get_by_role("option", name="5 river").click()
    wait_for_chart_title(page, "Where 5 river looks", timeout=60_000)
    wait_idle(page)
    assert page.locator("[data-testid='stPlotlyChart']").nth(1).inner_html() != before
    assert "query=5" in page.url
    assert page.get_by_text("Largest difference from the model's own attention row").count() == 1


def test_train_the_classifier(app_url, page):
    page.goto(f"{app_url}/applications")
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=120_000)
    wait_idle(page)
    page.get_by_role("button", name="Train the head").click()
    wait_for_chart_title(page, 'training accuracy 100%', timeout=120_000)
    wait_idle(page)
    wait_for_chart_title(page, "Predicted probabilities")
    bars = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Predicted probabilities")
    assert sorted(bars.locator(".legendtext").all_text_contents()) == ["negative", "positive"]
