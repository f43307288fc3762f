"""The Corpus page in Chromium: the shipped corpus searched from the first content word, a token clicked, the layer
changed, and an uploaded corpus with markup in it shown as text."""

import re
from urllib.parse import quote

from browser_helpers import wait_for_chart_title, wait_for_first_run


def matches(page) -> list[str]:
    """The numbered matches: "1. 0.890 · source — the sentence"."""
    return [text for text in page.locator("[data-testid='stMarkdownContainer'] p").all_inner_texts()
            if re.match(r"\d+\. ", text) and " — " in text]


def test_search_click_a_token_and_change_the_layer(app_url, page):
    page.goto(f"{app_url}/corpus?text={quote('The bank of the river was flooded.')}")
    wait_for_first_run(page, timeout=300_000)  # the first visit builds the shipped corpus's index
    wait_for_chart_title(page, "The matches, layer by layer")
    assert len(matches(page)) == 10 and all("bank" in match for match in matches(page))
    assert page.get_by_text("Every “bank” in the corpus at layer 6, grouped by k-means").count() == 1

    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="river", exact=True).click()
    page.get_by_text("The 10 corpus tokens closest to “river” (token 5) at layer 6").wait_for()
    assert "corpus_token=5" in page.url

    slider = page.get_by_test_id("stSlider").first.get_by_role("slider")
    slider.focus()
    slider.press("Home")  # layer 0, the embedding output
    page.get_by_text("The 10 corpus tokens closest to “river” (token 5) at layer 0").wait_for()
    wait_for_chart_title(page, "Which words the 10 matches are (layer 0)")
    assert "corpus_layer=0" in page.url

    page.get_by_test_id("stButtonGroup").get_by_role("radio", name=".", exact=True).click()
    page.get_by_text("The 10 corpus tokens closest to “.” (token 8) at layer 0").wait_for()
    wait_for_chart_title(page, "Which words the 10 matches are (layer 0)")
    shown = page.locator("[data-testid='stMarkdownContainer'] p").filter(has_text=re.compile(r"^\d+\. "))
    assert shown.locator("strong").all_inner_texts() == ["."] * 10  # bold, even next to a letter
    assert not any("**" in match for match in matches(page))
    assert page.locator("[data-testid='stException']").count() == 0


def test_an_uploaded_corpus_is_searched_and_its_markup_shown_as_text(app_url, page, tmp_path):
    hostile = tmp_path / "hostile.txt"
    hostile.write_text("The <b>bank</b> **closed** early.\nA $x$ bank by the [river](http://x).\n", encoding="utf-8")
    page.goto(f"{app_url}/corpus?corpus=upload&text={quote('The bank of the river was flooded.')}")
    wait_for_first_run(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(hostile))
    wait_for_chart_title(page, "The matches, layer by layer")
    shown = " ".join(matches(page))
    assert "The <b>bank</b> **closed** early." in shown and "A $x$ bank by the [river](http://x)." in shown
    assert page.locator("a[href='http://x']").count() == 0  # no link made of the text
    assert "upload" in page.url and "hostile" not in page.url  # the file itself never goes in a link
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_binary_upload_is_a_clear_message(app_url, page, tmp_path):
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    page.goto(f"{app_url}/corpus?corpus=upload")
    wait_for_first_run(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(binary))
    page.get_by_text("notes.txt is a binary file, not text.").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
