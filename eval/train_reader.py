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
``rag/reader/offline/weights.json`` with what it was trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.dataset import DEFAULT_DATASET, Question, load_questions
from eval.gap_questions import Example, generate_questions
from eval.metrics import exact_match, f1, normalize
from rag.reader.offline.columns import CONF_FEATURES, FEATURES
from rag.reader.offline.features import CandidateRow, featurise
from rag.reader.offline.reader import WEIGHTS, confidence_features, sigmoid
from rag.reader.offline.terms import question_terms


def _gold_articles(store, q: Question) -> frozenset[str]:
    original = store.originals.get(q.source or "", "")
    at = original.find(q.evidence) if q.evidence else -1
    return frozenset(
        a.id for a in store.articles.values() if a.source == q.source and a.start <= at < a.end
    )


def build_rows(
    examples: Sequence[Example], retrieve, progress: bool = True, hide_answer: bool = False
):
    """Candidate features and labels of every example; the question id of each row.

    ``hide_answer``: drop every candidate within reach of the answer, as if the corpus
    said everything around it but not the answer itself.
    """
    from tqdm import tqdm

    xs, ys, ws, groups, per_q = [], [], [], [], []
    for qi, ex in enumerate(tqdm(examples, desc="features", disable=not progress)):
        passages = retrieve(ex)
        qt = question_terms(ex.question)
        rows = featurise(qt, passages)
        gold = {normalize(a) for a in ex.answers}
        if hide_answer:
            rows = [
                r
                for r in rows
                if not any(
                    g and g in normalize(r.article.text[max(0, r.start - 150) : r.end + 150])
                    for g in gold
                )
            ]
        labels = [float(normalize(r.text) in gold) for r in rows]
        per_q.append((ex, rows, labels, qt))
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
    probs = sigmoid(z)
    best = int(np.argmax(probs))
    return best, probs


