"""The index a long-running service answers from: corpus writes, re-indexing, atomic swaps.

Questions read :attr:`LiveIndex.pipeline` once and keep that pipeline to the end of the
question. A write (upload or delete) saves the corpus change, updates the index on disk with
:func:`rag.indexing.build_index`, builds a complete new :class:`~rag.pipeline.Pipeline` and
only then swaps the reference, so no question ever sees a half-updated index. Writers are
serialised by one lock.

>>> live = LiveIndex(pipeline, Path("var/index"), Path("corpus"))  # doctest: +SKIP
>>> live.add_documents([("新闻.txt", "标题\\n正文……".encode())])  # doctest: +SKIP
{'added': ['新闻.txt'], 'changed': [], 'removed': [], ...}
"""

from __future__ import annotations

import enum
import gc
import logging
import os
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from index.store import IndexStore
from rag.indexing import build_index
from rag.ingest.loaders import SUPPORTED, CorpusError, UnreadableFile, load_file
from rag.pipeline import Pipeline

log = logging.getLogger("rag.live_index")

MAX_NAME_BYTES = 200
_UNSAFE_CHARS = set('<>:"|?*')  # harmless on Linux, but the corpus folder may be shared


class Refusal(enum.Enum):
    """Why a corpus write is refused."""

    BAD_NAME = "bad name"  # a file name or path that cannot be used
    UNSUPPORTED = "unsupported"  # a file type the loaders do not read
    UNREADABLE = "unreadable"  # a file that does not load as a document
    CONFLICT = "conflict"  # the corpus's state forbids it (a folder there, the last file)
    NOT_FOUND = "not found"  # no such document in the index
    NO_CORPUS = "no corpus"  # the service was started without a corpus folder


class WriteError(Exception):
    """A corpus write that cannot be done; ``reason`` says why, ``detail`` in words."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def safe_filename(raw: str | None) -> str:
    """Reduce an uploaded file name to a plain basename, or raise :class:`WriteError`.

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
        raise WriteError(Refusal.BAD_NAME, f"unusable file name {raw!r}")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise WriteError(
            Refusal.BAD_NAME, f"file name too long (over {MAX_NAME_BYTES} bytes): {name[:40]!r}…"
        )
    return name


def check_file_type(name: str) -> None:
    """Refuse a file name whose suffix the loaders do not read."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        allowed = ", ".join(sorted(SUPPORTED))
        raise WriteError(
            Refusal.UNSUPPORTED,
            f"unsupported file type {suffix or '(none)'!r} for {name!r}; allowed: {allowed}",
        )


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refused unless it resolves to a path inside ``root``."""
    target = root / relative
    if not target.resolve().is_relative_to(root):
        raise WriteError(Refusal.BAD_NAME, f"{relative!r} is outside the corpus folder")
    return target


def _hidden_sibling(path: Path, tag: str) -> Path:
    # a leading dot keeps it out of the corpus walk (rag.ingest.loaders.iter_corpus skips dotfiles)
    return path.with_name(f".{tag}-{uuid.uuid4().hex[:12]}{path.suffix}")


