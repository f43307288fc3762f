"""Which attribution does the model agree with, over many sentences? The first N sentences of the shipped corpus,
each with its first content word masked (the model asked to give it back), every method of the Explain page
(DecompX included) measured by the same deletion curves; mean AOPC and mean rank per method.

    .venv/bin/python bench/faithfulness.py [--sentences 50] [--model offline] [--ig-steps 64]

The offline model by default: a model with random weights (bench/common.py's BERT-base-sized) would rank methods on
noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bertviz_core import analyze, load_model  # noqa: E402
from bertviz_core.attention.heads import first_content_token  # noqa: E402
from bertviz_core.corpus.library import shipped_sentences  # noqa: E402
from bertviz_core.explain.attributions import METHODS, attribute, faithfulness  # noqa: E402
from bertviz_core.explain.target import mask_target  # noqa: E402


def masked_sentences(model, count: int):
    """(masked text, the word it hid) for the first ``count`` shipped sentences whose first content word is one
    token of the vocabulary (so the model can be asked to give it back), up to 64 tokens."""
    for text in shipped_sentences().texts:
        analysis = analyze(model, text)
        position = first_content_token(analysis)
        start, end = analysis.offsets[position]
        word = text[start:end]
        if len(model.tokenizer.tokenize(word)) != 1 or analysis.num_tokens > 64:
            continue
        yield text[:start] + "[MASK]" + text[end:], analysis.tokens[position]
        count -= 1
        if not count:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=50)
    parser.add_argument("--model", default="offline")
    parser.add_argument("--ig-steps", type=int, default=64)
    args = parser.parse_args()
    model = load_model(args.model)
    aopc, ranks, started = [], [], time.perf_counter()
    for text, word in masked_sentences(model, args.sentences):
        analysis = analyze(model, text)
        target = mask_target(model, analysis, word=word)
        found = faithfulness(model, analysis, [attribute(model, analysis, target, method, steps=args.ig_steps)
                                               for method in METHODS])
        aopc.append(found.aopc)
        ranks.append(np.argsort(np.argsort(-found.aopc, kind="stable"), kind="stable") + 1)  # 1 = the best
    aopc, ranks = np.array(aopc), np.array(ranks)  # [N, M]
    print(f"{model.name}, {len(aopc)} shipped sentences, the first content word masked and asked back, "
          f"{time.perf_counter() - started:.0f} s")
    print(f"{'method':<40} {'mean AOPC':>10} {'mean rank':>10} {'first on':>9}")
    for m in np.argsort(ranks.mean(axis=0)):
        print(f"{list(METHODS.values())[m]:<40} {aopc[:, m].mean():10.4f} {ranks[:, m].mean():10.2f} "
              f"{int((ranks[:, m] == 1).sum()):>9}")


if __name__ == "__main__":
    main()