def choose_threshold(conf: np.ndarray, answerable: np.ndarray, max_abstain: float = 0.05) -> float:
    """The confidence below which to abstain, chosen on dev.

    It maximises balanced accuracy of the answer-or-abstain decision (the share of
    answerable questions answered plus the share of unanswerable ones, real and
    look-alike, abstained) among thresholds that abstain on at most ``max_abstain`` of the
    answerable questions. Ties go to the lower threshold (answer more).
    """
    best_t, best_u = 0.0, -1.0
    for t in np.unique(np.concatenate([[0.0], conf])):
        on = conf >= t
        if (~on[answerable]).mean() > max_abstain:
            continue
        u = on[answerable].mean() + (~on[~answerable]).mean() if (~answerable).any() else 0
        if u > best_u + 1e-9:
            best_t, best_u = float(t), float(u)
    return best_t


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m eval.train_reader", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--index-dir", type=Path, default=Path("var/index"))
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument(
        "--synthetic", type=int, default=2500, help="sentences to make questions of (default 2500)"
    )
    ap.add_argument(
        "--dev-weight",
        type=float,
        nargs="+",
        default=[1.0, 3.0, 6.0],
        help="weights of a dev question against a generated one to choose from on dev",
    )
    ap.add_argument(
        "--l2", type=float, nargs="+", default=[0.3, 1.0, 3.0], help="ranker L2 to choose from"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    return ap.parse_args(argv)


@dataclass
class _Calibration:
    """The calibrator fitted on out-of-fold dev answers, with what it was fitted on."""

    coef: np.ndarray
    intercept: float
    conf: np.ndarray  # its confidence on each held-out question
    real: np.ndarray  # a real dev question (not a look-alike)
    answerable: np.ndarray
    em: list[float]  # out-of-fold exact match of each answerable dev question
    f1: list[float]
    types: list[str]  # and its question type


def _calibrate(per_dev, per_neg, fold_of, fold_by_id, folds, ranker, types) -> _Calibration:
    """Rank each held-out fold with a ranker trained without it, so that the calibrator sees
    the ranker's honest errors, and fit the calibrator on the winners' features."""
    from sklearn.linear_model import LogisticRegression

    conf_x, conf_y, real, answerable, oof_em, oof_f1, oof_type = [], [], [], [], [], [], []
    for k in range(folds):
        coef, b = ranker(k)
        held = [(per_dev[i], True) for i in np.flatnonzero(fold_of == k)]
        held += [(item, False) for item in per_neg if fold_by_id[item[0].qid] == k]
        for (ex, rows, _, qt), is_real in held:
            best, probs = _top(rows, coef, b)
            pred = rows[best].text if best is not None else None
            conf_x.append(
                confidence_features(qt, probs, rows[best])
                if best is not None
                else np.zeros(len(CONF_FEATURES), dtype=np.float32)
            )
            em = exact_match(pred, ex.answers) if ex.answers and is_real else 0.0
            conf_y.append(em)
            real.append(is_real)
            answerable.append(bool(ex.answers) and is_real)
            if ex.answers and is_real:
                oof_em.append(em)
                oof_f1.append(f1(pred, ex.answers))
                oof_type.append(types.get(ex.qid, "?"))
    cx, cy, real_ = np.stack(conf_x), np.array(conf_y), np.array(real)
    # the direction from real dev answers plus the look-alikes (half weight each) ...
    shape = LogisticRegression(C=1.0, max_iter=2000).fit(
        cx, cy, sample_weight=np.where(real_, 1.0, 0.5)
    )
    # ... the scale from real dev answers alone, so that probabilities keep its base rate
    z = cx @ shape.coef_[0]
    platt = LogisticRegression(C=100.0, max_iter=2000).fit(z[real_].reshape(-1, 1), cy[real_])
    a, c0 = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    cal_coef, cal_b = shape.coef_[0] * a, c0
    conf = 1 / (1 + np.exp(-(cx @ cal_coef + cal_b)))
    return _Calibration(
        cal_coef, cal_b, conf, real_, np.array(answerable), oof_em, oof_f1, oof_type
    )


def _oof_report(cal: _Calibration, threshold: float) -> dict:
    """Out-of-fold quality on dev: answers, abstentions, exact match by question type."""
    conf, real, ans = cal.conf, cal.real, cal.answerable
    return {
        "em": round(float(np.mean(cal.em)) * 100, 1),
        "f1": round(float(np.mean(cal.f1)) * 100, 1),
        "answerable_abstained": round(float(np.mean(conf[ans] < threshold)) * 100, 1),
        "unanswerable_abstained": round(float(np.mean(conf[real & ~ans] < threshold)) * 100, 1)
        if (real & ~ans).any()
        else None,
        "lookalikes_abstained": round(float(np.mean(conf[~real] < threshold)) * 100, 1),
        "em_by_type": {
            t: round(100 * float(np.mean([e for e, tt in zip(cal.em, cal.types) if tt == t])), 1)
            for t in sorted(set(cal.types))
        },
    }


@dataclass
class _Data:
    """The candidate rows of the generated questions (``s``) and of dev (``d``), features,
    labels, weights and question ids of each; the dev questions with their rows, and the
    look-alikes: dev questions asked of the corpus without their answer."""

    xs: np.ndarray
    ys: np.ndarray
    ws: np.ndarray
    gs: np.ndarray
    xd: np.ndarray
    yd: np.ndarray
    wd: np.ndarray
    gd: np.ndarray
    per_dev: list
    per_neg: list
    dev: list[Question]
    dev_ex: list[Example]
    n_synth: int

    @classmethod
    def build(cls, store, dataset: Path, synthetic: int) -> _Data:
        from index.hybrid import HybridRetriever

        retriever = HybridRetriever(store)

        def retrieve(ex: Example):
            return retriever.search(ex.question, 8)

        def retrieve_without_answer(ex: Example, same_article: bool = False):
            """The passages a corpus without this answer would give: an unanswerable example.

            Without the answer's article (the corpus does not know the subject), or, with
            ``same_article``, with it but without the passages that hold the answer (the
            corpus knows the subject but not this fact about it).
            """
            gold = [normalize(a) for a in ex.answers]
            out = []
            for p in retriever.search(ex.question, 30):
                text = normalize(p.chunk.text)
                if any(g and g in text for g in gold):
                    continue
                if not same_article and p.chunk.article_id in ex.articles:
                    continue
                out.append(p)
            return out[:8]

        dev: list[Question] = [q for q in load_questions(dataset) if q.split == "dev"]
        synth = generate_questions(list(store.articles.values()), synthetic)
        dev_ex = [Example(q.question, q.answers, 1.0, q.id, _gold_articles(store, q)) for q in dev]
        print(f"{len(synth)} generated questions, {len(dev_ex)} dev questions", file=sys.stderr)
        xs, ys, ws, gs, _ = build_rows(synth, retrieve)
        xd, yd, wd, gd, per_dev = build_rows(dev_ex, retrieve)

        # unanswerable look-alikes: dev questions asked of the corpus minus their answer
        negatives = [ex for ex in dev_ex if ex.answers]
        _, _, _, _, per_neg = build_rows(negatives, retrieve_without_answer, progress=False)
        _, _, _, _, per_neg_same = build_rows(
            negatives,
            lambda ex: retrieve_without_answer(ex, same_article=True),
            progress=False,
            hide_answer=True,
        )
        return cls(
            xs, ys, ws, gs, xd, yd, wd, gd, per_dev, per_neg + per_neg_same, dev, dev_ex, len(synth)
        )

    def ranker(self, train: np.ndarray, dev_weight: float, l2: float) -> tuple[np.ndarray, float]:
        """The ranker of the generated questions and the dev questions ``train`` selects."""
        return fit_ranker(
            np.concatenate([self.xs, self.xd[train]]),
            np.concatenate([self.ys, self.yd[train]]),
            np.concatenate([self.ws, self.wd[train] * dev_weight]),
            np.concatenate([self.gs, self.gd[train] + self.n_synth]),
            l2=l2,
        )


def _grid(data: _Data, fold_of: np.ndarray, args: argparse.Namespace) -> dict:
    """Out-of-fold exact match on dev of every (dev weight, L2 strength) asked for."""
    grid = {}
    for dw in args.dev_weight:
        for l2 in args.l2:
            hits = []
            for k in range(args.folds):
                coef, b = data.ranker(fold_of[data.gd] != k, dw, l2)
                for qi in np.flatnonzero(fold_of == k):
                    ex, rows, _, _ = data.per_dev[qi]
                    if ex.answers:
                        best, _ = _top(rows, coef, b)
                        hits.append(
                            exact_match(rows[best].text if best is not None else None, ex.answers)
                        )
            grid[(dw, l2)] = float(np.mean(hits))
            print(f"dev weight {dw}, l2 {l2}: out-of-fold EM {grid[(dw, l2)]:.3f}", file=sys.stderr)
    return grid


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)

    from index.store import IndexStore

    t0 = time.perf_counter()
    store = IndexStore.load(args.index_dir)
    data = _Data.build(store, args.dataset, args.synthetic)

    rng = np.random.default_rng(7)
    fold_of = rng.permutation(len(data.dev_ex)) % args.folds
    gd = data.gd

    # the dev weight and the L2 strength: chosen by out-of-fold exact match on dev
    grid = _grid(data, fold_of, args)
    dev_weight, l2 = max(grid, key=lambda key: (grid[key], -abs(np.log(key[1]))))

    # out-of-fold rankers over dev questions: the calibrator must see honest errors
    fold_by_id = {ex.qid: int(fold_of[i]) for i, ex in enumerate(data.dev_ex)}
    cal = _calibrate(
        data.per_dev,
        data.per_neg,
        fold_of,
        fold_by_id,
        args.folds,
        lambda k: data.ranker(fold_of[gd] != k, dev_weight, l2),
        {q.id: q.type for q in data.dev},
    )
    threshold = choose_threshold(cal.conf, cal.answerable)

    coef, b = data.ranker(np.ones(len(gd), dtype=bool), dev_weight, l2)
    report = {
        "dev_out_of_fold": _oof_report(cal, threshold),
        "synthetic_questions": data.n_synth,
        "dev_questions": len(data.dev_ex),
        "dev_weight": dev_weight,
        "l2": l2,
        "grid_out_of_fold_em": {f"{k[0]}/{k[1]}": round(v * 100, 1) for k, v in grid.items()},
        "candidate_rows": int(len(data.ys) + len(data.yd)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    model = {
        "version": 1,
        "features": list(FEATURES),
        "coef": [round(float(v), 6) for v in coef],
        "intercept": round(b, 6),
        "calibration": {
            "features": list(CONF_FEATURES),
            "coef": [round(float(v), 6) for v in cal.coef],
            "intercept": round(cal.intercept, 6),
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
