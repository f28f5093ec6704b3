"""Train the neural reader: LoRA on the installed multilingual-e5-small encoder plus a span head.

    python -m eval.train_neural_reader --out var/neural-reader   # resumes where it stopped

Data: ``eval.reader_data`` (CMRC 2018 trial + DRCD dev, less a tuning tenth of DRCD
dev; DRCD test is never seen). Each question becomes the windows (256 tokens, stride 96)
that hold its answer, plus unanswerable windows (the no-answer target is the ``<s>`` token):
the constructed negatives and, for a share of questions, a window of their own paragraph
without the answer. The order is a seeded shuffle; a checkpoint (adapter, head, optimiser,
scheduler, step, loss log) is written atomically every ``--save-every`` steps and a run
picks up from it. On a GPU (``cuda``) the same command trains faster, on CPU it is slower
but makes the same adapter (up to floating-point order).

Then ``python -m eval.neural_reader_artifact`` scores it and writes the shipped adapter.
Outputs in ``--out``: ``checkpoint.pt`` (resumable), ``adapter/`` (the PEFT adapter:
LoRA matrices and the span head), ``curve.jsonl`` (loss and tuning-set scores by step).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.reader_data import QAExample, load_all, negatives

log = logging.getLogger("eval.train_neural_reader")

MAX_LENGTH = 256
STRIDE = 96
LORA_TARGETS = ("query", "key", "value", "dense")  # attention and feed-forward matrices


@dataclass(frozen=True)
class TrainSettings:
    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 5e-4
    warmup: float = 0.06
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    negative_share: float = 0.3
    own_window_negatives: float = 0.1  # share of questions that add an answerless window
    seed: int = 13
    max_length: int = MAX_LENGTH
    stride: int = STRIDE


@dataclass(frozen=True)
class Window:
    input_ids: list[int]
    attention_mask: list[int]
    start: int  # token index of the answer's start; 0 (<s>) when the window holds none
    end: int


def windows_of(tokenizer, ex: QAExample, s: TrainSettings) -> list[Window]:
    """Every window of the example, labelled; the caller picks which to train on."""
    enc = tokenizer(
        ex.question,
        ex.context,
        truncation="only_second",
        max_length=s.max_length,
        stride=s.stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    out = []
    for w in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(w)
        offsets = enc["offset_mapping"][w]
        ctx = [i for i, sid in enumerate(seq) if sid == 1]
        start = end = 0
        if ex.answer_start is not None and ctx:
            a, b = ex.answer_start, ex.answer_start + len(ex.answer_text or "")
            if offsets[ctx[0]][0] <= a and offsets[ctx[-1]][1] >= b:
                start = next(i for i in ctx if offsets[i][1] > a)
                end = next(i for i in reversed(ctx) if offsets[i][0] < b)
        out.append(Window(enc["input_ids"][w], enc["attention_mask"][w], start, end))
    return out


def training_windows(tokenizer, examples: Sequence[QAExample], s: TrainSettings) -> list[Window]:
    rng = random.Random(s.seed)
    out = []
    for ex in examples:
        ws = windows_of(tokenizer, ex, s)
        if not ex.answerable:
            out.append(rng.choice(ws))
            continue
        with_answer = [w for w in ws if w.start]
        out += with_answer[:1]
        without = [w for w in ws if not w.start]
        if without and rng.random() < s.own_window_negatives:
            out.append(rng.choice(without))
    rng.shuffle(out)
    return out


def base_model_folder() -> Path:
    from index.local_models import E5_MODEL_NAME, resolve_local_model

    path = resolve_local_model(E5_MODEL_NAME)
    if path is None:
        raise SystemExit("multilingual-e5-small is not installed: run `rag models install`")
    return Path(path)


def build_model(base: Path, s: TrainSettings):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(s.seed)
    model = AutoModelForQuestionAnswering.from_pretrained(str(base))
    config = LoraConfig(
        r=s.lora_r,
        lora_alpha=s.lora_alpha,
        lora_dropout=s.lora_dropout,
        target_modules=list(LORA_TARGETS),
        modules_to_save=["qa_outputs"],
    )
    return get_peft_model(model, config)


def _trainable_state(model) -> dict:
    return {k: v.detach().cpu() for k, v in model.named_parameters() if v.requires_grad}


def _save_atomic(obj, path: Path) -> None:
    import torch

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def evaluate(model, tokenizer, examples: Sequence[QAExample], s: TrainSettings, device) -> dict:
    """EM / F1 with the gold paragraph (answerable questions), by best span over windows."""
    import torch

    from eval.metrics import exact_match, f1
    from rag.reader.neural.spans import best_span

    model.eval()
    em = f1s = 0.0
    with torch.no_grad():
        for ex in examples:
            enc = tokenizer(
                ex.question,
                ex.context,
                truncation="only_second",
                max_length=s.max_length,
                stride=s.stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                padding="longest",
                return_tensors="pt",
            )
            out = model(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
            )
            best = None
            for w in range(enc["input_ids"].shape[0]):
                seq = enc.sequence_ids(w)
                offsets = [
                    tuple(o) if sid == 1 else None
                    for o, sid in zip(enc["offset_mapping"][w].tolist(), seq)
                ]
                span = best_span(
                    out.start_logits[w].float().cpu().numpy(),
                    out.end_logits[w].float().cpu().numpy(),
                    offsets,
                )
                if span and (best is None or span[2] > best[2]):
                    best = span
            pred = ex.context[best[0] : best[1]] if best else ""
            em += exact_match(pred, [ex.answer_text or ""])
            f1s += f1(pred, [ex.answer_text or ""])
    model.train()
    n = max(1, len(examples))
    return {"em": 100 * em / n, "f1": 100 * f1s / n, "n": len(examples)}


def command_for(out: Path, s: TrainSettings) -> str:
    """The command that makes this adapter again (CPU or GPU alike)."""
    return (
        f"python -m eval.train_neural_reader --out {out} --epochs {s.epochs} "
        f"--batch-size {s.batch_size} --lr {s.lr} --seed {s.seed}"
    )


def train(out: Path, s: TrainSettings, *, save_every: int = 25, eval_n: int = 200) -> Path:
    import torch
    from tqdm import tqdm
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out.mkdir(parents=True, exist_ok=True)
    base = base_model_folder()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    parts, load_report = load_all()
    train_examples = parts["train"] + negatives(parts["train"], s.negative_share, s.seed)
    windows = training_windows(tokenizer, train_examples, s)
    tune = [e for e in parts["tune"] if e.answerable][:eval_n]
    steps_per_epoch = math.ceil(len(windows) / s.batch_size)
    total = max(1, int(steps_per_epoch * s.epochs))
    log.info(
        "%d questions -> %d windows; %d steps on %s",
        len(train_examples),
        len(windows),
        total,
        device,
    )

    model = build_model(base, s).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(total * s.warmup), total)
    ckpt_path = out / "checkpoint.pt"
    step, curve = 0, []
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["trainable"], strict=False)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        step, curve = ckpt["step"], ckpt["curve"]
        torch.set_rng_state(ckpt["torch_rng"])
        log.info("resumed at step %d of %d", step, total)

    def save() -> None:
        _save_atomic(
            {
                "trainable": _trainable_state(model),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": step,
                "curve": curve,
                "torch_rng": torch.get_rng_state(),
                "settings": s.__dict__,
            },
            ckpt_path,
        )
        (out / "curve.jsonl").write_text(
            "".join(json.dumps(c) + "\n" for c in curve), encoding="utf-8"
        )

    model.train()
    bar = tqdm(total=total, initial=step, desc="training", unit="step")
    losses: list[float] = []
    t0 = time.perf_counter() - (curve[-1]["seconds"] if curve else 0.0)  # cumulative over resumes
    while step < total:
        i = (step % steps_per_epoch) * s.batch_size
        batch = windows[i : i + s.batch_size]
        tensors = {
            "input_ids": torch.tensor([w.input_ids for w in batch], device=device),
            "attention_mask": torch.tensor([w.attention_mask for w in batch], device=device),
            "start_positions": torch.tensor([w.start for w in batch], device=device),
            "end_positions": torch.tensor([w.end for w in batch], device=device),
        }
        loss = model(**tensors).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        if step % save_every == 0 or step == total:
            point = {
                "step": step,
                "loss": float(np.mean(losses)),
                "seconds": time.perf_counter() - t0,
            }
            if step == total or step % (save_every * 4) == 0:
                point["tune"] = evaluate(model, tokenizer, tune, s, device)
                log.info("step %d: %s", step, point)
            curve.append(point)
            losses = []
            save()
    bar.close()
    adapter = out / "adapter"
    model.save_pretrained(str(adapter))
    (out / "data.json").write_text(
        json.dumps(
            {
                "load": load_report,
                "train_questions": len(parts["train"]),
                "negatives": len(train_examples) - len(parts["train"]),
                "windows": len(windows),
                "tune_questions": len(parts["tune"]),
                "heldout_questions": len(parts["heldout"]),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return adapter


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m eval.train_neural_reader", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--out", type=Path, default=Path("var/neural-reader"))
    ap.add_argument("--epochs", type=float, default=TrainSettings.epochs)
    ap.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    ap.add_argument("--lr", type=float, default=TrainSettings.lr)
    ap.add_argument("--seed", type=int, default=TrainSettings.seed)
    ap.add_argument("--save-every", type=int, default=25)
    ap.add_argument(
        "--eval-n", type=int, default=200, help="tuning questions scored at checkpoints"
    )
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's choice)")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    s = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    train(args.out, s, save_every=args.save_every, eval_n=args.eval_n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
