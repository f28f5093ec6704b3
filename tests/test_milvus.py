"""The Milvus store (index/milvus_store.py), for real against Milvus Lite embedded: the
sample corpus's vectors and BM25 in Milvus answer as the local store does, an update
switches the served version in one step, and a stale Milvus is refused, not mixed."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from eval.dataset import load_questions  # noqa: E402
from eval.retrieval import evaluate_retrieval  # noqa: E402
from index.milvus_store import DEFAULT_PREFIX, _alias_target, collection_name  # noqa: E402
from rag.indexing import build_index  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.reader.offline import OfflineReader  # noqa: E402

QUESTION = "天津港2023年的集装箱航线有多少条？"


@pytest.fixture(scope="module")
def milvus(tmp_path_factory, corpus_dir):
    root = tmp_path_factory.mktemp("milvus")
    corpus = root / "corpus"
    shutil.copytree(corpus_dir, corpus)
    uri = str(root / "milvus.db")
    build_index(corpus, root / "index", embedder="offline", milvus_uri=uri)
    return {"root": root, "corpus": corpus, "index": root / "index", "uri": uri}


def test_answers_from_milvus_match_the_local_store(milvus):
    local = Pipeline.over(milvus["index"], OfflineReader.load(), milvus_uri=None)
    remote = Pipeline.over(milvus["index"], OfflineReader.load(), milvus_uri=milvus["uri"])
    assert type(remote.retriever).__name__ == "MilvusRetriever"
    ans = remote.ask(QUESTION)
    assert ans.answer == "145条" and ans.evidence is not None
    questions = [q for q in load_questions() if q.split == "dev" and q.answerable]
    same = sum(remote.ask(q.question).answer == local.ask(q.question).answer for q in questions)
    assert same >= 0.9 * len(questions), f"{same} of {len(questions)}"


def test_milvus_retrieval_recall_on_the_dev_split(milvus):
    remote = Pipeline.over(milvus["index"], OfflineReader.load(), milvus_uri=milvus["uri"])
    dev = [q for q in load_questions() if q.split == "dev"]
    result = evaluate_retrieval(dev, remote.retriever.search, remote.store.originals)
    # measured: recall@1 0.933, @5 1.000 (the local store: 0.952, 1.000)
    assert result["groups"]["all"]["recall@5"] >= 0.97, result["groups"]["all"]


def test_an_update_switches_the_served_version_in_one_step(milvus):
    from pymilvus import MilvusClient

    removed = sorted(milvus["corpus"].glob("*.txt"))[-1]
    os.remove(removed)
    build_index(milvus["corpus"], milvus["index"], milvus_uri=milvus["uri"])
    pipe = Pipeline.over(milvus["index"], OfflineReader.load(), milvus_uri=milvus["uri"])
    client = MilvusClient(milvus["uri"])
    served = _alias_target(client, DEFAULT_PREFIX)
    assert served == collection_name(DEFAULT_PREFIX, pipe.store.version)
    # the previous version's collection is gone: nothing can mix two versions
    assert [c for c in client.list_collections() if c.startswith(DEFAULT_PREFIX + "_")] == [served]
    for p in pipe.retriever.search(QUESTION, 20):
        assert p.chunk.source != removed.name


def test_a_milvus_behind_the_local_index_is_refused(milvus):
    (milvus["corpus"] / "新增.txt").write_text(
        "翠屏山索道通车\n\n翠屏山索道于2024年9月1日正式通车，全长2.6公里。\n", encoding="utf-8"
    )
    build_index(milvus["corpus"], milvus["index"])  # the local index only: Milvus is behind
    with pytest.raises(ValueError, match="not the index version"):
        Pipeline.over(milvus["index"], OfflineReader.load(), milvus_uri=milvus["uri"])
    build_index(milvus["corpus"], milvus["index"], milvus_uri=milvus["uri"])  # unchanged: syncs
    pipe = Pipeline.over(milvus["index"], OfflineReader.load(), milvus_uri=milvus["uri"])
    assert pipe.ask("翠屏山索道全长多少公里？").answer == "2.6公里"
