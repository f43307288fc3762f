"""The Corpus atlas in Chromium: click a head of the atlas, a point of one head's query/key space, then a sentence of
the corpus map, which becomes the sidebar's sentence."""

from browser_helpers import SERVED, wait_for_chart_title, wait_for_first_run, wait_idle


def plot_area(page) -> dict:
    area = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first
    area.scroll_into_view_if_needed()
    return area.bounding_box()


def click_a_point(page) -> str:
    """Hover over the plot until Plotly shows a point's label, click that point, and return the label."""
    plot = plot_area(page)
    for fx, fy in [(0.5, 0.5), (0.4, 0.5), (0.6, 0.5), (0.5, 0.4), (0.5, 0.6), (0.3, 0.3), (0.7, 0.7), (0.3, 0.7)]:
        page.mouse.move(plot["x"] + plot["width"] * fx, plot["y"] + plot["height"] * fy)
        if page.locator(".hoverlayer .hovertext").count():
            break
    hovered = page.locator(".hoverlayer .hovertext").first.text_content()
    page.mouse.down()
    page.mouse.up()
    return hovered


def choose_view(page, name: str, title: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text="Corpus map").get_by_text(name, exact=True).click()
    wait_for_chart_title(page, title)
    wait_idle(page)


def test_click_a_head_a_query_and_a_sentence_of_the_map(app_url, page):
    page.goto(f"{app_url}/atlas")
    wait_for_first_run(page, timeout=300_000)  # the first visit may build the shipped corpus's index
    wait_for_chart_title(page, "attention to the previous token: mean over 440 sentences")
    wait_idle(page)
    grid = plot_area(page)  # the transparent marker over layer 2, head 4 sits at the centre of its cell
    x = grid["x"] + grid["width"] * (3 + 0.5) / SERVED.num_attention_heads
    y = grid["y"] + grid["height"] * (1 + 0.5) / SERVED.num_hidden_layers
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.get_by_text("Layer 2, head 4: attention to the previous token").wait_for(timeout=60_000)
    wait_idle(page)  # until the run ends, the page may still show an element of the run before
    assert "layer=2" in page.url and "head=4" in page.url
    assert page.get_by_text("open on the Attention page").count() == 10

    choose_view(page, "Query/key space", "Layer 2, head 4: 9,296 queries and as many keys")
    hovered = click_a_point(page)  # "queries" or "keys", then the token
    shown = page.locator("[data-testid='stMarkdownContainer'] p").filter(has_text="open on the Attention page")
    shown.first.wait_for(timeout=60_000)
    assert shown.first.locator("strong").inner_text().lower() in hovered.lower()

    choose_view(page, "Corpus map", "440 sentences, mean vector at layer 6")
    before = page.locator("[data-testid='stSidebar'] textarea").input_value()
    hovered = click_a_point(page)
    page.wait_for_function("(before) => document.querySelector(\"[data-testid='stSidebar'] textarea\").value !== "
                           "before", arg=before, timeout=60_000)
    chosen = page.locator("[data-testid='stSidebar'] textarea").input_value()
    assert chosen[:40] in hovered.replace("\n", " ")
    assert page.locator("[data-testid='stException']").count() == 0
