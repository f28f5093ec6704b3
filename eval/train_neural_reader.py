"""Train the neural reader: LoRA on the installed multilingual-e5-small encoder plus a span head.

    python -m eval.train_neural_reader --out var/neural-reader   # resumes where it stopped

Resuming with a larger ``--epochs`` trains on: the schedule is stretched to the new total
from where it stands (the checkpoint records every command that trained it, in order).

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
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.reader_data import QAExample, load_all, negatives
from eval.report import atomic_write

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


def encode(tokenizer, ex: QAExample, s: TrainSettings, **kw):
    """The question and its context as overlapping windows, with character offsets."""
    return tokenizer(
        ex.question,
        ex.context,
        truncation="only_second",
        max_length=s.max_length,
        stride=s.stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        **kw,
    )


def windows_of(tokenizer, ex: QAExample, s: TrainSettings) -> list[Window]:
    """Every window of the example, labelled; the caller picks which to train on."""
    enc = encode(tokenizer, ex, s, padding="max_length")
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


def evaluate(model, tokenizer, examples: Sequence[QAExample], s: TrainSettings, device) -> dict:
    """EM / F1 with the gold paragraph (answerable questions), by best span over windows."""
    import torch

    from eval.metrics import exact_match, f1
    from rag.reader.neural.spans import best_span

    model.eval()
    em = f1s = 0.0
    with torch.no_grad():
        for ex in examples:
            enc = encode(tokenizer, ex, s, padding="longest", return_tensors="pt")
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


class _Run:
    """One training run in ``out``: its data, model, optimiser and schedule, resumed from the
    checkpoint when there is one."""

    def __init__(self, out: Path, s: TrainSettings, eval_n: int) -> None:
        import torch
        from transformers import AutoTokenizer, get_linear_schedule_with_warmup

        self.out, self.s = out, s
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        base = base_model_folder()
        self.tokenizer = AutoTokenizer.from_pretrained(str(base))
        parts, load_report = load_all()
        examples = parts["train"] + negatives(parts["train"], s.negative_share, s.seed)
        self.windows = training_windows(self.tokenizer, examples, s)
        self.tune = [e for e in parts["tune"] if e.answerable][:eval_n]
        self.steps_per_epoch = math.ceil(len(self.windows) / s.batch_size)
        self.total = max(1, int(self.steps_per_epoch * s.epochs))
        self.data = {
            "load": load_report,
            "train_questions": len(parts["train"]),
            "negatives": len(examples) - len(parts["train"]),
            "windows": len(self.windows),
            "tune_questions": len(parts["tune"]),
            "heldout_questions": len(parts["heldout"]),
        }
        log.info(
            "%d questions -> %d windows; %d steps on %s",
            len(examples),
            len(self.windows),
            self.total,
            self.device,
        )
        self.model = build_model(base, s).to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=s.lr, weight_decay=0.01)
        self.sched = get_linear_schedule_with_warmup(
            self.opt, int(self.total * s.warmup), self.total
        )
        self.step, self.curve = 0, []
        self.commands = [command_for(out, s)]  # every invocation that trained this adapter
        self.ckpt_path = out / "checkpoint.pt"
        if self.ckpt_path.exists():
            ckpt = torch.load(self.ckpt_path, map_location="cpu", weights_only=False)
            self.model.load_state_dict(ckpt["trainable"], strict=False)
            self.opt.load_state_dict(ckpt["optimizer"])
            self.sched.load_state_dict(ckpt["scheduler"])
            self.step, self.curve = ckpt["step"], ckpt["curve"]
            before = ckpt.get("commands") or [command_for(out, TrainSettings(**ckpt["settings"]))]
            self.commands = before + [c for c in self.commands if c != before[-1]]
            torch.set_rng_state(ckpt["torch_rng"])
            log.info("resumed at step %d of %d", self.step, self.total)

    def train_step(self) -> float:
        import torch

        i = (self.step % self.steps_per_epoch) * self.s.batch_size
        batch = self.windows[i : i + self.s.batch_size]
        columns = {
            "input_ids": [w.input_ids for w in batch],
            "attention_mask": [w.attention_mask for w in batch],
            "start_positions": [w.start for w in batch],
            "end_positions": [w.end for w in batch],
        }
        loss = self.model(
            **{k: torch.tensor(v, device=self.device) for k, v in columns.items()}
        ).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad()
        self.step += 1
        return float(loss.detach())

    def save(self) -> None:
        import torch

        state = {
            "trainable": _trainable_state(self.model),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "step": self.step,
            "curve": self.curve,
            "commands": self.commands,
            "torch_rng": torch.get_rng_state(),
            "settings": self.s.__dict__,
        }
        atomic_write(self.ckpt_path, "wb", lambda f: torch.save(state, f))
        lines = "".join(json.dumps(c) + "\n" for c in self.curve)
        atomic_write(self.out / "curve.jsonl", "w", lambda f: f.write(lines))


def train(out: Path, s: TrainSettings, *, save_every: int = 25, eval_n: int = 200) -> Path:
    """Train (or go on training) in ``out``; a point of the learning curve every
    ``save_every`` steps, scored on ``eval_n`` tuning questions every fourth point."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    run = _Run(out, s, eval_n)
    run.model.train()
    bar = tqdm(total=run.total, initial=run.step, desc="training", unit="step")
    losses: list[float] = []
    t0 = time.perf_counter() - (run.curve[-1]["seconds"] if run.curve else 0.0)  # cumulative
    while run.step < run.total:
        losses.append(run.train_step())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        if run.step % save_every == 0 or run.step == run.total:
            point = {
                "step": run.step,
                "loss": float(np.mean(losses)),
                "seconds": time.perf_counter() - t0,
            }
            if run.step == run.total or run.step % (save_every * 4) == 0:
                point["tune"] = evaluate(run.model, run.tokenizer, run.tune, s, run.device)
                log.info("step %d: %s", run.step, point)
            run.curve.append(point)
            losses = []
            run.save()
    bar.close()
    adapter = out / "adapter"
    run.model.save_pretrained(str(adapter))
    (out / "data.json").write_text(json.dumps(run.data, indent=1), encoding="utf-8")
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
