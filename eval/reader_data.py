"""Reading-comprehension data for the neural reader.

SQuAD-format files (``data[].paragraphs[].context/qas[]``) become :class:`QAExample` s;
Traditional text is converted to Simplified with OpenCC ``t2s`` and every answer is checked
to sit at its (converted) offset, or the question is dropped and counted. Splits are fixed
by article title, so a paragraph never lands on both sides. Negatives for the no-answer
score pair a question with a passage that does not hold its answer: the most similar
paragraph of another article, or the question's own paragraph with the answer sentence cut.

>>> ex = QAExample("q1", "谁？", "张三来了。", 0, "张三", "toy", "t")
>>> ex.context[ex.answer_start : ex.answer_start + len(ex.answer_text)]
'张三'
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.text.sentences import sentence_spans

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mrc"
TRADITIONAL = frozenset({"DRCD_dev.json", "DRCD_test.json"})
# trained on; a tenth of DRCD dev's articles (by title hash) is kept apart for tuning
TRAIN_FILES = ("cmrc2018_trial.json", "DRCD_dev.json")
# never trained or tuned on: the out-of-domain held-out set (native Chinese questions)
HELDOUT_FILES = ("DRCD_test.json",)
TUNE_BUCKET = 0  # title-hash bucket (of 10) of DRCD dev kept for tuning


@dataclass(frozen=True)
class QAExample:
    """A question over one context; ``answer_start`` is None when the context holds no answer."""

    id: str
    question: str
    context: str
    answer_start: int | None
    answer_text: str | None
    source: str  # the file it came from
    title: str

    @property
    def answerable(self) -> bool:
        return self.answer_start is not None


@dataclass
class LoadReport:
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> count


def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def _place(context: str, answer: str, start: int) -> int | None:
    """Where ``answer`` sits in ``context``: at ``start``, else its nearest occurrence."""
    if context[start : start + len(answer)] == answer:
        return start
    hits, i = [], context.find(answer)
    while i >= 0:
        hits.append(i)
        i = context.find(answer, i + 1)
    return min(hits, key=lambda h: abs(h - start)) if hits else None


def load_squad(
    path: Path, *, to_simplified: bool | None = None
) -> tuple[list[QAExample], LoadReport]:
    """Every question of a SQuAD-format file with its first answer (the gold span to learn)."""
    path = Path(path)
    convert = _converter().convert if (to_simplified or path.name in TRADITIONAL) else None
    report = LoadReport()
    out: list[QAExample] = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        title = convert(article.get("title", "")) if convert else article.get("title", "")
        for para in article["paragraphs"]:
            raw = para["context"]
            context = convert(raw) if convert else raw
            same_length = len(context) == len(raw)
            for qa in para["qas"]:
                question = convert(qa["question"]) if convert else qa["question"]
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                if not answers:
                    out.append(QAExample(qa["id"], question, context, None, None, path.name, title))
                    report.kept += 1
                    continue
                a = answers[0]
                text = convert(a["text"]) if convert else a["text"]
                text_raw_ok = (
                    raw[a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]
                )
                start = _place(context, text, a["answer_start"]) if text.strip() else None
                if not text_raw_ok:
                    report.dropped["answer not at its offset in the source"] += 1
                elif start is None or (same_length and start != a["answer_start"]):
                    report.dropped["answer moved by the conversion"] += 1
                else:
                    out.append(
                        QAExample(qa["id"], question, context, start, text, path.name, title)
                    )
                    report.kept += 1
    return out, report


def title_bucket(title: str, buckets: int = 10) -> int:
    return int(hashlib.sha256(title.encode()).hexdigest(), 16) % buckets


def split(examples: Iterable[QAExample]) -> dict[str, list[QAExample]]:
    """``train`` / ``tune`` / ``heldout`` by file and, for DRCD dev, by article title."""
    parts: dict[str, list[QAExample]] = {"train": [], "tune": [], "heldout": []}
    for ex in examples:
        if ex.source in HELDOUT_FILES:
            parts["heldout"].append(ex)
        elif ex.source == "DRCD_dev.json" and title_bucket(ex.title) == TUNE_BUCKET:
            parts["tune"].append(ex)
        elif ex.source in TRAIN_FILES:
            parts["train"].append(ex)
    return parts


def load_all(data_dir: Path = DEFAULT_DATA_DIR) -> tuple[dict[str, list[QAExample]], dict]:
    examples, reports = [], {}
    for name in (*TRAIN_FILES, *HELDOUT_FILES):
        rows, rep = load_squad(Path(data_dir) / name)
        examples += rows
        reports[name] = {"kept": rep.kept, "dropped": dict(rep.dropped)}
    return split(examples), reports


def _bigrams(text: str) -> Counter:
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def _most_similar_other(ex: QAExample, pool: Sequence[tuple[str, str, Counter]]) -> str | None:
    """The paragraph of another article that shares most of the question's bigrams."""
    q = _bigrams(ex.question)
    best, best_score = None, 0
    for title, context, grams in pool:
        if title == ex.title:
            continue
        score = sum(min(n, grams[g]) for g, n in q.items())
        if score > best_score:
            best, best_score = context, score
    return best


def _without_answer_sentence(ex: QAExample) -> str | None:
    """The context with the sentence holding the answer cut out (None if the answer remains)."""
    assert ex.answer_start is not None and ex.answer_text is not None
    spans = sentence_spans(ex.context)
    keep = [(a, b) for a, b in spans if not (a <= ex.answer_start < b)]
    if len(keep) == len(spans) or not keep:
        return None
    text = "".join(ex.context[a:b] for a, b in keep)
    return None if ex.answer_text in text else text


def negatives(examples: Sequence[QAExample], share: float = 0.3, seed: int = 13) -> list[QAExample]:
    """Unanswerable pairs for ``share`` of the answerable examples, half of each kind."""
    rng = random.Random(seed)
    answerable = [e for e in examples if e.answerable]
    pool_by_source: dict[str, list[tuple[str, str, Counter]]] = {}
    seen: set[tuple[str, str]] = set()
    for e in answerable:
        if (e.source, e.context) not in seen:
            seen.add((e.source, e.context))
            pool_by_source.setdefault(e.source, []).append(
                (e.title, e.context, _bigrams(e.context))
            )
    out = []
    for e in rng.sample(answerable, int(len(answerable) * share)):
        if rng.random() < 0.5:
            context = _most_similar_other(e, pool_by_source[e.source])
            kind = "other-article"
        else:
            context = _without_answer_sentence(e)
            kind = "answer-cut"
        if context and e.answer_text not in context:
            out.append(
                replace(
                    e, id=f"{e.id}#neg-{kind}", context=context, answer_start=None, answer_text=None
                )
            )
    return out
