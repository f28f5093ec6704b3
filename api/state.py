"""What the HTTP service shares between requests: the live pipeline, the writer lock, metrics.

Questions read :attr:`ServiceState.pipeline` once and keep that pipeline to the end of the
request. A write (upload or delete) saves the corpus change, updates the index on disk with
:func:`rag.indexing.build_index`, builds a complete new :class:`~rag.pipeline.Pipeline` and
only then swaps the reference, so no request ever sees a half-updated index. Writers are
serialised by one lock.

>>> state = ServiceState(pipeline, Path("var/index"), Path("corpus"))  # doctest: +SKIP
>>> state.add_documents([("新闻.txt", "标题\\n正文……".encode())])  # doctest: +SKIP
{'added': ['新闻.txt'], 'changed': [], 'removed': [], ...}
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from index.store import IndexStore
from rag.indexing import build_index
from rag.ingest.loaders import SUPPORTED, CorpusError, UnreadableFile, load_file
from rag.pipeline import Pipeline

log = logging.getLogger("api.state")

MAX_NAME_BYTES = 200
_UNSAFE_CHARS = set('<>:"|?*')  # harmless on Linux, but the corpus folder may be shared


class WriteError(Exception):
    """A corpus write that cannot be done; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def safe_filename(raw: str | None) -> str:
    """Reduce an uploaded file name to a plain basename, or raise :class:`WriteError` (400).

    Directory parts (either slash), NUL and other control characters and leading dots are
    dropped, so ``../../etc/passwd`` becomes ``passwd`` and ``..\\\\x.txt`` becomes ``x.txt``.

    >>> safe_filename("../../a/b/新闻.txt"), safe_filename("..\\\\x.txt")
    ('新闻.txt', 'x.txt')
    """
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        "_" if c in _UNSAFE_CHARS else c for c in name if unicodedata.category(c)[0] != "C"
    )
    name = name.strip().lstrip(".").strip()
    if not name or name in {".", ".."}:
        raise WriteError(400, f"unusable file name {raw!r}")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise WriteError(400, f"file name too long (over {MAX_NAME_BYTES} bytes): {name[:40]!r}…")
    return name


