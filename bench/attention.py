"""Attention views at 16, 128 and 512 tokens: time to build each figure and the bytes it sends to the browser,
next to bertviz's head_view and model_view on the same input (bertviz is a bench-only dependency:
pip install -r requirements-bench.txt).

    .venv/bin/python bench/attention.py [--models offline bert-base-sized] [--lengths 16 128 512]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import models, text_of, timed  # noqa: E402
from bertviz_core import analyze  # noqa: E402
from bertviz_core.attention.heads import head_roles, head_statistics  # noqa: E402
from bertviz_core.attention.rollout import norm_maps, rollout  # noqa: E402
from bertviz_core.attention.views import ViewOptions, view_matrix  # noqa: E402
from bertviz_core.charts import token_labels  # noqa: E402
from bertviz_core.export import figure_html  # noqa: E402
from bertviz_core.charts.attention import (attention_heatmap, head_grid, head_heatmap, head_view,  # noqa: E402
                                           model_view)


WORDS = ViewOptions(words=True, hide_special=True)


def our_views(model, analysis) -> dict:
    """Each view as the page builds it, engine work included."""
    labels = token_labels(analysis.tokens)

    def norms_view():
        return attention_heatmap(norm_maps(model, analysis).summed[0], labels, labels, "norms")

    def roles_view():
        stats = head_statistics(analysis)
        return head_grid(stats.entropy, "entropy", "nats", [list(r) for r in head_roles(stats)])

    return {
        "heatmap": lambda: head_heatmap(analysis, 0, 0),
        "head view (1 head, top 5)": lambda: head_view(view_matrix(analysis, analysis.attentions[0]), 0, [0], top_k=5)[0],
        "head view (all heads, top 5)": lambda: head_view(view_matrix(analysis, analysis.attentions[0]), 0,
                                                          list(range(analysis.num_heads)), top_k=5)[0],
        "model view": lambda: model_view(view_matrix(analysis, analysis.attentions)),
        "model view, words, no specials": lambda: model_view(view_matrix(analysis, analysis.attentions, WORDS)),
        "rollout": lambda: attention_heatmap(rollout(analysis.attentions)[-1], labels, labels, "rollout"),
        "value norms": norms_view,
        "head roles": roles_view,
    }


def bertviz_views(analysis) -> dict:
    from bertviz import head_view as bv_head_view, model_view as bv_model_view

    attention = tuple(torch.from_numpy(layer.copy())[None] for layer in analysis.attentions)  # L x [1, H, T, T]
    tokens = list(analysis.tokens)
    return {
        "bertviz head_view": lambda: bv_head_view(attention, tokens, html_action="return").data,
        "bertviz model_view": lambda: bv_model_view(attention, tokens, html_action="return").data,
    }


def sent_bytes(result) -> int:
    """What reaches the browser: a figure's JSON (binary arrays base64-encoded), or bertviz's HTML."""
    return len(result) if isinstance(result, str) else len(result.to_json())


def html_bytes(result) -> int:
    """Our figure as the offline HTML file a chart's button downloads (Plotly's JavaScript inside); bertviz's HTML
    as it is (it loads its scripts from the network)."""
    return len(result.encode()) if isinstance(result, str) else len(figure_html(result).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["offline", "bert-base-sized"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[16, 128, 512])
    parser.add_argument("--no-bertviz", action="store_true")
    args = parser.parse_args()
    print(f"{'model':<18}{'tokens':>7}  {'view':<30}{'build s':>9}{'sent MB':>10}{'HTML MB':>10}")
    for name, model in models(args.models).items():
        shape = f"{name} {model.num_layers}x{model.num_heads}"
        for length in args.lengths:
            analysis = analyze(model, text_of(length), max_length=length)
            views = our_views(model, analysis)
            if not args.no_bertviz:
                views |= bertviz_views(analysis)
            for view, build in views.items():
                seconds, result = timed(build, repeat=1 if view.startswith("bertviz") else 3)
                print(f"{shape:<18}{analysis.num_tokens:>7}  {view:<30}{seconds:>9.3f}{sent_bytes(result) / 1e6:>10.2f}"
                      f"{html_bytes(result) / 1e6:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
