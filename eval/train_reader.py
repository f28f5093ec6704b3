"""Train the offline reader's weights: ``python -m eval.train_reader``.

Training data, never the ``test`` split:
- questions generated from the corpus itself: a sentence with one candidate (a number with
  its unit, a date, a name, a quoted term...) replaced by a question word and some of its
  words dropped, the candidate being the answer;
- the ``dev`` split of the eval set, weighted higher (real, paraphrased questions).

Two logistic models come out: the ranker over candidate features, and the calibrator that
turns the winner's features into the probability that it is right (fitted on dev answers
ranked by out-of-fold rankers, so it sees the ranker's real error rate). The abstention
threshold is chosen on the same out-of-fold dev predictions. Everything is written to
``rag/models/offline_reader.json`` with what it was trained on.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.dataset import DEFAULT_DATASET, Question, load_questions
from eval.metrics import exact_match, f1, normalize
from rag.candidates import extract, words
from rag.chunking import sentence_spans
from rag.offline_reader import (
    CONF_FEATURES,
    FEATURES,
    WEIGHTS,
    CandidateRow,
    confidence_features,
    featurise,
    question_terms,
)

_WH = {
    "person": ("谁", "哪位"),
    "organization": ("哪个单位", "哪家机构", "哪个部门"),
    "place": ("哪里", "什么地方", "哪个地方"),
    "term": ("什么", "哪个"),
    "noun": ("什么",),
}
_CLAUSE = re.compile(r"[，；：,;:]")


@dataclass
class Example:
    question: str
    answers: tuple[str, ...]
    weight: float
    qid: str = ""


def _wh_for(kind: str, text: str, unit: str | None, rng: random.Random) -> str | None:
    if kind == "number":
        if unit and not re.search(r"\d.*[^\d\s.%].*\d", text):
            return rng.choice(("多少", "几")) + unit if len(unit) <= 2 else "多少" + unit
        return "多少"
    if kind == "date":
        if "日" in text or "号" in text:
            return rng.choice(("哪天", "哪一天", "什么时候"))
        if "月" in text:
            return rng.choice(("哪个月", "什么时候"))
        return rng.choice(("哪一年", "哪年", "何时"))
    return rng.choice(_WH[kind]) if kind in _WH else None


def generate_questions(articles, n: int, seed: int = 13) -> list[Example]:
    """Gap questions from the corpus's own sentences (the answer is the removed span)."""
    rng = random.Random(seed)
    pool = []
    for a in articles:
        for s, e in sentence_spans(a.text):
            if 16 <= e - s <= 160:
                pool.append(a.text[s:e].strip())
    rng.shuffle(pool)
    out: list[Example] = []
    for sent in pool:
        if len(out) >= n:
            break
        cands = [
            c
            for c in extract(sent)
            if (c.kind in ("number", "date", "person", "term") and not c.text.startswith("一"))
            or (c.kind in ("organization", "place") and len(c.text) >= 3)
            or (c.kind == "noun" and c.tokens >= 2 and rng.random() < 0.15)
        ]
        if not cands:
            continue
        c = rng.choice(cands)
        wh = _wh_for(c.kind, c.text, c.unit, rng)
        if wh is None:
            continue
        # the clause holding the gap and up to one clause on either side
        cuts = [0] + [m.end() for m in _CLAUSE.finditer(sent)] + [len(sent)]
        i = max(k for k in range(len(cuts)) if cuts[k] <= c.start)
        j = min(k for k in range(len(cuts)) if cuts[k] >= c.end)
        lo = cuts[max(0, i - rng.choice((0, 1)))]
        hi = cuts[min(len(cuts) - 1, j + rng.choice((0, 1)))]
        left, right = sent[lo : c.start], sent[c.end : hi]
        left = _drop_words(left, rng)
        right = _drop_words(right, rng)
        q = re.sub(r"[。！？；，、\s]+$", "", f"{left}{wh}{right}")
        if c.kind == "term" and left.endswith("“"):
            q = q.replace("“" + wh + "”", wh)
        if len(q) < 8:
            continue
        out.append(Example(q + "？", (c.text,), 1.0))
    return out


