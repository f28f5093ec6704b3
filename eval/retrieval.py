"""Retrieval metrics: recall@k (a returned passage holds the evidence), MRR, article-hit@k."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eval.dataset import Question
from rag.types import Passage

KS = (1, 5, 20)


@dataclass(frozen=True)
class GoldSpan:
    source: str
    answer: tuple[int, int]  # where the answer stands inside the evidence, in the source
    evidence: tuple[int, int]


def gold_spans(q: Question, original: str) -> list[GoldSpan]:
    """Every place in the source where the evidence (with its answer) stands."""
    spans = []
    if not (q.evidence and q.source):
        return spans
    start = original.find(q.evidence)
    while start >= 0:
        end = start + len(q.evidence)
        for ans in q.answers:
            i = q.evidence.find(ans)
            if i >= 0:
                spans.append(GoldSpan(q.source, (start + i, start + i + len(ans)), (start, end)))
                break
        start = original.find(q.evidence, start + 1)
    return spans


def passage_hits(p: Passage, gold: Sequence[GoldSpan]) -> bool:
    """The passage holds the answer and at least half of its evidence sentence.

    (Half of the passage, when the "sentence" is longer than the passage: PDF extraction
    leaves some sentences of several hundred characters.)
    """
    c = p.chunk
    for g in gold:
        if c.source != g.source:
            continue
        if c.start <= g.answer[0] and g.answer[1] <= c.end:
            overlap = min(c.end, g.evidence[1]) - max(c.start, g.evidence[0])
            if overlap * 2 >= min(g.evidence[1] - g.evidence[0], c.end - c.start):
                return True
    return False


def article_hits(p: Passage, gold: Sequence[GoldSpan]) -> bool:
    a = p.article
    if a is None:
        return False
    return any(a.source == g.source and a.start <= g.answer[0] < a.end for g in gold)


def evaluate_retrieval(
    questions: Sequence[Question],
    search: Callable[[str, int], list[Passage]],
    originals: dict[str, str],
    *,
    progress: Callable[[], None] | None = None,
) -> dict:
    """Recall@k, MRR and article-hit@k, overall, by type and by split."""
    rows = []
    for q in questions:
        if not q.answerable:
            continue
        gold = gold_spans(q, originals.get(q.source or "", ""))
        passages = search(q.question, max(KS))
        hit_rank = next((r for r, p in enumerate(passages, 1) if passage_hits(p, gold)), None)
        art_rank = next((r for r, p in enumerate(passages, 1) if article_hits(p, gold)), None)
        rows.append(
            {
                "id": q.id,
                "type": q.type,
                "split": q.split,
                "paraphrased": bool(q.extra.get("paraphrased")),
                "rank": hit_rank,
                "article_rank": art_rank,
            }
        )
        if progress:
            progress()
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        for key in (
            "all",
            f"type:{r['type']}",
            f"split:{r['split']}",
            f"split:{r['split']}/type:{r['type']}",
        ):
            groups[key].append(r)
        if r["paraphrased"]:
            groups[f"split:{r['split']}/paraphrased"].append(r)
    return {"groups": {k: summarise(v) for k, v in sorted(groups.items())}, "questions": rows}


def summarise(rows: Sequence[dict]) -> dict:
    n = len(rows)
    out: dict[str, float] = {"n": n}
    for k in KS:
        out[f"recall@{k}"] = sum(1 for r in rows if r["rank"] and r["rank"] <= k) / n if n else 0.0
        out[f"article_hit@{k}"] = (
            sum(1 for r in rows if r["article_rank"] and r["article_rank"] <= k) / n if n else 0.0
        )
    out["mrr"] = sum(1 / r["rank"] for r in rows if r["rank"]) / n if n else 0.0
    return out
