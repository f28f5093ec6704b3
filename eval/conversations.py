"""Follow-up questions measured: conversations asked turn by turn, each follow-up completed
from the history (:func:`rag.conversation.rewrite`), against the same questions asked
standalone (the gold standalone form) and asked as typed with no history.

``eval/conversations.jsonl``: one conversation a line, ``{"id", "split", "source",
"article", "turns": [{"question", "standalone", "answers", "evidence", "type"}, ...]}``; the
first turn stands alone. The history a follow-up is completed from holds the service's own
earlier answers (as in a chat), not the gold ones.

    rag eval --conversations eval/conversations.jsonl --index-dir var/index --out var/eval-conv
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import exact_match, f1

DEFAULT_CONVERSATIONS = Path(__file__).parent / "conversations.jsonl"


@dataclass(frozen=True)
class GoldTurn:
    question: str
    standalone: str
    answers: tuple[str, ...]
    type: str = "phrase"


@dataclass(frozen=True)
class Conversation:
    id: str
    split: str
    source: str
    article: str
    turns: tuple[GoldTurn, ...]


def load_conversations(path: str | Path = DEFAULT_CONVERSATIONS) -> list[Conversation]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        d = json.loads(line)
        turns = tuple(
            GoldTurn(t["question"], t["standalone"], tuple(t["answers"]), t.get("type", "phrase"))
            for t in d["turns"]
        )
        if len(turns) < 2 or turns[0].question != turns[0].standalone:
            raise ValueError(f"{path}:{n}: a conversation opens with a standalone question")
        out.append(Conversation(d["id"], d["split"], d["source"], d["article"], turns))
    return out


def _char_f1(a: str, b: str) -> float:
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    same = sum(m.size for m in sm.get_matching_blocks())
    return 0.0 if not same else 2 * same / (len(a) + len(b))


def _scores(answer: Any, gold: Sequence[str]) -> tuple[float, float]:
    return exact_match(answer.answer, gold), f1(answer.answer, gold)


def run_conversations(
    pipe: Any, conversations: Sequence[Conversation], progress: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics by split and one row a follow-up: EM/F1 as completed, standalone and as typed
    alone; whether the completed question found the conversation's article first; the
    completion's likeness to the gold standalone form; the rule that completed it."""
    from rag.conversation import Turn, rewrite

    rows: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=sum(len(c.turns) for c in conversations), desc="conversations", unit="turn"
        )
    for conv in conversations:
        history: list[Turn] = []
        for i, turn in enumerate(conv.turns):
            rule = rewrite(turn.question, history).rule
            ans = pipe.ask(turn.question, history=history)
            understood = ans.understood_as or turn.question
            if i > 0:
                alone = pipe.ask(turn.standalone)
                typed = pipe.ask(turn.question)
                top = ans.passages[0].chunk if ans.passages else None
                em, f = _scores(ans, turn.answers)
                rows.append(
                    {
                        "id": f"{conv.id}-{i}",
                        "split": conv.split,
                        "question": turn.question,
                        "understood_as": understood,
                        "rule": rule,
                        "changed": rule is not None,
                        "gold_standalone": turn.standalone,
                        "answer": ans.answer,
                        "answers": list(turn.answers),
                        "em": em,
                        "f1": f,
                        "standalone_em": _scores(alone, turn.answers)[0],
                        "standalone_f1": _scores(alone, turn.answers)[1],
                        "typed_em": _scores(typed, turn.answers)[0],
                        "typed_f1": _scores(typed, turn.answers)[1],
                        "article_hit": bool(
                            top and top.source == conv.source and top.title == conv.article
                        ),  # fmt: skip
                        "rewrite_likeness": _char_f1(understood, turn.standalone),
                    }
                )
            cited = ans.citations[0].article_id if ans.citations else None
            history.append(Turn(turn.question, understood, ans.answer, ans.answer_type, cited))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    return summarise(rows), rows


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def block(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        n = len(rs) or 1
        pct = lambda k: round(100 * sum(float(r[k]) for r in rs) / n, 1)  # noqa: E731
        return {
            "followups": len(rs),
            "em": pct("em"),
            "f1": pct("f1"),
            "standalone_em": pct("standalone_em"),
            "standalone_f1": pct("standalone_f1"),
            "typed_em": pct("typed_em"),
            "typed_f1": pct("typed_f1"),
            "rewrite_article_hit": pct("article_hit"),
            "rewrite_likeness": pct("rewrite_likeness"),
            "rewritten": pct("changed") if rs and "changed" in rs[0] else None,
            "rules": dict(Counter(str(r["rule"]) for r in rs)),
        }

    out = {"overall": block(rows)}
    for split in sorted({r["split"] for r in rows}):
        out[split] = block([r for r in rows if r["split"] == split])
    return out


def table(metrics: dict[str, Any]) -> str:
    head = (
        f"{'group':<8} {'n':>4} {'EM':>6} {'F1':>6} {'alone EM':>9} {'alone F1':>9} "
        f"{'typed EM':>9} {'art.hit':>8} {'likeness':>9}"
    )
    lines = [head]
    for name, m in metrics.items():
        lines.append(
            f"{name:<8} {m['followups']:>4} {m['em']:>6} {m['f1']:>6} {m['standalone_em']:>9} "
            f"{m['standalone_f1']:>9} {m['typed_em']:>9} {m['rewrite_article_hit']:>8} "
            f"{m['rewrite_likeness']:>9}"
        )
    return "\n".join(lines)


def evaluate(
    path: Path, index_dir: Path, reader: str = "auto", out: Path | None = None, progress=True
) -> dict[str, Any]:
    """Run the conversations against the index; with ``out``, write predictions, metrics and
    a report."""
    from rag.pipeline import Pipeline

    pipe = Pipeline.load(index_dir, reader)
    metrics, rows = run_conversations(pipe, load_conversations(path), progress=progress)
    metrics["reader"] = pipe.reader.name
    if out is not None:
        from eval.report import atomic_write

        out.mkdir(parents=True, exist_ok=True)

        def put(name: str, text: str) -> None:
            atomic_write(out / name, "w", lambda f: f.write(text))

        put(
            "conversations_predictions.jsonl",
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
        )
        put("conversations_metrics.json", json.dumps(metrics, ensure_ascii=False, indent=2))
        report = [
            "# Follow-up questions",
            "",
            f"`rag eval --conversations {path}` (reader {metrics['reader']}). EM/F1 of each",
            "follow-up as completed from the conversation, of the same question asked in its",
            "gold standalone form, and as typed with no history; `art.hit`: the completed",
            "question's first passage is from the conversation's article; `likeness`: character",
            "F1 of the completion against the gold standalone form.",
            "",
            "```",
            table({k: v for k, v in metrics.items() if isinstance(v, dict) and "em" in v}),
            "```",
            "",
        ]
        put("conversations_report.md", "\n".join(report))
    return metrics