def _write_atomic(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def settle_memory() -> None:
    """Keep the garbage collector off the loaded index: collect once, then freeze.

    A loaded large index is over a million Python objects, and every full collection of the
    cyclic collector walks each tracked one. Objects frozen here are never walked; the ones
    a swapped-out index leaves are released by their reference counts (an index holds no
    reference cycles), and the next call unfreezes first.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    # a question allocates some thousands of short-lived objects: collect the young
    # generation every 20,000 allocations rather than every 700
    gc.set_threshold(20_000, 20, 20)


class LiveIndex:
    """The loaded pipeline (swapped atomically on writes) plus the corpus it was built from.

    ``on_swap`` is called after each new index is swapped in (the service counts them).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        index_dir: Path,
        corpus_dir: Path | None = None,
        on_swap: Callable[[], None] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._swap = threading.Lock()
        self.write_lock = threading.Lock()
        self.index_dir = Path(index_dir)
        self.corpus_dir = Path(corpus_dir).resolve() if corpus_dir else None
        self._on_swap = on_swap
        self._checked = time.monotonic()

    @classmethod
    def open(
        cls,
        index_dir: Path,
        reader: str = "auto",
        corpus_dir: Path | None = None,
        on_swap: Callable[[], None] | None = None,
    ) -> LiveIndex:
        """Load the index in ``index_dir``, warm it up and settle memory: ready to serve."""
        pipeline = Pipeline.load(index_dir, reader).warm_up()
        live = cls(pipeline, index_dir, corpus_dir, on_swap)
        settle_memory()
        return live

    @property
    def pipeline(self) -> Pipeline:
        with self._swap:
            return self._pipeline

    def _replace(self, pipeline: Pipeline) -> None:
        with self._swap:
            self._pipeline = pipeline
        if self._on_swap is not None:
            self._on_swap()
        settle_memory()

    # -- an index rebuilt outside (``rag index build``) -----------------------------------
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
        if live == self.pipeline.version:
            self._checked = now
            return False
        return True

    def refresh(self, every: float = 2.0) -> None:
        """Pick up an index rebuilt outside the service, at most every ``every`` seconds;
        never while the service itself is writing."""
        now = time.monotonic()
        if now - self._checked < every or not self.write_lock.acquire(blocking=False):
            return
        try:
            self._checked = now
            old = self.pipeline
            if IndexStore.live_version(self.index_dir).name != old.version:
                new = old.reloaded(self.index_dir)
                self._replace(new)
                log.info("loaded index version %s built outside the service", new.version)
        except Exception as e:  # noqa: BLE001 - a broken rebuild must not take the service down
            log.warning("index on disk not loaded (keeping %s): %s", self.pipeline.version, e)
        finally:
            self.write_lock.release()

    # -- writes ----------------------------------------------------------------------
    def _corpus(self) -> Path:
        if self.corpus_dir is None or not self.corpus_dir.is_dir():
            raise WriteError(
                Refusal.NO_CORPUS,
                "no corpus folder configured: start the service with a corpus folder",
            )
        return self.corpus_dir

    def _reindex(self) -> dict[str, Any]:
        """Update the index on disk, then load and swap in a complete new pipeline."""
        old = self.pipeline
        report = build_index(self._corpus(), self.index_dir, embedder=old.embedder_spec)
        if report.version != old.version:
            self._replace(old.reloaded(self.index_dir))
        out = asdict(report)
        out["article_count"] = self.pipeline.describe()["article_count"]
        return out

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
            raise WriteError(Refusal.BAD_NAME, "the same file name appears twice in one upload")
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
            raise WriteError(Refusal.CONFLICT, f"{name!r} is a folder or a link in the corpus")
        tmp = _hidden_sibling(target, "upload")
        _write_atomic(tmp, data)
        try:  # a binary file under a .txt name fails here, before anything is moved in
            load_file(tmp, corpus)
        except (UnreadableFile, OSError) as e:
            tmp.unlink(missing_ok=True)
            raise WriteError(
                Refusal.UNREADABLE, f"{name!r} cannot be read as a document: {e}"
            ) from e
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
            if source not in self.pipeline.sources:
                raise WriteError(Refusal.NOT_FOUND, f"no document {source!r} in the index")
            target = _inside(corpus, source)
            backup = _hidden_sibling(target, "deleted")
            if target.is_file():
                os.replace(target, backup)
            try:
                report = self._reindex()
            except CorpusError as e:
                self._restore(backup, target)
                raise WriteError(Refusal.CONFLICT, f"cannot remove {source!r}: {e}") from e
            except BaseException:
                self._restore(backup, target)
                raise
            backup.unlink(missing_ok=True)
        return report

    @staticmethod
    def _restore(backup: Path, target: Path) -> None:
        if backup.exists():
            os.replace(backup, target)
