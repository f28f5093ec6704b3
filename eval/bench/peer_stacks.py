"""The stacks of the peer comparison (``scripts/bench_peer.py``): ours and three peers that
retrieve over the same chunks in their own way, all answering with our offline reader.

See the script's docstring for what each stack is and why they are compared this way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.bench.support import jieba_segment, jieba_words
from rag.pipeline import Pipeline
from rag.types import Answer, Passage

READ_K = 8  # passages the reader reads (PipelineSettings.read_k)
TOP_K = 5  # passages an Answer shows (the /ask default)


@dataclass
class Result:
    answer: Answer
    retrieve_ms: float
    read_ms: float
    total_ms: float


class Stack:
    """Something that answers a question and can search; timed end to end by the caller."""

    name = ""
    what = ""
    pipe: Pipeline

    def ask(self, question: str) -> Result:
        """The stack's own retrieval (``search``), then our reader and citation: both timed."""
        t0 = time.perf_counter()
        passages = self.search(question, READ_K)
        t1 = time.perf_counter()
        answer = read_and_compose(self.pipe, question, passages)
        t2 = time.perf_counter()
        return Result(answer, (t1 - t0) * 1000, (t2 - t1) * 1000, (t2 - t0) * 1000)

    def search(self, question: str, k: int) -> list[Passage]:
        raise NotImplementedError


class Ours(Stack):
    name = "ours"
    what = "Pipeline.ask: HybridRetriever (BM25 + FAISS/LSA, score fusion) → offline reader"

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe

    def ask(self, question: str) -> Result:
        t0 = time.perf_counter()
        ans = self.pipe.ask(question, top_k=TOP_K)
        total = (time.perf_counter() - t0) * 1000
        return Result(ans, ans.timings_ms["retrieve"], ans.timings_ms["read"], total)

    def search(self, question: str, k: int) -> list[Passage]:
        return self.pipe.retriever.search(question, k)


def read_and_compose(pipe: Pipeline, question: str, passages: list[Passage]) -> Answer:
    """Our answer step on someone else's passages: reader, then evidence and citation."""
    reading = pipe.read(question, passages[:READ_K])
    return pipe.compose(question, passages, reading, TOP_K)


def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(60)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def _search_words(tok: Any) -> Callable[[str], list[str]]:
    """The ensemble recipe's BM25 terms: jieba search-mode words of the lower-cased text, without
    punctuation (the ``ensemble`` imitation and the real ``langchain`` stack share it)."""
    return lambda text: jieba_words(tok, text)


class HaystackStack(Stack):
    name = "haystack"
    what = (
        "Haystack Pipeline: jieba query → InMemoryBM25Retriever (BM25L, jieba-fed docs, top_k 8) "
        "→ our reader as a component"
    )

    def __init__(self, pipe: Pipeline) -> None:
        from haystack import Document, component
        from haystack import Pipeline as HPipeline
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        store = pipe.store
        tok = _jieba()
        self.segment = lambda text: jieba_segment(tok, text)
        position = {c.id: i for i, c in enumerate(store.chunks)}
        t0 = time.perf_counter()
        self.doc_store = InMemoryDocumentStore(bm25_tokenization_regex=r"\S+")
        self.doc_store.write_documents(
            [
                Document(
                    id=c.id,
                    content=self.segment(c.text),
                    meta={"chunk_id": c.id, "article_id": c.article_id, "source": c.source},
                )
                for c in store.chunks
            ]
        )
        self.setup_s = time.perf_counter() - t0
        self.retriever = InMemoryBM25Retriever(document_store=self.doc_store, top_k=READ_K)
        segment = self.segment
        timing: dict[str, float] = {}
        self.timing = timing

        def to_passages(docs: Sequence[Any]) -> list[Passage]:
            out = []
            for d in docs:
                chunk = store.chunks[position[d.meta["chunk_id"]]]
                out.append(Passage(chunk, float(d.score or 0.0), store.articles[chunk.article_id]))
            return out

        self.to_passages = to_passages

        @component
        class JiebaQuery:
            """The question as space-joined jieba search-mode words (BM25 needs words)."""

            @component.output_types(query=str)
            def run(self, question: str) -> dict[str, str]:
                return {"query": segment(question)}

        @component
        class OurReader:
            """Haystack documents → our Passages → OfflineReader → our Answer."""

            @component.output_types(answer=Answer)
            def run(self, question: str, documents: list[Document]) -> dict[str, Answer]:
                t = time.perf_counter()
                answer = read_and_compose(pipe, question, to_passages(documents))
                timing["read_ms"] = (time.perf_counter() - t) * 1000
                return {"answer": answer}

        self.pipeline = HPipeline()
        self.pipeline.add_component("query", JiebaQuery())
        self.pipeline.add_component("retriever", self.retriever)
        self.pipeline.add_component("reader", OurReader())
        self.pipeline.connect("query.query", "retriever.query")
        self.pipeline.connect("retriever.documents", "reader.documents")

    def ask(self, question: str) -> Result:
        t0 = time.perf_counter()
        out = self.pipeline.run({"query": {"question": question}, "reader": {"question": question}})
        total = (time.perf_counter() - t0) * 1000
        read = self.timing["read_ms"]
        return Result(out["reader"]["answer"], total - read, read, total)

    def search(self, question: str, k: int) -> list[Passage]:
        docs = self.retriever.run(query=self.segment(question), top_k=k)["documents"]
        return self.to_passages(docs)


