"""From a corpus folder to articles and chunks: the first half of the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.chunking import Chunker
from rag.ingest.loaders import load_corpus
from rag.ingest.segment import ArticleSegmenter
from rag.types import Article, Chunk, Document


@dataclass
class Corpus:
    """The loaded documents with their articles and chunks.

    >>> corpus = Corpus.from_folder("../shared/corpus")  # doctest: +SKIP
    >>> len(corpus.articles)  # doctest: +SKIP
    100
    """

    root: Path
    documents: dict[str, Document]
    articles: list[Article]
    chunks: list[Chunk]

    @classmethod
    def from_folder(
        cls,
        root: str | Path,
        *,
        segmenter: ArticleSegmenter | None = None,
        chunker: Chunker | None = None,
        on_skip: Callable[[str, str], None] | None = None,
    ) -> Corpus:
        root = Path(root)
        docs = load_corpus(root, on_skip=on_skip)
        return cls.from_documents(root, docs, segmenter=segmenter, chunker=chunker)

    @classmethod
    def from_documents(
        cls,
        root: Path,
        docs: list[Document],
        *,
        segmenter: ArticleSegmenter | None = None,
        chunker: Chunker | None = None,
    ) -> Corpus:
        segmenter = segmenter or ArticleSegmenter()
        chunker = chunker or Chunker()
        articles = [a for d in docs for a in segmenter.segment(d)]
        return cls(
            root=root,
            documents={d.source: d for d in docs},
            articles=articles,
            chunks=chunker.chunk_all(articles),
        )
