"""The question answering pipeline: retrieve, read, quote the evidence, cite the article.

>>> pipe = Pipeline.load(Path("var/index"))  # doctest: +SKIP
>>> ans = pipe.ask("古文化街被誉为什么？")  # doctest: +SKIP
>>> ans.answer, ans.citations[0].title  # doctest: +SKIP
('津门故里', '…')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from rag.conversation import MAX_HISTORY, Turn, rewrite
from rag.question_rule import MAX_QUESTION_CHARS, QuestionError, check_question
from rag.reader import Reader, Reading, SpanGuess, make_reader
from rag.reader.folding import FoldedArticles, read_folded
from rag.text.lexicon import CLAUSE_BREAK
from rag.text.sentences import article_sentences
from rag.types import Answer, Article, Citation, Evidence, Passage

__all__ = ["MAX_QUESTION_CHARS", "Pipeline", "PipelineSettings", "QuestionError", "check_question"]


# a follow-up stays in the article the conversation is about when that article's passages
# are among the first FOLLOW_DEPTH retrieved for the completed question
FOLLOW_DEPTH = 20


@dataclass(frozen=True)
class PipelineSettings:
    read_k: int = 8  # passages given to the reader
    evidence_max: int = 160  # a longer "sentence" (PDF run-ons) is cut to the clauses around


class Pipeline:
    """An index plus a retriever plus a reader; thread-safe for questions once built."""

    def __init__(
        self,
        store,
        reader: Reader,
        settings: PipelineSettings | None = None,
        milvus_uri: str | None = None,
    ) -> None:
        self.store = store
        self.milvus_uri = milvus_uri
        if milvus_uri:  # the vectors and BM25 in Milvus (index/milvus_store.py)
            from index.milvus_store import MilvusRetriever

            self.retriever = MilvusRetriever(store, milvus_uri)
        else:
            from index.hybrid import HybridRetriever

            self.retriever = HybridRetriever(store)
        self.reader = reader
        self.settings = settings or PipelineSettings()
        self._folded = FoldedArticles()

    @classmethod
    def load(cls, index_dir: Path, reader: str = "auto") -> Pipeline:
        return cls.over(index_dir, make_reader(reader))

    @classmethod
    def over(
        cls,
        index_dir: Path,
        reader: Reader,
        settings: PipelineSettings | None = None,
        milvus_uri: str | None = None,
    ) -> Pipeline:
        """The index live in ``index_dir`` (as loaded now) with this reader and settings;
        searched in Milvus at ``milvus_uri`` (default ``RAG_MILVUS_URI``) when there is one."""
        from index.store import IndexStore
        from rag.settings import load_settings

        uri = milvus_uri or load_settings().milvus_uri
        return cls(IndexStore.load(Path(index_dir)), reader, settings, uri)

    def reloaded(self, index_dir: Path) -> Pipeline:
        """The index live in ``index_dir`` now, read with this pipeline's reader and settings."""
        return Pipeline.over(index_dir, self.reader, self.settings, self.milvus_uri)

    def warm_up(self) -> Pipeline:
        """Load what the first question would otherwise wait for (jieba's dictionary, the
        index's memory-mapped arrays)."""
        self.store.prefetch()
        self.ask("预热：天津的人口有多少？")
        return self

    # -- what is served ----------------------------------------------------------------
    @property
    def version(self) -> str:
        """The index version this pipeline answers from."""
        return self.store.version

    @property
    def sources(self) -> dict[str, str]:
        """The indexed corpus files (names relative to the corpus folder) and fingerprints."""
        return self.store.manifest.get("sources", {})

    @property
    def embedder_spec(self) -> str:
        """The ``embedder`` argument that rebuilds this index with the same embedder."""
        emb = self.store.embedder
        return "offline" if getattr(emb, "offline", False) else emb.name

    @cached_property
    def pure_python(self) -> bool:
        """Whether a question runs on Python alone (no model releases the GIL meanwhile)."""
        return bool(self.reader.offline and self.store.embedder.offline)

    def describe(self) -> dict[str, Any]:
        """What is served: sizes, version, build time, embedder and reader."""
        store, emb = self.store, self.store.embedder
        return {
            "article_count": len(store.articles),
            "chunk_count": len(store.chunks),
            "index_version": store.version,
            "index_built": store.manifest.get("build_time"),
            "embedder": {
                "name": emb.name,
                "offline": bool(emb.offline),
                "backend": getattr(emb, "backend_used", None),
            },
            "reader": {
                "name": self.reader.name,
                "offline": bool(self.reader.offline),
                "backend": getattr(self.reader, "backend_used", None),
                "note": getattr(self.reader, "note", None),
            },
        }

    @cached_property
    def _articles_in_order(self) -> list[Article]:
        return sorted(self.store.articles.values(), key=lambda a: (a.source, a.start))

    def articles(self, title_part: str | None = None) -> list[Article]:
        """The articles in corpus order; with ``title_part``, those whose title holds it
        (whitespace and case ignored)."""
        needle = "".join((title_part or "").split()).casefold()
        return [a for a in self._articles_in_order if needle in "".join(a.title.split()).casefold()]

    def article(self, article_id: str) -> tuple[Article, str] | None:
        """An article and its source file's text from its start to its end, or None."""
        article = self.store.articles.get(article_id)
        if article is None:
            return None
        return article, self.store.originals.get(article.source, "")[article.start : article.end]

    # -- questions ---------------------------------------------------------------------
    def ask(self, question: str, top_k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        """Answer ``question`` (refused with :class:`QuestionError` by :func:`check_question`);
        with ``history``, a follow-up is first completed from it (:mod:`rag.conversation`)."""
        return self.answer(check_question(question), top_k, history)

    def answer(self, question: str, top_k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        """Answer a question that :func:`check_question` has already accepted and returned;
        a follow-up of ``history`` is answered as completed, and says so (``understood_as``)."""
        if history:
            understood = rewrite(question, history[-MAX_HISTORY:])
            if understood.changed:
                done = self._answer(understood.question, top_k, history[-1].article_id)
                return replace(done, question=question, understood_as=understood.question)
        return self._answer(question, top_k, None)

    def _answer(self, question: str, top_k: int, stay_in: str | None) -> Answer:
        """Retrieve, read, compose; with ``stay_in`` (a follow-up's previous article) that
        article's passages among the first :data:`FOLLOW_DEPTH` retrieved are read first."""
        top_k = max(1, min(int(top_k), 50))
        t0 = time.perf_counter()
        want = max(top_k, self.settings.read_k)
        if stay_in:
            found = self.retriever.search(question, max(want, FOLLOW_DEPTH))
            passages = sorted(found, key=lambda p: p.chunk.article_id != stay_in)[:want]
        else:
            passages = self.retriever.search(question, want)
        t1 = time.perf_counter()
        reading = self.read(question, passages[: self.settings.read_k])
        t2 = time.perf_counter()
        answer = self.compose(question, passages, reading, top_k)
        timings = {
            "retrieve": (t1 - t0) * 1000,
            "read": (t2 - t1) * 1000,
            "total": (time.perf_counter() - t0) * 1000,
        }
        return replace(answer, timings_ms=timings)

    def read(self, question: str, passages: list[Passage]) -> Reading:
        """The reader's reading, in the script the index matches in: an index built with
        folding has the question and passages folded to Simplified for the reader (same
        offsets), and the guesses come back in the article's own characters."""
        if not self.store.folds:
            return self.reader.read(question, passages)
        return read_folded(self.reader, question, passages, self._folded)

    def compose(
        self, question: str, passages: list[Passage], reading: Reading, top_k: int
    ) -> Answer:
        shown = tuple(passages[:top_k])
        base = dict(
            question=question,
            passages=shown,
            answer_type=reading.answer_type,
            reader=self.reader.name,
            index_version=self.store.version,
            confidence=float(reading.confidence),
        )
        if not reading.guesses:
            return Answer(answer=None, **base)
        best = reading.guesses[0]
        article = passages[best.passage].article
        original = self.store.originals.get(article.source) if article else None
        if article is None or original is None:
            return Answer(answer=None, best_guess=best.text, **base)
        evidence = self.evidence(article, best, original)
        answer_text = original[evidence.answer_start : evidence.answer_end]
        if reading.confidence < reading.threshold:
            return Answer(answer=None, best_guess=answer_text, **base)
        return Answer(
            answer=answer_text,
            evidence=evidence,
            citations=(Citation.of(article),),
            best_guess=answer_text,
            **base,
        )

    def evidence(self, article: Article, guess: SpanGuess, original: str) -> Evidence:
        """The sentence around the span, quoted from the original file with exact offsets."""
        s, e = guess.start, guess.end
        sent = next(((a, b) for a, b in article_sentences(article.text) if a <= s < b), (s, e))
        a, b = sent[0], max(sent[1], e)
        limit = self.settings.evidence_max
        if b - a > limit:  # keep whole clauses around the answer
            cuts = [m.end() for m in CLAUSE_BREAK.finditer(article.text, a, b)]
            left = [c for c in cuts if c <= s and s - c <= limit // 2]
            right = [c for c in cuts if c >= e and c - e <= limit // 2]
            a = min(left) if left else max(a, s - limit // 2)
            b = max(right) if right else min(b, e + limit // 2)
        while a < s and article.text[a] in " \n\t":
            a += 1
        while b > e and article.text[b - 1] in " \n\t":
            b -= 1
        os_, oe = article.original_span(a, b)
        as_, ae = article.original_span(s, e)
        return Evidence(original[os_:oe], article.source, os_, oe, as_, ae)
