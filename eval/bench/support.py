"""What the benchmark scripts (``scripts/bench_*.py``) share: the run's description (code,
package versions, CPU), markdown tables, the synthetic corpus, jieba segmentation for the
peers, and one side of the hybrid retriever alone.

Benchmarks print numbers; nothing here is used by the service.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.types import Passage

if TYPE_CHECKING:
    from index.hybrid import HybridRetriever

ROOT = Path(__file__).resolve().parents[2]
SearchFn = Callable[[str, int], list[Passage]]
SCALE_LADDER = (100, 50, 20, 10, 5, 2, 1)  # synthetic corpus sizes, tried largest first
_PUNCT = re.compile(r"^[\W_]+$")


def no_network() -> None:
    """Haystack's telemetry off, the model hub and transformers offline (unless the caller's
    environment says otherwise): read when the peers first import them, so call it first."""
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# -- what was measured, where ---------------------------------------------------------------
def code_version() -> str:
    """The git commit of the project, marked ``+dirty`` when the tree has changes."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def package_version(dist: str) -> str:
    """The installed version of a distribution, or ``not installed``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``unknown`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# -- formatting -------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


# -- the synthetic corpus ---------------------------------------------------------------------
def write_synthetic(corpus: Path, out: Path, copies: int) -> int:
    """Write ``copies`` varied copies of every file of ``corpus`` into ``out``; return bytes written.

    Copy k is named ``c{k:03d}_<name>``, starts with a line ``第k期``, and has ``〔k〕`` put before
    every ``。``, so that no two copies share a sentence (hence a chunk) while headings, bylines
    and line structure (what the segmenter reads) stay as they are.
    """
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    files = sorted(p for p in corpus.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in files:
        text = p.read_text(encoding="utf-8")
        for k in range(1, copies + 1):
            varied = f"第{k}期\n" + text.replace("。", f"〔{k}〕。")
            data = varied.encode("utf-8")
            (out / f"c{k:03d}_{p.name}").write_bytes(data)
            total += len(data)
    return total


# -- retrieval pieces for the comparisons ---------------------------------------------------
def jieba_words(tokenizer: Any, text: str) -> list[str]:
    """jieba search-mode words of the lower-cased ``text``, punctuation dropped."""
    words = (w.strip() for w in tokenizer.cut_for_search(text.lower()))
    return [w for w in words if w and not _PUNCT.match(w)]


def jieba_segment(tokenizer: Any, text: str) -> str:
    """:func:`jieba_words` space-joined: what the peers index, their BM25 splitting on spaces."""
    return " ".join(jieba_words(tokenizer, text))


def side_search(retriever: HybridRetriever, which: str) -> SearchFn:
    """One side of the hybrid alone (``"dense"`` or ``"sparse"``), as Passages, for diagnosis."""
    store = retriever.store

    def side(question: str, k: int):
        if which == "dense":
            return store.vstore.search(store.embedder.embed_query(question), k)
        return store.bm25.search(store.tokenizer.query_tokens(question), k)

    def search(question: str, k: int) -> list[Passage]:
        ids, scores = side(question, k)
        out = []
        for i, s in zip(ids, scores):
            chunk = store.chunks[int(i)]
            article = store.articles.get(chunk.article_id)
            out.append(Passage(chunk=chunk, score=float(s), article=article))
        return out

    return search
