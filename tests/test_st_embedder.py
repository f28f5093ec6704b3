"""SentenceTransformerEmbedder and resolve_local_model, with a tiny randomly initialised model."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("torch")

from index.embedders import OfflineEmbedder, make_embedder  # noqa: E402
from index.local_models import resolve_local_model  # noqa: E402
from index.st_embedder import (  # noqa: E402
    BGE_ZH_QUERY_PROMPT,
    SentenceTransformerEmbedder,
    default_prompts,
)

CORPUS_FILE = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "003_c0fa0c3c18fd1ce0.txt"

TEXTS = [
    "坚定信心真抓实干",
    "敢作敢为善作善成",
    "学习贯彻党的二十届三中全会精神",
    "思想深邃，内涵丰富",
    "重要讲话",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer BERT over the corpus characters, saved as a sentence-transformers folder."""
    from tiny_bert import tiny_bert
    from transformers import BertModel

    try:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # older sentence-transformers
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.models import Pooling, Transformer

    root = tmp_path_factory.mktemp("tiny_st")
    bert_dir = root / "bert"
    bert_dir.mkdir()
    text = CORPUS_FILE.read_text(encoding="utf-8")[:3000]
    # plus ASCII letters (whole-word and "##" pieces) so that "query: " and "passage: "
    # tokenise differently; with only [UNK] for them the two prompts would look the same
    letters = "abcdefghijklmnopqrstuvwxyz"
    ascii_tokens = [*letters, ":", *("##" + c for c in letters)]
    tiny_bert(bert_dir, text, BertModel, ascii_tokens, positions=128)

    transformer = Transformer(str(bert_dir), max_seq_length=64)
    pooling = Pooling(32, "mean")
    st_dir = root / "tiny-model"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(st_dir))
    return st_dir


def test_vectors_are_normalised_float32(tiny_model):
    e = SentenceTransformerEmbedder("tiny-model", local_path=str(tiny_model))
    assert not e.loaded  # construction is cheap: nothing loaded yet
    assert e.name == "tiny-model" and e.offline is False
    assert e.dim == 32
    m = e.embed_passages(TEXTS)
    assert m.dtype == np.float32 and m.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    q = e.embed_query(TEXTS[0])
    assert q.dtype == np.float32 and q.shape == (32,)
    assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-5
    assert e.embed_passages([]).shape == (0, 32)
    assert e.fit_chunks(TEXTS, None) is None  # pretrained: nothing learned from the corpus
    np.testing.assert_allclose(e.embed_chunks(TEXTS, None), m, atol=1e-6)


def test_batching_matches_one_by_one(tiny_model):
    e = SentenceTransformerEmbedder("tiny-model", local_path=str(tiny_model), batch_size=2)
    batched = e.embed_passages(TEXTS)
    single = np.stack([e.embed_passages([t])[0] for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    # no prompts for an unknown family: query and passage vectors coincide
    assert e.query_prompt == "" and e.passage_prompt == ""
    np.testing.assert_allclose(e.embed_query(TEXTS[2]), batched[2], atol=1e-5)


def test_e5_prompts_are_applied(tiny_model):
    e = SentenceTransformerEmbedder("intfloat/multilingual-e5-small", local_path=str(tiny_model))
    assert (e.query_prompt, e.passage_prompt) == ("query: ", "passage: ")
    q = e.embed_query(TEXTS[1])
    p = e.embed_passages([TEXTS[1]])[0]
    assert not np.allclose(q, p, atol=1e-4)
    # the prompt is really prepended: same vector as encoding the prefixed text bare
    bare = SentenceTransformerEmbedder("tiny-model", local_path=str(tiny_model))
    np.testing.assert_allclose(q, bare.embed_passages(["query: " + TEXTS[1]])[0], atol=1e-5)
    np.testing.assert_allclose(p, bare.embed_passages(["passage: " + TEXTS[1]])[0], atol=1e-5)


def test_prompt_defaults_and_overrides():
    assert default_prompts("intfloat/multilingual-e5-base") == ("query: ", "passage: ")
    assert default_prompts("BAAI/bge-small-zh-v1.5") == (BGE_ZH_QUERY_PROMPT, "")
    assert default_prompts("some-org/plain-model") == ("", "")
    e = SentenceTransformerEmbedder(
        "intfloat/multilingual-e5-small", query_prompt="q> ", passage_prompt=""
    )
    assert (e.query_prompt, e.passage_prompt) == ("q> ", "")


def test_save_writes_config_only(tiny_model, tmp_path):
    e = SentenceTransformerEmbedder("intfloat/multilingual-e5-small", local_path=str(tiny_model))
    out = tmp_path / "idx"
    e.save(out)
    assert not e.loaded  # saving does not load the weights
    info = json.loads((out / "st_embedder.json").read_text(encoding="utf-8"))
    assert info["name"] == "intfloat/multilingual-e5-small"
    assert info["local_path"] == str(tiny_model)
    assert info["query_prompt"] == "query: " and info["passage_prompt"] == "passage: "
    assert [p.name for p in out.iterdir()] == ["st_embedder.json"]


def test_load_restores_offline_env(tiny_model, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    SentenceTransformerEmbedder("tiny-model", local_path=str(tiny_model)).warm_up()
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ


def test_missing_sentence_transformers_message(monkeypatch, tiny_model):
    import sys

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    e = SentenceTransformerEmbedder("tiny-model", local_path=str(tiny_model))
    with pytest.raises(ImportError, match=r"pip install -e '\.\[models\]'"):
        e.embed_query("测试")


def test_resolve_local_model(tiny_model, empty_caches):
    assert resolve_local_model(str(tiny_model)) == str(tiny_model)
    t0 = time.perf_counter()
    assert resolve_local_model("no-such-org/no-such-model") is None
    assert time.perf_counter() - t0 < 2.0


def test_resolve_finds_hub_cache_snapshot(tiny_model, empty_caches):
    import shutil

    repo = empty_caches / "hub" / "models--some-org--tiny"
    snap = repo / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd", encoding="utf-8")
    assert resolve_local_model("some-org/tiny") == str(snap)
    e = make_embedder("some-org/tiny")
    assert isinstance(e, SentenceTransformerEmbedder)
    assert e.name == "some-org/tiny" and e.local_path == str(snap)
    assert e.embed_query("重要讲话").shape == (32,)


def test_make_embedder(tiny_model, empty_caches):
    e = make_embedder(str(tiny_model))
    assert isinstance(e, SentenceTransformerEmbedder)
    assert e.embed_passages(TEXTS[:2]).shape == (2, 32)

    t0 = time.perf_counter()
    auto = make_embedder("auto")
    assert isinstance(auto, OfflineEmbedder)
    assert time.perf_counter() - t0 < 2.0

    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError):
        make_embedder("no-such-org/no-such-model")
    assert time.perf_counter() - t0 < 2.0