class EnsembleStack(Stack):
    name = "ensemble"
    what = (
        "LangChain-style EnsembleRetriever: rank_bm25 BM25Okapi (jieba) + FAISS IndexFlatL2 "
        "(offline LSA vectors of chunk text), 8 each, weighted RRF 0.5/0.5, c=60 → our reader"
    )

    def __init__(self, pipe: Pipeline, weights: tuple[float, float] = (0.5, 0.5), c: int = 60):
        import faiss
        from rank_bm25 import BM25Okapi

        store = pipe.store
        self.pipe, self.store, self.weights, self.c = pipe, store, weights, c
        self.tokenize = tokenize = _search_words(_jieba())
        t0 = time.perf_counter()
        self.bm25 = BM25Okapi([tokenize(ch.text) for ch in store.chunks])
        vectors = np.ascontiguousarray(
            store.embedder.embed_passages([ch.text for ch in store.chunks]), dtype=np.float32
        )
        self.faiss = faiss.IndexFlatL2(vectors.shape[1])
        self.faiss.add(vectors)
        self.setup_s = time.perf_counter() - t0

    def _bm25(self, question: str, k: int) -> list[int]:
        scores = self.bm25.get_scores(self.tokenize(question))
        return [int(i) for i in np.argsort(scores)[::-1][:k]]  # rank_bm25 get_top_n

    def _dense(self, question: str, k: int) -> list[int]:
        q = np.ascontiguousarray(self.store.embedder.embed_query(question), dtype=np.float32)
        _, ids = self.faiss.search(q.reshape(1, -1), k)
        return [int(i) for i in ids[0] if i >= 0]

    def search(self, question: str, k: int) -> list[Passage]:
        each = max(k, READ_K)
        fused: dict[int, float] = {}
        for w, ids in zip(self.weights, (self._bm25(question, each), self._dense(question, each))):
            for rank, i in enumerate(ids, start=1):
                fused[i] = fused.get(i, 0.0) + w / (rank + self.c)
        order = sorted(fused, key=lambda i: -fused[i])[:k]
        chunks, arts = self.store.chunks, self.store.articles
        return [Passage(chunks[i], fused[i], arts[chunks[i].article_id]) for i in order]


LANGCHAIN_INSTALL = ".venv/bin/pip install -e '.[bench]'"  # langchain-classic, langchain-community


