"""Bad input on every page, in Chromium: a clear message where one is due, never an error box, and the text kept."""

import json
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from bad_inputs import BAD_INPUTS
from browser_helpers import wait_for_first_run, wait_idle
from test_pages import PAGES
from tiny_models import save_tiny_model

@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("name", BAD_INPUTS)
def test_every_page_takes_bad_input(app_url, page, path, name):
    params, message = BAD_INPUTS[name]
    page.goto(f"{app_url}/{path}?{urlencode(params)}")
    wait_for_first_run(page, timeout=240_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stMain'] [data-testid='stAlertContentError']").count() == 0
    if message:
        page.get_by_text(message).first.wait_for(timeout=60_000)
    else:
        assert page.locator("[data-testid='stMain'] [data-testid='stAlertContentWarning']").count() == 0
    assert page.locator("[data-testid='stSidebar'] textarea").input_value().strip() == params["text"].strip()


def bad_model_folders(root: Path) -> dict[str, tuple[Path, str]]:
    """Folders the model picker must refuse, each with the words its message must contain."""
    tiny = save_tiny_model("bert", root / "tiny")
    folders = {name: root / name for name in ("no weights", "corrupt weights", "remote code", "too large")}
    for folder in folders.values():
        folder.mkdir()
    (folders["no weights"] / "config.json").write_text((tiny / "config.json").read_text())
    for item in tiny.iterdir():
        (folders["corrupt weights"] / item.name).write_bytes(item.read_bytes())
    (folders["corrupt weights"] / "model.safetensors").write_bytes(b"\x00\x10not a safetensors file" * 100)
    (folders["remote code"] / "config.json").write_text(json.dumps(
        {"model_type": "my-model", "auto_map": {"AutoConfig": "configuration_my.MyConfig"}}))
    (folders["remote code"] / "configuration_my.py").write_text("raise SystemExit('the model code ran')\n")
    large = json.loads((tiny / "config.json").read_text()) | {"vocab_size": 2_000_000, "hidden_size": 1024}
    (folders["too large"] / "config.json").write_text(json.dumps(large))
    return {"unknown hub id": (Path("no-such-org/no-such-model-xyz"), "cannot be reached"),
            "no weights": (folders["no weights"], "Cannot load"),
            "corrupt weights": (folders["corrupt weights"], "Cannot load"),
            "remote code": (folders["remote code"], "never runs such code"),
            "too large": (folders["too large"], "MB for its weights")}


def test_the_model_picker_refuses_bad_models_and_keeps_the_last_one(app_url, page, tmp_path):
    page.goto(f"{app_url}/attention?text={quote('The cat sat.')}")
    page.wait_for_selector("[data-testid='stPlotlyChart'] .heatmaplayer", timeout=120_000)
    wait_idle(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Model").click()
    page.get_by_role("option", name="Other (hub id or local folder)").click()
    wait_idle(page)
    field = page.get_by_test_id("stSidebar").get_by_label("Hub id or local folder")
    for name, (spec, message) in bad_model_folders(tmp_path).items():
        field.fill(str(spec))
        field.press("Enter")
        page.wait_for_function("([m, n]) => [...document.querySelectorAll('[data-testid=stSidebar] "
                               "[data-testid=stAlertContentError]')].some(e => e.innerText.includes(m) && "
                               "e.innerText.includes(n))", arg=[message, spec.name], timeout=120_000)
        wait_idle(page)
        sidebar = page.get_by_test_id("stSidebar").inner_text()
        assert "Still showing" in sidebar, name
        assert page.locator("[data-testid='stPlotlyChart'] .heatmaplayer").count() == 1, name
        assert page.locator("[data-testid='stException']").count() == 0, name
