"""Calibrate the neural reader's confidence and choose its abstain threshold, on dev only.

    python -m eval.calibrate_neural --index-dir var/index

The reader's raw score is a margin: the best span's score over its window's no-answer
score. This fits ``confidence = sigmoid(a * margin + b)`` (logistic regression of "the top
span is right", F1 >= 0.5) and picks the threshold with :func:`eval.train_reader.choose_threshold`
(best balanced answer-or-abstain accuracy, abstaining on at most 5 % of answerable questions).

Questions: the eval set's ``dev`` split on the index (its answerable and unanswerable
ones), plus questions the index cannot answer: the MRC tuning questions (DRCD dev's tuning
tenth, never trained on) asked of this corpus, which is about other subjects. The ``test``
split and the held-out DRCD test are never read. Writes ``rag/reader/neural/calibration.json``
(atomically), tied to the adapter's sha256: another adapter gets the plain defaults.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.dataset import DEFAULT_DATASET, load_questions
from eval.metrics import f1
from eval.report import atomic_write
from eval.train_reader import choose_threshold

log = logging.getLogger("eval.calibrate_neural")


def margins(pipe, questions: Sequence[str]) -> list[tuple[float, str]]:
    """(top margin, top span text) per question, read by the pipeline's reader; no span:
    (-inf, "")."""
    out = []
    for q in questions:
        passages = pipe.retriever.search(q, pipe.settings.read_k)
        reading = pipe.read(q, passages[: pipe.settings.read_k])
        g = reading.guesses[0] if reading.guesses else None
        out.append((g.score, g.text) if g else (float("-inf"), ""))
    return out


def calibrate(index_dir: Path, dataset: Path, negatives: int, out: Path) -> dict:
    from sklearn.linear_model import LogisticRegression
    from tqdm import tqdm

    from eval.reader_data import load_all
    from rag.pipeline import Pipeline
    from rag.reader.neural.reader import NeuralReader

    reader = NeuralReader.load()
    pipe = Pipeline.over(index_dir, reader)
    dev = [q for q in load_questions(dataset) if q.split == "dev"]
    others = [e.question for e in load_all()[0]["tune"]][:negatives]
    texts = [q.question for q in dev] + others
    got = margins(pipe, tqdm(texts, desc="calibration questions", unit="q"))
    answerable = np.array([q.answerable for q in dev] + [False] * len(others))
    right = np.array(
        [q.answerable and f1(t, list(q.answers)) >= 0.5 for q, (_, t) in zip(dev, got)]
        + [False] * len(others)
    )
    m = np.array([s for s, _ in got], dtype=np.float64)
    m = np.where(np.isfinite(m), m, m[np.isfinite(m)].min() - 1 if np.isfinite(m).any() else -1)
    lr = LogisticRegression(C=1.0).fit(m.reshape(-1, 1), right.astype(int))
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    conf = 1 / (1 + np.exp(-(a * m + b)))
    threshold = choose_threshold(conf, answerable)
    on = conf >= threshold
    result = {
        "adapter_sha256": reader.manifest["files"]["adapter_model.safetensors"],
        "a": round(a, 6),
        "b": round(b, 6),
        "threshold": round(float(threshold), 6),
        "runtime": reader.backend_used,
        "fitted_on": {
            "dev_questions": len(dev),
            "dev_unanswerable": int(sum(not q.answerable for q in dev)),
            "other_subject_questions": len(others),
            "index_dir": str(index_dir),
            "dataset": Path(dataset).name,
        },
        "dev": {
            "answerable_answered": round(float(on[answerable].mean()) * 100, 1),
            "unanswerable_abstained": round(float((~on[~answerable]).mean()) * 100, 1),
            "right_when_answered": round(float(right[on].mean()) * 100, 1) if on.any() else None,
        },
        "command": f"python -m eval.calibrate_neural --index-dir {index_dir}",
    }
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    atomic_write(out, "w", lambda f: f.write(text))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    from rag.reader.neural.reader import CALIBRATION

    ap = argparse.ArgumentParser(
        prog="python -m eval.calibrate_neural", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--index-dir", type=Path, default=Path("var/index"))
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--negatives", type=int, default=200, help="other-subject questions")
    ap.add_argument("--out", type=Path, default=CALIBRATION)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = calibrate(args.index_dir, args.dataset, args.negatives, args.out)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