class LangChainStack(Stack):
    name = "langchain"
    what = (
        "LangChain itself: EnsembleRetriever (langchain-classic) over BM25Retriever (rank_bm25 "
        "BM25Okapi, jieba preprocess_func) + FAISS vector store retriever (IndexFlatL2, offline LSA "
        "vectors of chunk text), k 8 each, weights 0.5/0.5, c=60, retriever.invoke → our reader"
    )

    def __init__(self, pipe: Pipeline, weights: tuple[float, float] = (0.5, 0.5)) -> None:
        try:  # langchain >= 1.0 moved the classic retrievers out of the langchain package
            from langchain_classic.retrievers import EnsembleRetriever
        except ImportError as e:
            try:
                from langchain.retrievers import EnsembleRetriever
            except ImportError:
                raise e from None
        from langchain_community.retrievers import BM25Retriever
        from langchain_community.vectorstores import FAISS
        from langchain_core.documents import Document
        from langchain_core.embeddings import Embeddings

        store = pipe.store
        embedder = store.embedder

        class OfflineEmbeddings(Embeddings):
            """Our offline embedder as LangChain ``Embeddings`` (nothing to download)."""

            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return embedder.embed_passages(list(texts)).tolist()

            def embed_query(self, text: str) -> list[float]:
                return embedder.embed_query(text).tolist()

        self.pipe, self.store = pipe, store
        self.weights = list(weights)
        self._Ensemble, self._retrievers = EnsembleRetriever, {}
        tokenize = _search_words(_jieba())
        t0 = time.perf_counter()
        # metadata["chunk"]: the chunk's position in store.chunks, to map the documents back
        docs = [
            Document(page_content=c.text, metadata={"chunk": i, "chunk_id": c.id}, id=c.id)
            for i, c in enumerate(store.chunks)
        ]
        self.bm25 = BM25Retriever.from_documents(docs, preprocess_func=tokenize, k=READ_K)
        texts = [d.page_content for d in docs]
        self.vectorstore = FAISS.from_embeddings(
            zip(texts, embedder.embed_passages(texts)),
            OfflineEmbeddings(),
            metadatas=[d.metadata for d in docs],
            ids=[d.id for d in docs],
        )  # distance_strategy: the default, EUCLIDEAN_DISTANCE (IndexFlatL2)
        self._retriever(READ_K)  # built as part of the setup: every question uses it
        self.setup_s = time.perf_counter() - t0

    def _retriever(self, k: int) -> Any:
        """The ensemble with both retrievers at ``k`` (READ_K for ``ask``; more for recall@20)."""
        if k not in self._retrievers:
            bm25 = self.bm25 if k == self.bm25.k else self.bm25.model_copy(update={"k": k})
            dense = self.vectorstore.as_retriever(search_kwargs={"k": k})
            self._retrievers[k] = self._Ensemble(retrievers=[bm25, dense], weights=self.weights)
        return self._retrievers[k]

    def _passages(self, docs: Sequence[Any]) -> list[Passage]:
        # EnsembleRetriever returns the fused order without its scores: 1/(rank+1) stands in
        chunks, arts = self.store.chunks, self.store.articles
        out = []
        for rank, d in enumerate(docs):
            chunk = chunks[d.metadata["chunk"]]
            out.append(Passage(chunk, 1.0 / (rank + 1), arts[chunk.article_id]))
        return out

    def search(self, question: str, k: int) -> list[Passage]:
        return self._passages(self._retriever(max(k, READ_K)).invoke(question)[:k])


def make_stacks(pipe: Pipeline) -> tuple[list[Stack], dict[str, float], str]:
    """Ours and the peers; their set-up times; why the LangChain stack is missing, if it is."""
    ours = Ours(pipe)
    hay = HaystackStack(pipe)
    ens = EnsembleStack(pipe)
    stacks: list[Stack] = [ours, hay, ens]
    setup = {"ours": 0.0, "haystack": hay.setup_s, "ensemble": ens.setup_s}
    skipped = ""
    try:
        lc = LangChainStack(pipe)
    except ImportError as e:  # the bench extra without LangChain (or an older install)
        skipped = (
            f"the langchain stack was skipped: LangChain is not installed ({e}); install it "
            f"with `{LANGCHAIN_INSTALL}` (langchain-classic and langchain-community)"
        )
        print(skipped, flush=True)
    else:
        stacks.append(lc)
        setup["langchain"] = lc.setup_s
    return stacks, setup, skipped
