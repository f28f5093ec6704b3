"""The eval set: one JSON question a line (format in ARCHITECTURE.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

TYPES = ("number", "date", "person", "organization", "place", "phrase", "unanswerable")
DEFAULT_DATASET = Path(__file__).parent / "questions.jsonl"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    source: str | None
    article: str | None
    evidence: str | None
    type: str
    split: str = "test"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: str | Path = DEFAULT_DATASET) -> list[Question]:
    """Read and check an eval file; a malformed line is an error naming its line number."""
    out: list[Question] = []
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                q = Question(
                    id=str(d["id"]),
                    question=str(d["question"]),
                    answers=tuple(d.get("answers") or ()),
                    source=d.get("source"),
                    article=d.get("article"),
                    evidence=d.get("evidence"),
                    type=str(d.get("type", "phrase")),
                    split=str(d.get("split", "test")),
                    extra={k: v for k, v in d.items() if k not in Question.__dataclass_fields__},
                )
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a valid question ({e})") from e
            out.append(q)
    return out