def check_file_type(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        allowed = ", ".join(sorted(SUPPORTED))
        raise WriteError(
            415, f"unsupported file type {suffix or '(none)'!r} for {name!r}; allowed: {allowed}"
        )


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refused unless it resolves to a path inside ``root``."""
    target = root / relative
    if not target.resolve().is_relative_to(root):
        raise WriteError(400, f"{relative!r} is outside the corpus folder")
    return target


def _hidden_sibling(path: Path, tag: str) -> Path:
    # a leading dot keeps it out of the corpus walk (rag.ingest.loaders.iter_corpus skips dotfiles)
    return path.with_name(f".{tag}-{uuid.uuid4().hex[:12]}{path.suffix}")


def _write_atomic(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class LoopTurns:
    """Run short CPU-bound calls on the event loop, letting it poll at least every ``budget`` s.

    The offline reader answers in a few milliseconds of pure Python, so ``/ask`` runs it on
    the loop (a thread would only take turns on the GIL). Calls made straight from the
    request tasks all run in the loop pass that woke them: with 32 clients a pass is some
    30 answers (~100 ms), and libuv (uvloop) accepts one new connection per pass, so the
    last client of a burst waited seconds to be accepted (p99 1.4 s). Here, once a pass has
    spent ``budget`` on calls, the calls still waiting in it yield first: the loop polls
    its sockets (accepts, reads, writes) and they run, in the same order, in the next pass.
    """

    def __init__(self, budget: float = 0.01) -> None:
        self.budget = budget
        self._pass_start: float | None = None  # when this pass's first call started
        self._over = False  # this pass has used its budget: later calls wait for the next

    async def run(self, fn, *args, **kwargs):  # noqa: ANN001, ANN201 - any call
        while self._over:
            await asyncio.sleep(0)  # to the next pass, after the loop's poll
        now = time.perf_counter()
        if self._pass_start is None:
            self._pass_start = now
            asyncio.get_running_loop().call_soon(self._next_pass)  # runs first in the next pass
        try:
            return fn(*args, **kwargs)
        finally:
            if time.perf_counter() - self._pass_start > self.budget:
                self._over = True

    def _next_pass(self) -> None:
        self._pass_start, self._over = None, False


class ServiceState:
    """The loaded pipeline (swapped atomically on writes) plus the corpus it was built from."""

    def __init__(
        self,
        pipeline: Pipeline,
        index_dir: Path,
        corpus_dir: Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._swap = threading.Lock()
        self.write_lock = threading.Lock()
        self.index_dir = Path(index_dir)
        self.corpus_dir = Path(corpus_dir).resolve() if corpus_dir else None
        self.metrics = metrics or Metrics()
        self._checked = time.monotonic()
        self.turns = LoopTurns()

    @property
    def pipeline(self) -> Pipeline:
        with self._swap:
            return self._pipeline

    def _replace(self, pipeline: Pipeline) -> None:
        with self._swap:
            self._pipeline = pipeline
        self.metrics.count("reindex")
        settle_memory()

    def refresh_due(self, every: float = 2.0) -> bool:
        """Whether :meth:`refresh` has work to do: at most every ``every`` seconds, a look at
        the live version's name (one small file read, cheap enough for the event loop)."""
        now = time.monotonic()
        if now - self._checked < every:
            return False
        try:
            live = IndexStore.live_version(self.index_dir).name
        except Exception:  # noqa: BLE001 - refresh() logs it
            return True
        if live == self.pipeline.store.version:
            self._checked = now
            return False
        return True

    def refresh(self, every: float = 2.0) -> None:
        """Pick up an index rebuilt outside the service (``rag index build``), at most every
        ``every`` seconds; never while the service itself is writing."""
        now = time.monotonic()
        if now - self._checked < every or not self.write_lock.acquire(blocking=False):
            return
        try:
            self._checked = now
            old = self.pipeline
            if IndexStore.live_version(self.index_dir).name != old.store.version:
                new = Pipeline(IndexStore.load(self.index_dir), old.reader, old.settings)
                self._replace(new)
                log.info("loaded index version %s built outside the service", new.store.version)
        except Exception as e:  # noqa: BLE001 - a broken rebuild must not take the service down
            log.warning("index on disk not loaded (keeping %s): %s", self.pipeline.store.version, e)
        finally:
            self.write_lock.release()

    def _corpus(self) -> Path:
        if self.corpus_dir is None or not self.corpus_dir.is_dir():
            raise WriteError(
                503, "no corpus folder configured: start the service with a corpus folder"
            )
        return self.corpus_dir

    def _embedder_spec(self) -> str:
        emb = self.pipeline.store.embedder
        return "offline" if getattr(emb, "offline", False) else emb.name

    def _reindex(self) -> dict[str, Any]:
        """Update the index on disk, then load and swap in a complete new pipeline."""
        old = self.pipeline
        report = build_index(self._corpus(), self.index_dir, embedder=self._embedder_spec())
        if report.version != old.store.version:
            self._replace(Pipeline(IndexStore.load(self.index_dir), old.reader, old.settings))
        out = asdict(report)
        out["article_count"] = len(self.pipeline.store.articles)
        return out

    # -- writes ----------------------------------------------------------------------
    def add_documents(self, uploads: list[tuple[str, bytes]]) -> dict[str, Any]:
        """Save ``(file name, bytes)`` pairs into the corpus folder and re-index.

        Every file is checked (name, type, readable text) before any is moved in; on a
        failed re-index the corpus is put back as it was.
        """
        corpus = self._corpus()
        names = [safe_filename(name) for name, _ in uploads]
        for name in names:
            check_file_type(name)
        if len(set(names)) != len(names):
            raise WriteError(400, "the same file name appears twice in one upload")
        with self.write_lock:
            staged: list[tuple[Path, Path]] = []  # (temporary copy, final path)
            moved: list[Path] = []
            backups: list[tuple[Path, Path]] = []  # (previous version, final path)
            try:
                for name, (_, data) in zip(names, uploads):
                    staged.append(self._stage(corpus, name, data))
                for tmp, target in staged:
                    if target.exists():
                        backup = _hidden_sibling(target, "replaced")
                        os.replace(target, backup)
                        backups.append((backup, target))
                    os.replace(tmp, target)
                    moved.append(target)
                report = self._reindex()
            except BaseException:
                self._roll_back(moved, backups)
                raise
            finally:
                for tmp, _ in staged:
                    tmp.unlink(missing_ok=True)
            for backup, _ in backups:
                backup.unlink(missing_ok=True)
        report["files"] = [{"name": n, "bytes": len(d)} for n, (_, d) in zip(names, uploads)]
        return report

    @staticmethod
    def _stage(corpus: Path, name: str, data: bytes) -> tuple[Path, Path]:
        """Write ``data`` to a hidden file beside its final path and check that it loads."""
        target = _inside(corpus, name)
        if target.is_dir() or target.resolve().parent != corpus:
            raise WriteError(409, f"{name!r} is a folder or a link in the corpus")
        tmp = _hidden_sibling(target, "upload")
        _write_atomic(tmp, data)
        try:  # a binary file under a .txt name fails here, before anything is moved in
            load_file(tmp, corpus)
        except (UnreadableFile, OSError) as e:
            tmp.unlink(missing_ok=True)
            raise WriteError(422, f"{name!r} cannot be read as a document: {e}") from e
        return tmp, target

    @staticmethod
    def _roll_back(moved: list[Path], backups: list[tuple[Path, Path]]) -> None:
        for target in moved:
            target.unlink(missing_ok=True)
        for backup, target in backups:
            os.replace(backup, target)

    def remove_document(self, source: str) -> dict[str, Any]:
        """Delete a corpus file (as named in the index manifest) and re-index."""
        corpus = self._corpus()
        with self.write_lock:
            if source not in self.pipeline.store.manifest.get("sources", {}):
                raise WriteError(404, f"no document {source!r} in the index")
            target = _inside(corpus, source)
            backup = _hidden_sibling(target, "deleted")
            if target.is_file():
                os.replace(target, backup)
            try:
                report = self._reindex()
            except CorpusError as e:
                self._restore(backup, target)
                raise WriteError(409, f"cannot remove {source!r}: {e}") from e
            except BaseException:
                self._restore(backup, target)
                raise
            backup.unlink(missing_ok=True)
        return report

    @staticmethod
    def _restore(backup: Path, target: Path) -> None:
        if backup.exists():
            os.replace(backup, target)


# -- metrics ---------------------------------------------------------------------------
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counts, a latency histogram and a few event counters, in Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._latency: dict[str, list[float]] = {}  # path -> bucket counts, then sum, count
        self._events: Counter[str] = Counter()

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, path, status)] += 1
            row = self._latency.setdefault(path, [0.0] * (len(_BUCKETS) + 2))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += seconds
            row[-1] += 1

    def count(self, event: str) -> None:
        with self._lock:
            self._events[event] += 1

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """``gauges`` maps a metric name to (help text, value)."""
        out = [
            "# HELP rag_http_requests_total HTTP requests by method, route and status.",
            "# TYPE rag_http_requests_total counter",
        ]
        with self._lock:
            for (method, path, status), n in sorted(self._requests.items()):
                out.append(
                    f'rag_http_requests_total{{method="{_label(method)}",path="{_label(path)}",'
                    f'status="{status}"}} {n}'
                )
            out += [
                "# HELP rag_http_request_duration_seconds Time to answer an HTTP request.",
                "# TYPE rag_http_request_duration_seconds histogram",
            ]
            for path, row in sorted(self._latency.items()):
                p = _label(path)
                for bound, n in zip(_BUCKETS, row):
                    out.append(
                        f'rag_http_request_duration_seconds_bucket{{path="{p}",le="{bound}"}} {n:.0f}'
                    )
                out.append(
                    f'rag_http_request_duration_seconds_bucket{{path="{p}",le="+Inf"}} {row[-1]:.0f}'
                )
                out.append(f'rag_http_request_duration_seconds_sum{{path="{p}"}} {row[-2]:.6f}')
                out.append(f'rag_http_request_duration_seconds_count{{path="{p}"}} {row[-1]:.0f}')
            out += [
                "# HELP rag_answers_total Questions answered or abstained on.",
                "# TYPE rag_answers_total counter",
            ]
            for outcome in ("answered", "abstained"):
                out.append(f'rag_answers_total{{outcome="{outcome}"}} {self._events[outcome]}')
            out += [
                "# HELP rag_index_reloads_total Index updates swapped in since start.",
                "# TYPE rag_index_reloads_total counter",
                f"rag_index_reloads_total {self._events['reindex']}",
            ]
        for name, (help_text, value) in gauges.items():
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(out) + "\n"


def settle_memory() -> None:
    """Keep the garbage collector off the loaded index: collect once, then freeze.

    A loaded 100x index is over a million Python objects. Python's cyclic collector walks
    every tracked object at each full collection (FULL_GC_MS below, measured), and requests'
    allocations trigger those now and then. Objects frozen here are never walked; the ones a
    swapped-out index leaves are released by their reference counts (an index holds no
    reference cycles), and the next call unfreezes first.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    # a question allocates some thousands of short-lived objects: collect the young
    # generation every 20,000 allocations rather than every 700 (about 4% of the CPU)
    gc.set_threshold(20_000, 20, 20)
