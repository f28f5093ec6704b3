"""Reading-comprehension data (SQuAD format) as a corpus folder plus an eval set.

The sample corpus is one example of what users bring; the questions of
``../shared/data/mrc/`` were written by other people about other subjects (Wikipedia
paragraphs). This turns such a file into what ``rag index build`` and ``rag eval`` take:
one ``.txt`` file an article (its title, then its paragraphs) and a JSONL eval set in the
project's format, every answer, title and evidence an exact substring of its file.

    python -m eval.mrc ../shared/data/mrc/cmrc2018_trial.json --out var/mrc/cmrc --split dev
    rag index build var/mrc/cmrc/corpus --index-dir var/mrc/cmrc/index
    rag eval --retrieval --dataset var/mrc/cmrc/questions.jsonl --index-dir var/mrc/cmrc/index

>>> rows = mrc_eval_set(Path("cmrc2018_trial.json"), Path("out"), split="dev")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_UNSAFE = re.compile(r"[^\w\u4e00-\u9fff-]+")


def _evidence(context: str, start: int, end: int) -> tuple[int, int]:
    """The sentence of ``context`` around ``[start, end)`` (it may run past one sentence)."""
    a = 0
    for m in _SENTENCE_END.finditer(context, 0, start):
        a = m.end()
    m = _SENTENCE_END.search(context, end)
    b = m.end() if m else len(context)
    while a < start and context[a].isspace():
        a += 1
    return a, b


def mrc_eval_set(
    path: Path, out: Path, *, split: str, max_articles: int | None = None
) -> list[dict]:
    """Write ``out/corpus/*.txt`` and ``out/questions.jsonl``; return the question rows.

    Answers that do not sit at their stated offset are dropped (counted in the summary the
    CLI prints), so every row is exact. SQuAD 2.0 questions marked impossible become
    unanswerable rows.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    if max_articles is not None:
        data = data[:max_articles]
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    stem = Path(path).stem
    for n, art in enumerate(data):
        title = " ".join(str(art.get("title") or f"{stem} {n}").split())
        name = f"{n:04d}_{_UNSAFE.sub('_', title)[:40]}.txt"
        text = title + "\n\n"
        for para in art["paragraphs"]:
            base = len(text)
            context = para["context"]
            text += context + "\n\n"
            for qa in para.get("qas", []):
                if not str(qa.get("question") or "").strip():
                    continue  # a blank question (there is one in CMRC 2018 trial)
                row = {
                    "id": f"{stem}-{qa.get('id', len(rows))}",
                    "question": " ".join(str(qa["question"]).split()),
                    "type": "phrase",
                    "split": split,
                    "origin": stem,
                }
                answers = qa.get("answers") or []
                if qa.get("is_impossible") or not answers:
                    rows.append(
                        {
                            **row,
                            "answers": [],
                            "source": None,
                            "article": None,
                            "evidence": None,
                            "type": "unanswerable",
                        }
                    )
                    continue
                first = answers[0]
                s = int(first["answer_start"])
                ans = str(first["text"])
                if not ans.strip() or context[s : s + len(ans)] != ans:
                    continue  # the offset does not hold the answer: not exact, not used
                a, b = _evidence(context, s, s + len(ans))
                texts = [ans]  # the one at answer_offset first, then the other references
                for x in answers:
                    t = str(x["text"])
                    if t and t in context[a:b] and t not in texts:
                        texts.append(t)
                rows.append(
                    {
                        **row,
                        "answers": texts,
                        "source": name,
                        "article": title,
                        "evidence": context[a:b],
                        "answer_offset": base + s,
                    }
                )
        (corpus / name).write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path, help="a SQuAD-format JSON file")
    ap.add_argument(
        "--out", type=Path, required=True, help="folder for corpus/ and questions.jsonl"
    )
    ap.add_argument("--split", default="test", help="the split the questions are marked with")
    ap.add_argument("--max-articles", type=int, help="only the first N articles")
    args = ap.parse_args(argv)
    rows = mrc_eval_set(args.file, args.out, split=args.split, max_articles=args.max_articles)
    answerable = sum(1 for r in rows if r["answers"])
    files = len(list((args.out / "corpus").glob("*.txt")))
    print(f"{args.out}: {files} articles, {len(rows)} questions ({answerable} answerable)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
