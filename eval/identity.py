"""Prove that a change of code changed no behaviour: the same index files, the same answers.

``snapshot`` builds the index of a corpus with each embedder asked for, records every
file's sha256 (the manifest's ``build_time`` left out: it is the one field that must
differ) and every eval question's Answer, exact floats included; ``compare`` says what
differs between two snapshots and exits 1 if anything does.

    python -m eval.identity snapshot /tmp/before     # on the old code
    python -m eval.identity snapshot /tmp/after      # on the new code
    python -m eval.identity compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.dataset import DEFAULT_DATASET, load_questions

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
VOLATILE_MANIFEST_KEYS = ("build_time",)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def index_files(index_dir: Path) -> dict[str, str]:
    """sha256 of every file of the live version, the manifest without its volatile keys."""
    live = index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    out = {}
    for path in sorted(p for p in live.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(data)
            for key in VOLATILE_MANIFEST_KEYS:
                manifest.pop(key, None)
            data = json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()
        out[str(path.relative_to(live))] = _sha256(data)
    return out


def exact_answer(answer: Any) -> dict[str, Any]:
    """The Answer as JSON with exact floats; what differs between two builds left out."""
    d = answer.to_json()
    d.pop("timings_ms", None)
    d.pop("index_version", None)
    d["confidence"] = repr(float(answer.confidence))
    for p_json, p in zip(d["passages"], answer.passages):
        p_json["score"] = repr(float(p.score))
    return d


def snapshot(
    out: Path, corpus: Path, embedders: Sequence[str], readers: Sequence[str], dataset: Path
) -> dict[str, Any]:
    from rag.indexing import build_index
    from rag.pipeline import Pipeline

    questions = load_questions(dataset)
    result: dict[str, Any] = {"corpus": str(corpus), "dataset": str(dataset), "runs": {}}
    for emb in embedders:
        index_dir = out / f"index-{emb}"
        build_index(corpus, index_dir, embedder=emb, full=True)
        files = index_files(index_dir)
        for reader in readers:
            pipe = Pipeline.load(index_dir, reader=reader)
            answers = [exact_answer(pipe.ask(q.question)) | {"id": q.id} for q in questions]
            result["runs"][f"{emb}/{reader}"] = {"files": files, "answers": answers}
            print(f"{emb}/{reader}: {len(files)} files, {len(answers)} answers", file=sys.stderr)
    (out / "snapshot.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return result


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    diffs = []
    for run in sorted(set(a["runs"]) | set(b["runs"])):
        ra, rb = a["runs"].get(run), b["runs"].get(run)
        if ra is None or rb is None:
            diffs.append(f"{run}: only in one snapshot")
            continue
        for name in sorted(set(ra["files"]) | set(rb["files"])):
            if ra["files"].get(name) != rb["files"].get(name):
                diffs.append(f"{run}: index file {name} differs")
        if len(ra["answers"]) != len(rb["answers"]):
            diffs.append(f"{run}: {len(ra['answers'])} vs {len(rb['answers'])} answers")
        for x, y in zip(ra["answers"], rb["answers"]):
            if x != y:
                keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
                diffs.append(f"{run}: answer to {x['id']} differs in {', '.join(keys)}")
    return diffs


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.identity", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("snapshot", help="build the index(es) and answer every eval question")
    sp.add_argument("out", type=Path)
    sp.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    sp.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    sp.add_argument("--embedders", default="auto,offline")
    sp.add_argument("--readers", default="offline")
    cp = sub.add_parser("compare", help="what differs between two snapshots (exit 1 if any)")
    cp.add_argument("a", type=Path)
    cp.add_argument("b", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "snapshot":
        args.out.mkdir(parents=True, exist_ok=True)
        snapshot(
            args.out,
            args.corpus,
            args.embedders.split(","),
            args.readers.split(","),
            args.dataset,
        )
        return 0
    for folder in (args.a, args.b):
        if not (folder / "snapshot.json").is_file():
            ap.error(f"no snapshot in {folder}: run `python -m eval.identity snapshot {folder}`")
    a, b = (json.loads((p / "snapshot.json").read_text(encoding="utf-8")) for p in (args.a, args.b))
    diffs = compare(a, b)
    for line in diffs:
        print(line)
    total = sum(len(r["answers"]) for r in a["runs"].values())
    print(f"{len(diffs)} differences over {len(a['runs'])} runs, {total} answers")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
