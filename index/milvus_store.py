"""The search side of an index in Milvus: chunk vectors and Milvus's own BM25 full-text
search (jieba analyzer), behind the same ``search(question, k)`` as
:class:`index.hybrid.HybridRetriever`.

What stays in the index folder: the articles, the chunks' text and offsets, the original
texts and the embedder (answers are read and quoted from them as always). What moves to
Milvus: the vectors and the word statistics, so the part that grows with the corpus and is
searched on every question can live on a cluster.

Each index version is written to a collection of its own (``<prefix>_<version>``), then the
alias ``<prefix>`` is switched to it in one step (Milvus aliases switch atomically), and
older collections are dropped: a question is answered from one version, never a mix. The
vectors are taken from the local index, so an update embeds only new chunks, as locally.

``uri`` is a Milvus Lite file (``var/milvus.db``: Milvus embedded, no server) or a server /
cluster address (``http://host:19530``); the same code talks to both.

>>> sync_to_milvus(IndexStore.load("var/index"), "var/milvus.db")  # doctest: +SKIP
'rag_v_20261208_0101_1'
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from index.hybrid import FusionSettings, HybridRetriever
from index.layout import index_text
from index.store import IndexStore

DEFAULT_PREFIX = "rag"
BATCH = 500


def _client(uri: str):
    try:
        from pymilvus import MilvusClient
    except ImportError as e:
        raise ImportError("the milvus store needs pymilvus (pip install 'rag-zh[milvus]')") from e
    return MilvusClient(uri)


def collection_name(prefix: str, version: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', version)}"


def sync_to_milvus(store: IndexStore, uri: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Write ``store``'s version to Milvus and switch the alias ``prefix`` to it."""
    from pymilvus import DataType, Function, FunctionType

    client = _client(uri)
    name = collection_name(prefix, store.version)
    if client.has_collection(name):
        client.drop_collection(name)  # a half-written one from a killed sync
    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field(
        "text",
        DataType.VARCHAR,
        max_length=8192,
        enable_analyzer=True,
        analyzer_params={"tokenizer": "jieba"},
    )
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=int(store.vectors.shape[1]))
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=index)
    vectors = np.asarray(store.vectors, dtype=np.float32)
    for s in range(0, len(store.chunks), BATCH):
        rows = [
            {"row": i, "text": index_text(c)[:8000], "dense": vectors[i].tolist()}
            for i, c in enumerate(store.chunks[s : s + BATCH], start=s)
        ]
        client.insert(name, rows)
    client.flush(name)
    client.load_collection(name)
    if _alias_target(client, prefix) is None:
        client.create_alias(collection_name=name, alias=prefix)
    else:
        client.alter_alias(collection_name=name, alias=prefix)  # one atomic switch
    for old in client.list_collections():
        if old != name and old.startswith(prefix + "_"):
            client.drop_collection(old)
    return name


def _alias_target(client: Any, alias: str) -> str | None:
    """The collection the alias names, or None (looked up without provoking pymilvus's
    logged error for an unknown alias)."""
    for name in client.list_collections():
        if alias in client.list_aliases(collection_name=name).get("aliases", []):
            return name
    return None


def ensure_synced(store: IndexStore, uri: str, prefix: str = DEFAULT_PREFIX) -> None:
    """Sync ``store`` unless Milvus already serves its version."""
    if _alias_target(_client(uri), prefix) != collection_name(prefix, store.version):
        sync_to_milvus(store, uri, prefix)


class MilvusRetriever(HybridRetriever):
    """Hybrid search with the vectors and BM25 in Milvus; the fusion, the article limit and
    the passages as :class:`HybridRetriever` makes them."""

    def __init__(
        self,
        store: IndexStore,
        uri: str,
        prefix: str = DEFAULT_PREFIX,
        settings: FusionSettings | None = None,
    ) -> None:
        super().__init__(store, settings)
        self.client = _client(uri)
        self.alias = prefix
        served = _alias_target(self.client, prefix)
        if served != collection_name(prefix, store.version):
            raise ValueError(
                f"Milvus at {uri} serves {served!r}, not the index version {store.version}: "
                f"run `rag index build … --milvus-uri {uri}` again"
            )
        self.client.load_collection(served)  # a collection is searched once loaded (idempotent)

    def _candidates(
        self, question: str, depth: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tokens = self.store.tokenizer.tokens(question)
        q = self.store.embedder.embed_query(question, tokens=tokens)
        dense = self.client.search(
            self.alias, data=[q.tolist()], anns_field="dense", limit=depth, output_fields=[]
        )[0]
        sparse = self.client.search(
            self.alias, data=[question], anns_field="sparse", limit=depth, output_fields=[]
        )[0]
        d_ids = np.array([h["row"] for h in dense], dtype=np.int64)
        s_ids = np.array([h["row"] for h in sparse], dtype=np.int64)
        # Milvus Lite reports BM25 as a negated distance: the magnitude is the score
        s_scores = np.array([abs(float(h["distance"])) for h in sparse], dtype=np.float32)
        return d_ids, s_ids, s_scores, q