def _drop_words(text: str, rng: random.Random, p: float = 0.2) -> str:
    """Paraphrase a little: drop some words, as a question rarely repeats a sentence."""
    kept = [
        text[s:e] for s, e, tag in words(text) if not (tag not in ("m", "x") and rng.random() < p)
    ]
    return "".join(kept)


def build_rows(examples: Sequence[Example], retrieve, progress: bool = True):
    """Candidate features and labels of every example; the question id of each row."""
    from tqdm import tqdm

    xs, ys, ws, groups, per_q = [], [], [], [], []
    for qi, ex in enumerate(tqdm(examples, desc="features", disable=not progress)):
        passages = retrieve(ex.question)
        rows = featurise(question_terms(ex.question), passages)
        gold = {normalize(a) for a in ex.answers}
        labels = [float(normalize(r.text) in gold) for r in rows]
        per_q.append((ex, rows, labels))
        for r, y in zip(rows, labels):
            xs.append(r.x)
            ys.append(y)
            ws.append(ex.weight)
            groups.append(qi)
    return (
        np.stack(xs) if xs else np.zeros((0, len(FEATURES)), np.float32),
        np.array(ys),
        np.array(ws),
        np.array(groups),
        per_q,
    )


def fit_ranker(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, l2: float = 1.0
) -> tuple[np.ndarray, float]:
    """A listwise ranker: softmax over each question's candidates (conditional logit).

    The loss is the negative log of the probability mass on the right candidates; only
    questions with at least one right candidate teach anything. The intercept, which a
    softmax cannot see, is then set by a one-feature logistic fit of the scores, so that
    ``sigmoid(score)`` is a usable per-candidate probability.
    """
    from scipy.optimize import minimize
    from scipy.sparse import csr_matrix

    keep_q = np.unique(groups[y > 0])
    mask = np.isin(groups, keep_q)
    x, y, w, groups = x[mask], y[mask], w[mask], groups[mask]
    _, g = np.unique(groups, return_inverse=True)
    n_q = int(g.max()) + 1 if len(g) else 0
    member = csr_matrix((np.ones(len(g)), (g, np.arange(len(g)))), shape=(n_q, len(g)))
    qw = np.zeros(n_q)
    qw[g] = w

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta
        zmax = np.zeros(n_q)
        np.maximum.at(zmax, g, z)
        e = np.exp(z - zmax[g])
        tot = member @ e
        pos = member @ (e * y)
        lp = np.log(pos + 1e-300) - np.log(tot)
        val = -(qw * lp).sum() + l2 * theta @ theta
        # gradient: E_pos[x] - E_all[x] per question
        p_all = e / tot[g]
        p_pos = e * y / (pos[g] + 1e-300)
        grad = -((qw[g] * (p_pos - p_all)) @ x) + 2 * l2 * theta
        return float(val), grad

    res = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    coef = res.x
    from sklearn.linear_model import LogisticRegression

    z = (x @ coef).reshape(-1, 1)
    lr = LogisticRegression(C=10.0, max_iter=1000).fit(z, y, sample_weight=w)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return coef * a, b


def _top(rows: Sequence[CandidateRow], coef: np.ndarray, intercept: float):
    if not rows:
        return None, None
    z = np.stack([r.x for r in rows]) @ coef + intercept
    probs = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
    best = int(np.argmax(probs))
    return best, probs


