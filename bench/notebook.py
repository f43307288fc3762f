"""What a notebook stores for BERT Lens's bertviz-style calls at 512 tokens on a 12 x 12 model: bertviz's own
``head_view`` emits 1,710 MB of HTML for the same input (docs/benchmarks.md, "Attention views"; not run here).

A randomly initialised model of BERT-base's sizes runs once through transformers with ``output_attentions=True``,
and its attention tuple and tokens go to ``bertviz_core.notebook.head_view`` and ``model_view``, as a bertviz user
calls them. For each figure: the seconds to build it, the bytes of the output a notebook keeps (Plotly's JSON and the
HTML beside it), and the bytes that output adds to the .ipynb file as nbformat writes it. plotly.js is stored once
per notebook, apart from every figure.

    .venv/bin/python bench/notebook.py [--tokens 512]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from nbformat.v4 import new_code_cell, new_notebook, new_output  # noqa: E402
from plotly.offline import get_plotlyjs  # noqa: E402
from transformers import AutoModel  # noqa: E402

from bench.common import bert_base_sized, text_of, timed  # noqa: E402
from bertviz_core.notebook import head_view, model_view, notebook_output  # noqa: E402


def stored_bytes(bundle: dict) -> int:
    """The bytes one display output holding ``bundle`` adds to a notebook file, as nbformat writes it."""
    def written(outputs: list) -> int:
        return len(nbformat.writes(new_notebook(cells=[new_code_cell("view", outputs=outputs)])).encode())

    return written([new_output("display_data", data=bundle)]) - written([])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()  # AutoModel leaves the masked-LM head unused: no load report
    transformers.logging.disable_progress_bar()

    folder = Path(tempfile.mkdtemp(prefix="bert-base-sized-"))
    tokenizer = bert_base_sized(folder).tokenizer
    model = AutoModel.from_pretrained(folder, attn_implementation="eager")
    inputs = tokenizer(text_of(args.tokens), return_tensors="pt")
    with torch.inference_mode():
        attentions = model(**inputs, output_attentions=True).attentions  # 12 x [1, 12, T, T]
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    print(f"{len(tokens)} tokens, {len(attentions)} layers x {attentions[0].shape[1]} heads "
          f"(attention weights: {sum(a.numel() for a in attentions) * 4 / 1e6:,.0f} MB as float32)")

    calls = {
        "head_view(attention, tokens)  [layer 0, all 12 heads, top 5]": lambda: head_view(attentions, tokens),
        "head_view(..., heads=[0])": lambda: head_view(attentions, tokens, heads=[0]),
        "model_view(attention, tokens)": lambda: model_view(attentions, tokens),
    }
    print(f"{'call':<62} {'build s':>8} {'JSON MB':>8} {'HTML MB':>8} {'in .ipynb MB':>13}")
    for name, call in calls.items():
        seconds, figure = timed(call)
        bundle = notebook_output(figure)
        sizes = [len(json.dumps(value).encode()) if isinstance(value, dict) else len(value.encode())
                 for value in bundle.values()]
        print(f"{name:<62} {seconds:>8.2f} {sizes[0] / 1e6:>8.2f} {sizes[1] / 1e6:>8.2f} "
              f"{stored_bytes(bundle) / 1e6:>13.2f}")
    print(f"plotly.js, stored once per notebook: {len(get_plotlyjs().encode()) / 1e6:.2f} MB")
    print("bertviz's head_view on the same input: 1,710 MB of HTML (docs/benchmarks.md; not run here)")


if __name__ == "__main__":
    main()
