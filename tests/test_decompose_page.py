"""The decomposition page in Streamlit's AppTest: each view draws what the engine computes for the default model,
the numbers it states are the engine's, and bad input gets a message."""

import base64
import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from bertviz_core import analyze
from bertviz_core.explain.decompose import decompose_components, decompose_tokens, route_graph, routes
from bertviz_core.explain.interventions import head_sweep
from bertviz_core.explain.target import mask_target
from app_pages.compute import model_for

from test_app import open_app

NURSE = "The nurse said that [MASK] was tired."
PAGE = "app_pages/decomposition.py"


@pytest.fixture(scope="module")
def served():
    model = model_for("")
    analysis = analyze(model, NURSE)
    return model, analysis, mask_target(model, analysis)


def figures(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def test_by_token_draws_each_tokens_part_and_states_the_identity(served):
    model, analysis, target = served
    app = open_app(PAGE, text=NURSE)
    (figure,) = figures(app)
    found = decompose_tokens(model, analysis, target)
    bars = figure["data"][0]
    assert bars["x"][:-1] == [f"{i} {t}" for i, t in enumerate(analysis.tokens)] and bars["x"][-1] == "bias"
    np.testing.assert_allclose(numbers(bars["y"]), np.append(found.parts, found.bias), rtol=1e-5, atol=1e-5)
    assert f"the model's own logit: {found.logit:.4f}" in app.caption[0].value
    assert abs(found.total - found.logit) <= 1e-4 * abs(found.logit)


def numbers(values) -> np.ndarray:
    """A figure's array as sent: a list, or Plotly's typed array ({"dtype", "bdata"}, base64)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(float)
    return np.array(values, dtype=float)


def test_by_component_draws_the_grid_and_the_correlation_with_ablation(served):
    model, analysis, target = served
    app = open_app(PAGE, text=NURSE, decomp_view="By head and feed-forward")
    (figure,) = figures(app)
    found = decompose_components(model, analysis, target)
    z = numbers(figure["data"][0]["z"]).reshape(found.grid.shape)
    np.testing.assert_allclose(z, found.grid, rtol=1e-5, atol=1e-5)
    sweep = head_sweep(model, analysis, target)
    rho = spearmanr(found.grid[:, :-1].ravel(), -sweep.change.ravel()).statistic
    assert any(f"**{rho:+.2f}** (Spearman)" in block.value for block in app.markdown)


def test_routes_keep_fewer_steps_at_a_higher_threshold(served):
    model, analysis, target = served
    found = routes(model, analysis)
    counts = []
    for percent in ("2", "40"):
        app = open_app(PAGE, text=NURSE, decomp_view="Routes", route_threshold=percent)
        graph = route_graph(found, target.mask_index, int(percent) / 100)
        assert f"{len(graph.edges)} steps survive" in app.caption[0].value
        counts.append(len(graph.edges))
    assert counts[0] > counts[1] >= 1


def test_without_a_mask_the_page_offers_the_example():
    app = open_app(PAGE, text="The nurse was tired.")
    assert any("No mask in the text" in info.value.replace("\\", "") for info in app.info)
    app.button[0].click().run()
    assert not app.exception and figures(app)


def test_a_model_without_a_masked_lm_head_is_told_so():
    app = open_app(PAGE, text=NURSE, model="embedded")
    assert any("has no trained masked-LM head" in info.value.replace("\\", "") for info in app.info)
    assert not app.button and not figures(app)