def choose_threshold(conf: np.ndarray, answerable: np.ndarray, correct: np.ndarray) -> float:
    """The confidence below which to abstain, chosen on dev.

    Utility per question: a right answer +1, a wrong answer -1, an abstention 0, except that
    abstaining on an unanswerable question is right (+1). Ties go to the lower threshold
    (answer more).
    """
    best_t, best_u = 0.0, -1e9
    for t in np.unique(np.concatenate([[0.0], conf])):
        answered = conf >= t
        u = np.where(
            answered,
            np.where(answerable & correct, 1.0, -1.0),
            np.where(answerable, 0.0, 1.0),
        ).sum()
        if u > best_u + 1e-9:
            best_t, best_u = float(t), float(u)
    return best_t


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m eval.train_reader", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--index-dir", type=Path, default=Path("var/index"))
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument(
        "--synthetic", type=int, default=1500, help="generated questions (default 1500)"
    )
    ap.add_argument("--dev-weight", type=float, default=3.0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)

    from index.hybrid import HybridRetriever
    from index.store import IndexStore

    t0 = time.perf_counter()
    store = IndexStore.load(args.index_dir)
    retriever = HybridRetriever(store)

    def retrieve(q: str):
        return retriever.search(q, 8)

    dev: list[Question] = [q for q in load_questions(args.dataset) if q.split == "dev"]
    synth = generate_questions(list(store.articles.values()), args.synthetic)
    dev_ex = [Example(q.question, q.answers, args.dev_weight, q.id) for q in dev]
    print(f"{len(synth)} generated questions, {len(dev_ex)} dev questions", file=sys.stderr)
    xs, ys, ws, gs, per_syn = build_rows(synth, retrieve)
    xd, yd, wd, gd, per_dev = build_rows(dev_ex, retrieve)

    # out-of-fold rankers over dev questions: the calibrator must see honest errors
    rng = np.random.default_rng(7)
    fold_of = rng.permutation(len(dev_ex)) % args.folds
    conf_x, conf_y, answerable, oof_em, oof_f1 = [], [], [], [], []
    for k in range(args.folds):
        train = fold_of[gd] != k
        coef, b = fit_ranker(
            np.concatenate([xs, xd[train]]),
            np.concatenate([ys, yd[train]]),
            np.concatenate([ws, wd[train]]),
            np.concatenate([gs, gd[train] + len(synth)]),
        )
        for qi in np.flatnonzero(fold_of == k):
            ex, rows, _ = per_dev[qi]
            best, probs = _top(rows, coef, b)
            pred = rows[best].text if best is not None else None
            conf_x.append(
                confidence_features(probs, rows, best)
                if best is not None
                else np.zeros(len(CONF_FEATURES))
            )
            em = exact_match(pred, ex.answers) if ex.answers else 0.0
            conf_y.append(em)
            answerable.append(bool(ex.answers))
            if ex.answers:
                oof_em.append(em)
                oof_f1.append(f1(pred, ex.answers))
    from sklearn.linear_model import LogisticRegression

    cal = LogisticRegression(C=1.0, max_iter=2000).fit(np.stack(conf_x), np.array(conf_y))
    conf = cal.predict_proba(np.stack(conf_x))[:, 1]
    threshold = choose_threshold(conf, np.array(answerable), np.array(conf_y) > 0)

    coef, b = fit_ranker(
        np.concatenate([xs, xd]),
        np.concatenate([ys, yd]),
        np.concatenate([ws, wd]),
        np.concatenate([gs, gd + len(synth)]),
    )
    ans = np.array(answerable)
    report = {
        "dev_out_of_fold": {
            "em": round(float(np.mean(oof_em)) * 100, 1),
            "f1": round(float(np.mean(oof_f1)) * 100, 1),
            "answerable_abstained": round(float(np.mean(conf[ans] < threshold)) * 100, 1),
            "unanswerable_abstained": round(float(np.mean(conf[~ans] < threshold)) * 100, 1)
            if (~ans).any()
            else None,
        },
        "synthetic_questions": len(synth),
        "dev_questions": len(dev_ex),
        "dev_weight": args.dev_weight,
        "candidate_rows": int(len(ys) + len(yd)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    model = {
        "version": 1,
        "features": list(FEATURES),
        "coef": [round(float(v), 6) for v in coef],
        "intercept": round(b, 6),
        "calibration": {
            "features": list(CONF_FEATURES),
            "coef": [round(float(v), 6) for v in cal.coef_[0]],
            "intercept": round(float(cal.intercept_[0]), 6),
        },
        "threshold": round(threshold, 4),
        "sentences": 6,
        "trained": report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(model, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(args.out)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
