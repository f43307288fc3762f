"""Fine-tune the embedded all-MiniLM-L6-v2 encoder into a small masked-LM model that ships with the app.

    python training/train_offline_mlm.py                 # fetch the corpus, train (resumes), export
    python training/train_offline_mlm.py --export-only   # write the shipped folder from the last checkpoint

Seeded and resumable: the batch order and the masking of step s depend only on the seed and s, and a checkpoint
(model, optimiser, schedule, step) is written every --save-every steps, so an interrupted run continues where it
stopped and reproduces the same numbers. Masking is transformers' DataCollatorForLanguageModeling (15%, then
80% [MASK] / 10% random / 10% unchanged). Progress and the held-out metric go to work/log.jsonl and stdout.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (AutoTokenizer, BertForMaskedLM, DataCollatorForLanguageModeling,
                          get_linear_schedule_with_warmup)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import corpus  # noqa: E402
from attention_drift import drift  # noqa: E402
from bertviz_core.loading import OFFLINE_MLM_DIR as SHIPPED, OFFLINE_MLM_NAME, embedded_model_dir  # noqa: E402

HERE = Path(__file__).resolve().parent
BLOCK = 128


def blocks(tokenizer, path: Path) -> torch.Tensor:
    """The text as [n, BLOCK] ids: paragraphs concatenated with [SEP] between, cut into [CLS] ... [SEP] blocks."""
    ids: list[int] = []
    for paragraph in path.read_text("utf-8").splitlines():
        ids.extend(tokenizer(paragraph, add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id])
    body = BLOCK - 2
    n = len(ids) // body
    table = torch.tensor(ids[: n * body]).view(n, body)
    cls = torch.full((n, 1), tokenizer.cls_token_id)
    sep = torch.full((n, 1), tokenizer.sep_token_id)
    return torch.cat([cls, table, sep], dim=1)


def masked(collator, ids: torch.Tensor, seed: int) -> dict:
    """The collator's masking of these blocks, fixed by the seed (the collator draws from torch's global RNG)."""
    torch.manual_seed(seed)
    return collator([{"input_ids": row} for row in ids])


def batch_for(step: int, train: torch.Tensor, args) -> torch.Tensor:
    """The blocks of one step: a fresh seeded permutation each epoch, so the order depends only on the step."""
    per_epoch = len(train) // args.batch
    epoch, index = divmod(step, per_epoch)
    order = np.random.default_rng(args.seed + epoch).permutation(len(train))
    return train[order[index * args.batch:(index + 1) * args.batch]]


def masked_loss(model, batch: dict) -> tuple[torch.Tensor, int, int]:
    """Cross-entropy at the selected positions only: the vocabulary projection of the rest would be wasted work."""
    hidden = model.bert(input_ids=batch["input_ids"]).last_hidden_state
    chosen = batch["labels"] != -100
    logits = model.cls(hidden[chosen])
    labels = batch["labels"][chosen]
    loss = torch.nn.functional.cross_entropy(logits, labels)
    return loss, int((logits.argmax(-1) == labels).sum()), int(labels.numel())


@torch.no_grad()
def evaluate(model, validation: dict, size: int = 32) -> dict:
    model.eval()
    total_loss = correct = count = 0.0
    for start in range(0, len(validation["input_ids"]), size):
        part = {key: value[start:start + size] for key, value in validation.items()}
        loss, right, n = masked_loss(model, part)
        total_loss += float(loss) * n
        correct += right
        count += n
    model.train()
    return dict(val_loss=total_loss / count, val_accuracy=correct / count, val_masked_tokens=int(count))


def fresh_model(base: Path) -> BertForMaskedLM:
    """The MiniLM encoder with an MLM head whose decoder is tied to its word embeddings."""
    model = BertForMaskedLM.from_pretrained(base, attn_implementation="eager", dtype=torch.float32)
    transform = model.cls.predictions.transform
    with torch.no_grad():  # start the head's dense layer as the identity: the encoder's output is already useful
        transform.dense.weight.copy_(torch.eye(transform.dense.weight.shape[0]))
        transform.dense.bias.zero_()
        model.cls.predictions.bias.zero_()
    return model


def phase(model, step: int, args):
    """Warm-up trains the head alone (the decoder, tied to the word embeddings, stays frozen with the encoder);
    then the whole model trains. Each phase has its own optimiser and warm-up + linear-decay schedule."""
    warming = step < args.head_steps
    model.bert.requires_grad_(not warming)
    lr, steps = (args.head_lr, args.head_steps) if warming else (args.lr, args.steps - args.head_steps)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    return optimiser, get_linear_schedule_with_warmup(optimiser, int(0.06 * steps), steps)


def log(work: Path, record: dict) -> None:
    line = json.dumps(record)
    print(line, flush=True)
    with open(work / "log.jsonl", "a") as out:
        out.write(line + "\n")


def train(args) -> None:
    work = Path(args.work)
    torch.set_num_threads(args.threads)
    if not (work / "train.txt").exists():
        log(work, dict(event="corpus", sources=corpus.build(work)))
    base = embedded_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    collator = collator_for(tokenizer)
    train_ids = blocks(tokenizer, work / "train.txt")
    validation = masked(collator, blocks(tokenizer, work / "validation.txt"), args.seed)
    model = fresh_model(base)
    checkpoint = work / "checkpoint.pt"
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        step = state["step"]
    optimiser, schedule = phase(model, step, args)
    if checkpoint.exists() and state.get("phase") == ("head" if step < args.head_steps else "all"):
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
    if step == 0:
        log(work, dict(event="start", train_blocks=len(train_ids), train_tokens=int(train_ids.numel()),
                       validation_blocks=len(validation["input_ids"]), args=vars(args), **evaluate(model, validation)))
    model.train()
    started = time.time()
    while step < args.steps:
        if step == args.head_steps:
            optimiser, schedule = phase(model, step, args)
        batch = masked(collator, batch_for(step, train_ids, args), args.seed * 1_000_003 + step)
        loss, right, n = masked_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad(set_to_none=True)
        step += 1
        if step % args.log_every == 0:
            log(work, dict(step=step, loss=round(loss.item(), 4), accuracy=round(right / n, 4),
                           lr=schedule.get_last_lr()[0], seconds=round(time.time() - started, 1)))
        if step % args.eval_every == 0 or step == args.steps:
            log(work, dict(step=step, **evaluate(model, validation)))
        if step % args.save_every == 0 or step == args.steps:
            torch.save(dict(model=model.state_dict(), optimiser=optimiser.state_dict(),
                            schedule=schedule.state_dict(), step=step,
                            phase="head" if step < args.head_steps else "all"), checkpoint)
    export(model, tokenizer, work, args)


def export(model, tokenizer, work: Path, args) -> None:
    """fp16 safetensors, the tokenizer, metrics.json and the model card."""
    model.eval()
    final = evaluate(model, masked(collator_for(tokenizer), blocks(tokenizer, work / "validation.txt"), args.seed))
    SHIPPED.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(SHIPPED)
    tokenizer.save_pretrained(SHIPPED)
    metrics = dict(final, steps=args.steps, head_steps=args.head_steps, batch=args.batch, block=BLOCK, lr=args.lr,
                   head_lr=args.head_lr, seed=args.seed, train_tokens=int(blocks(tokenizer, work / "train.txt").numel()),
                   train_seconds=_train_seconds(work), sources=json.loads((work / "corpus.json").read_text()),
                   attention_drift=drift(SHIPPED))
    (SHIPPED / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (SHIPPED / "README.md").write_text(model_card(metrics))
    log(work, dict(event="exported", folder=str(SHIPPED), **final))


def _train_seconds(work: Path) -> float:
    """Wall time of the training steps, summed over resumed runs (each run's log restarts its clock)."""
    runs, last = [], 0.0
    for line in (work / "log.jsonl").read_text().splitlines():
        seconds = json.loads(line).get("seconds")
        if seconds is not None:
            if seconds < last:
                runs.append(last)
            last = seconds
    return round(sum(runs) + last)


def model_card(m: dict) -> str:
    rows = "\n".join(f"| {name} | {s['origin']} | {s['licence']} | {s['paragraphs']:,} | {s['words']:,} |"
                     for name, s in m["sources"].items())
    d = m["attention_drift"]
    return f"""# {OFFLINE_MLM_NAME}: BERT Lens's offline masked-LM model

A small masked-language model made by the BERT Lens project so that the app can fill masks with no network.
It is [sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
(6 layers x 12 heads, hidden size 384, the uncased 30,522-piece WordPiece vocabulary of BERT) with a masked-LM
head, the whole model fine-tuned on {m['train_tokens']:,} tokens of English text that installs from package
registries. **It is far weaker than BERT-base**: use `bert-base-uncased` whenever the Hugging Face hub is reachable.

- Base model and licence: all-MiniLM-L6-v2, Apache-2.0. These weights are released under Apache-2.0 too.
- Weights: fp16 safetensors (the app loads them as float32); the decoder is tied to the word embeddings.

## Metrics

- Held-out masked-token accuracy: **{100 * m['val_accuracy']:.1f}%** (the argmax equals the original token, on
  {m['val_masked_tokens']:,} tokens chosen by the 15% / 80-10-10 recipe in held-out paragraphs; loss
  {m['val_loss']:.3f}).
- Attention drift from the original all-MiniLM-L6-v2 (`training/attention_drift.py`, {d['sentences']} sentences):
  mean total variation distance per head {d['mean']:.3f}, largest {d['max']:.3f}; for scale, two different heads
  of the original model are {d['between_heads_of_original']:.3f} apart, so the mean drift is
  {d['mean'] / d['between_heads_of_original']:.0%} of the distance between two different heads.

## Training data

Paragraphs of prose, cleaned, deduplicated, and split by hash (one in 50 held out for validation). The text is
used for training only and is not distributed with the weights.

| source | origin | licence | paragraphs | words |
|---|---|---|---|---|
{rows}

## Training

`training/train_offline_mlm.py`: seed {m['seed']}, blocks of {m['block']} tokens, batches of {m['batch']}.
Masking is transformers' `DataCollatorForLanguageModeling` (15% of tokens; of those 80% `[MASK]`, 10% a random
token, 10% unchanged). First {m['head_steps']} steps train the new head alone (dense layer started as the identity,
AdamW at {m['head_lr']:g}), then {m['steps'] - m['head_steps']} steps fine-tune the whole model (AdamW at
{m['lr']:g}, weight decay 0.01, 6% warm-up then linear decay, gradient clipping at 1). The loss is computed at the
masked positions only. {m['train_seconds'] / 60:.0f} minutes on 2 CPU cores.

## Reproduce

    python training/train_offline_mlm.py

fetches the corpus with pip and apt-get, trains (resuming from `training/work/checkpoint.pt` if interrupted; batch
order and masking depend only on the seed and the step) and rewrites this folder.
"""


def collator_for(tokenizer):
    return DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="pt")


def export_only(args) -> None:
    work = Path(args.work)
    base = embedded_model_dir()
    model = fresh_model(base)
    model.load_state_dict(torch.load(work / "checkpoint.pt", weights_only=False)["model"])
    export(model, AutoTokenizer.from_pretrained(base), work, args)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(HERE / "work"), help="downloads, corpus, log and checkpoint")
    parser.add_argument("--steps", type=int, default=1400, help="optimiser steps in all, head warm-up included")
    parser.add_argument("--head-steps", type=int, default=150, help="first steps that train only the MLM head")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--export-only", action="store_true")
    args = parser.parse_args(argv)
    (export_only if args.export_only else train)(args)


if __name__ == "__main__":
    main()
