"""The offline reader's model: the ranker's weights over candidate features, the
calibrated confidence of the winner, and :class:`OfflineReader`, which reads with them.

>>> reader = OfflineReader.load()
>>> reader.read("问题", []).guesses
()
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.reader.base import Reading
from rag.reader.offline.columns import COLUMN, FEATURES
from rag.reader.offline.features import CandidateRow, featurise_matrix
from rag.reader.offline.terms import (
    QuestionTerms,
    bigrams,
    cover,
    question_terms,
    trim_left,
    trim_right,
)
from rag.types import Passage

WEIGHTS = Path(__file__).parent / "weights.json"

# (question's answer type, candidate's kind) pairs that fit: the calibrator's type_fit
_FITS = (
    ("number", "number"),
    ("date", "date"),
    ("person", "person"),
    ("place", "place"),
    ("organization", "organization"),
    ("phrase", "term"),
    ("phrase", "noun"),
)


def confidence_features(qt: QuestionTerms, probs: np.ndarray, r: CandidateRow) -> np.ndarray:
    """What the calibrator sees about the winning candidate (``CONF_FEATURES`` order).

    Besides the ranker's own margin: how much of the question the winner's sentence, its
    neighbourhood and its whole article hold, and the weight of the most important question
    word missing from the neighbourhood (a question about something the corpus lacks
    usually finds a passage on the same subject that misses exactly that word).
    """
    order = np.sort(probs)[::-1]
    x = r.x
    at = COLUMN
    type_fit = max(x[at[f"{q}*{k}"]] for q, k in _FITS)
    text = r.article.text
    window = text[max(0, r.start - 120) : r.end + 120]
    top = max((w for _, w in qt.terms), default=1.0) or 1.0
    missing = max((w for t, w in qt.terms if t not in window), default=0.0) / top
    return np.array(
        [
            order[0],
            order[0] - (order[1] if len(order) > 1 else 0.0),
            x[at["sent_cover"]],
            x[at["sent_cover_bigrams"]],
            x[at["near_cover"]],
            type_fit,
            cover(qt, text),
            missing,
            cover(qt, window),
            x[at["left_align"]],
            x[at["right_align"]],
            _wh_context(qt, text[max(0, r.start - 40) : r.end + 40]),
        ],
        dtype=np.float32,
    )


def _wh_context(qt: QuestionTerms, near: str) -> float:
    """How much of the words right around the question word stand near the answer."""
    qa = qt.analysis
    if qa.wh_start < 0:
        return 0.0
    around = bigrams(trim_left(qa.left)[-6:]) | bigrams(trim_right(qa.right)[:6])
    return len(around & bigrams(near)) / len(around) if around else 0.0


def sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    """The logistic function, its argument clipped to [-30, 30] (no overflow)."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class OfflineReader:
    """Rank candidate spans with learned weights; confidence from a calibrated model."""

    name = "offline"
    offline = True

    def __init__(self, model: dict) -> None:
        if list(model.get("features", [])) != list(FEATURES):
            raise ValueError(
                "the offline reader's weights do not match its features; "
                "retrain them with: python -m eval.train_reader"
            )
        self.model = model
        self.coef = np.asarray(model["coef"], dtype=np.float32)
        self.intercept = float(model["intercept"])
        cal = model["calibration"]
        self.cal_coef = np.asarray(cal["coef"], dtype=np.float32)
        self.cal_intercept = float(cal["intercept"])
        self.threshold = float(model.get("threshold", 0.5))
        self.keep = int(model.get("sentences", 6))
        self.note: str | None = None  # why it stands in for another reader, when it does

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> OfflineReader:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        qt = question_terms(question)
        feats = featurise_matrix(qt, passages, self.keep)
        if not len(feats):
            return Reading((), 0.0, qt.analysis.answer_type, self.threshold)
        probs = np.asarray(sigmoid(feats.x @ self.coef + self.intercept), dtype=np.float32)
        order = np.argsort(-probs, kind="stable")[:20].tolist()
        best = feats.row(order[0])
        conf = float(
            sigmoid(confidence_features(qt, probs, best) @ self.cal_coef + self.cal_intercept)
        )
        guesses = tuple(feats.guess(k, float(probs[k])) for k in order)
        return Reading(guesses, conf, qt.analysis.answer_type, self.threshold)
