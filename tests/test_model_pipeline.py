"""The sample corpus indexed with the installed model: retrieval, the service, other corpora.

Quality guards on the splits tuning may look at (`dev`, CMRC 2018 trial), not targets: the
targets and the `test` figures are reported by `rag eval` and `scripts/bench_dense.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.bench.support import side_search
from eval.dataset import load_questions
from eval.retrieval import evaluate_retrieval
from index.hybrid import FusionSettings, HybridRetriever, dense_weight_for
from index.local_models import E5_MODEL_NAME
from index.store import IndexStore

MRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrc"


@pytest.fixture(scope="module")
def store(model_index):
    return IndexStore.load(model_index)


def test_auto_built_the_index_with_the_model(store, installed_model):
    emb = store.manifest["embedder"]
    assert emb == {"name": E5_MODEL_NAME, "dim": 384, "offline": False}
    info = json.loads((store.folder / "st_embedder.json").read_text("utf-8"))
    assert info["local_path"] == str(installed_model) and info["query_prompt"] == "query: "
    assert store.manifest["settings"]["chunk_size"] == 320


def test_dev_retrieval_with_the_model(store):
    questions = [q for q in load_questions() if q.split == "dev"]
    r = HybridRetriever(store)
    assert r.settings.dense_weight == dense_weight_for(store.embedder, "score") == 12.0
    g = evaluate_retrieval(questions, r.search, store.originals)["groups"]["all"]
    # dev today: 0.952 / 1.000 / 1.000 (two questions' slack on recall@1, one elsewhere)
    assert g["recall@1"] >= 0.93 and g["recall@5"] >= 0.99 and g["article_hit@1"] >= 0.99, g


def test_fusion_weights_by_embedder(store, offline_index):
    assert HybridRetriever(IndexStore.load(offline_index)).settings.dense_weight == 0.2
    assert HybridRetriever(store, FusionSettings(method="rrf")).settings.dense_weight == 0.5
    assert HybridRetriever(store, FusionSettings(dense_weight=3.0)).settings.dense_weight == 3.0


def test_the_dense_side_alone_finds_a_paraphrase(store):
    """The model's side on its own (no BM25): a question in other words than its sentence
    (国庆长假 / 来了多少游客 for 十一期间 / 累计客流)."""
    dense = side_search(HybridRetriever(store), "dense")
    texts = [p.chunk.text for p in dense("国庆长假时古文化街来了多少游客", 5)]
    assert any("127.6" in t for t in texts)


def test_the_service_reports_and_uses_the_model(model_index):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(model_index, None, reader="offline")) as client:
        h = client.get("/health").json()
        assert h["embedder"]["name"] == E5_MODEL_NAME and h["embedder"]["offline"] is False
        assert h["embedder"]["backend"] in {"torch", "onnx", "onnx-int8"}
        ans = client.post("/ask", json={"question": "天津港2023年的集装箱航线有多少条？"}).json()
        assert ans["answer"] == "145条"
        assert ans["citations"][0]["source"].startswith("004_")


def test_other_writers_questions_on_other_articles(tmp_path):
    """CMRC 2018 trial (Wikipedia, questions written by other people; the tuning set for
    the fusion weight): the model's hybrid beats BM25 alone and finds the paragraph."""
    from eval.mrc import mrc_eval_set
    from rag.indexing import build_index

    rows = mrc_eval_set(MRC / "cmrc2018_trial.json", tmp_path, split="dev", max_articles=60)
    build_index(tmp_path / "corpus", tmp_path / "index", embedder="auto")
    store = IndexStore.load(tmp_path / "index")
    assert store.manifest["embedder"]["name"] == E5_MODEL_NAME
    questions = load_questions(tmp_path / "questions.jsonl")
    assert len(questions) == len(rows) > 200
    hybrid = HybridRetriever(store)

    bm25 = side_search(hybrid, "sparse")
    fused = evaluate_retrieval(questions, hybrid.search, store.originals)["groups"]["all"]
    alone = evaluate_retrieval(questions, bm25, store.originals)["groups"]["all"]
    assert fused["recall@1"] >= alone["recall@1"] + 0.02, (fused, alone)
    assert fused["recall@5"] >= 0.95 and fused["article_hit@1"] >= 0.97, fused
