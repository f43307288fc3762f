"""The decomposition page in Chromium: the routes graph drawn, and a head of the component grid clicked into the
Explain page's ablation."""

from urllib.parse import quote

from browser_helpers import SERVED, wait_for_chart_title, wait_for_first_run, wait_idle

NURSE = "The nurse said that [MASK] was tired."


def test_the_routes_draw_and_a_clicked_head_opens_its_ablation(app_url, page):
    page.goto(f"{app_url}/decompose?text={quote(NURSE)}&decomp_view=Routes&route_threshold=5")
    wait_for_first_run(page, timeout=180_000)
    wait_for_chart_title(page, "Routes into 5 [MASK] at the top")
    routes = page.locator("[data-testid='stPlotlyChart']").filter(has_text="Routes into")
    assert routes.locator(".scatterlayer .trace").count() >= 2  # edges and nodes
    assert routes.locator(".scatterlayer .point").count() >= SERVED.num_hidden_layers + 1  # the mask's own column

    page.get_by_text("By head and feed-forward").click()
    wait_for_chart_title(page, "What each head and feed-forward wrote")
    wait_idle(page)
    grid = page.locator("[data-testid='stPlotlyChart']").filter(has_text="What each head")
    cell = grid.locator(".scatterlayer .point").nth(1)  # the transparent markers, layer by layer: layer 1, head 2
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_for_chart_title(page, "Without 1:2")  # layer 1, head 2, switched off on the Explain page
    wait_idle(page)
    assert "/explain" in page.url and f"ablate={quote('1:2')}" in page.url
    assert page.locator("[data-testid='stException']").count() == 0
