"""The index: build, search, persistence, atomic swaps, incremental updates, bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eval.dataset import load_questions
from eval.retrieval import evaluate_retrieval
from index.bm25 import BM25, _top_k
from index.embedders import OfflineEmbedder
from index.hybrid import HybridRetriever
from index.layout import FORMAT_VERSION, index_text
from index.store import IndexLoadError, IndexStore
from index.tokens import SearchTokenizer, TokenTable, tokenize_many
from rag.cli import main
from rag.indexing import build_index


@pytest.fixture(scope="session")
def built_index(offline_index) -> Path:
    return offline_index


@pytest.fixture(scope="session")
def store(built_index) -> IndexStore:
    return IndexStore.load(built_index)


def test_manifest_records_what_was_built(store, sample_corpus):
    m = store.manifest
    assert m["format_version"] == FORMAT_VERSION
    assert m["embedder"]["name"] == "offline-lsa" and m["embedder"]["offline"] is True
    assert m["chunk_count"] == len(store.chunks) == len(sample_corpus.chunks)
    assert m["article_count"] == len(sample_corpus.articles)
    assert set(m["sources"]) == set(sample_corpus.documents)
    assert m["vector_index"] == "flat" and len(m["corpus_fingerprint"]) == 32


def test_passages_carry_article_metadata_and_exact_offsets(store, sample_corpus):
    passages = HybridRetriever(store).search("天津古文化街今年十一期间累计客流多少", k=5)
    assert passages[0].article.title == "古街续文脉 党建兴百业"
    assert "127.6" in passages[0].chunk.text
    for p in passages:
        original = sample_corpus.documents[p.chunk.source].text
        art = p.article
        assert art.start <= p.chunk.start < p.chunk.end <= art.end
        assert original[p.chunk.start] == p.chunk.text[0] or p.chunk.text[0] in "“”，（）"


def test_article_diversity(store):
    from index.hybrid import FusionSettings

    passages = HybridRetriever(store, FusionSettings(per_article=2)).search("商圈党建", k=8)
    assert len(passages) == 8
    per_article = {}
    for p in passages[:5]:  # the first slots hold several articles
        per_article[p.chunk.article_id] = per_article.get(p.chunk.article_id, 0) + 1
    assert max(per_article.values()) <= 2


def _fusion_by_definition(store, question, k, settings):
    """HybridRetriever.search spelled out: scores, order (ties to the lower chunk id), the
    per-article limit in the first slots."""
    tokens = store.tokenizer.tokens(question)
    q = store.embedder.embed_query(question, tokens=tokens)
    d_ids, _ = store.vstore.search(q, settings.depth)
    s_ids, s_scores = store.bm25.search(store.tokenizer.for_query(tokens), settings.depth)
    d_ids, s_ids = [int(i) for i in d_ids], [int(i) for i in s_ids]
    fused = {}
    if settings.method == "rrf":
        for w, ids in ((settings.dense_weight, d_ids), (settings.sparse_weight, s_ids)):
            for r, i in enumerate(ids):
                fused[i] = fused.get(i, 0.0) + w / (settings.rrf_k + r + 1)
    else:
        top = float(s_scores[0]) if len(s_scores) else 1.0
        bm = {i: float(np.float32(sc / top)) for i, sc in zip(s_ids, s_scores)}
        for i in sorted(set(d_ids) | set(s_ids)):
            cos = np.float32(store.vectors[i] @ q)
            total = np.float32(settings.sparse_weight) * np.float32(bm.get(i, 0.0))
            fused[i] = float(total + np.float32(settings.dense_weight) * cos)
    order = sorted(fused, key=lambda i: (-fused[i], i) if settings.method != "rrf" else -fused[i])
    first, per = [], {}
    for i in order:
        aid = store.chunks[i].article_id
        if len(first) < min(k, settings.diverse_top) and per.get(aid, 0) < settings.per_article:
            first.append(i)
            per[aid] = per.get(aid, 0) + 1
    picked = (first + [i for i in order if i not in first])[:k]
    return [(i, fused[i], d_ids.index(i) if i in d_ids else None) for i in picked]


@pytest.mark.parametrize("method", ["score", "rrf"])
def test_fusion_equals_its_definition(store, method):
    from index.hybrid import FusionSettings

    settings = FusionSettings(method=method)
    r = HybridRetriever(store, settings)
    for question in ("天津古文化街今年十一期间累计客流多少", "商圈党建", "社区网格员", "xyz"):
        got = [(store.chunks.index(p.chunk), p.score, p.dense_rank) for p in r.search(question, 8)]
        want = _fusion_by_definition(store, question, 8, r.settings)
        assert [g[0] for g in got] == [w[0] for w in want], question
        assert np.allclose([g[1] for g in got], [w[1] for w in want], rtol=1e-6), question
        assert [g[2] for g in got] == [w[2] for w in want], question


def test_retrieval_quality_on_the_dev_split(store, corpus_dir):
    """A regression guard on real data: the dev split, which tuning may look at."""
    questions = [q for q in load_questions() if q.split == "dev"]
    originals = {p.name: p.read_text(encoding="utf-8") for p in corpus_dir.iterdir()}
    r = HybridRetriever(store)
    result = evaluate_retrieval(questions, lambda q, k: r.search(q, k), originals)
    g = result["groups"]["all"]
    assert g["recall@5"] >= 0.90 and g["article_hit@1"] >= 0.95, g


@pytest.mark.parametrize("slice_above", [20_000, 0])  # gathered postings; copied row slices
def test_bm25_matches_a_brute_force_computation(slice_above, monkeypatch):
    monkeypatch.setattr("index.bm25._SLICE_ABOVE", slice_above)
    docs = [["天津", "港口", "港口"], ["社区", "党建"], ["天津", "社区", "治理", "网格"]]
    bm = BM25.from_tokens(docs, k1=1.2, b=0.75)
    avg = sum(map(len, docs)) / 3

    def score(q, d):
        s = 0.0
        for t in q:
            tf = d.count(t)
            df = sum(t in x for x in docs)
            idf = np.log(1 + (3 - df + 0.5) / (df + 0.5))
            s += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(d) / avg))
        return s

    for q in (["天津"], ["港口", "社区"], ["网格", "天津", "不存在"], ["港口", "天津", "港口"]):
        assert np.allclose(bm.scores(q), [score(q, d) for d in docs], atol=1e-5)


def test_bm25_long_posting_lists_score_the_same(monkeypatch):
    """Over 20,000 postings each row's are copied as one slice instead of gathered by index:
    bit for bit the same scores, and those of the terms scored one at a time, summed."""
    rng = np.random.default_rng(0)
    words = ["天津", "港口", "社区", "党建", "治理"]
    docs = [[words[j] for j in rng.integers(0, 5, rng.integers(1, 4))] for _ in range(60_000)]
    bm = BM25.from_tokens(docs)
    q = ["天津", "港口", "社区", "党建", "天津"]  # 4 frequent terms: some 84,000 postings
    rows = sorted({bm.vocab[t] for t in q})
    assert sum(np.diff(bm.weights.indptr)[rows]) > 20_000
    sliced = bm.scores(q)
    monkeypatch.setattr("index.bm25._SLICE_ABOVE", 10**9)
    assert np.array_equal(sliced, bm.scores(q))  # the gathered path
    one_by_one = sum(bm.scores([t]) for t in q)
    assert np.allclose(sliced, one_by_one, atol=1e-5)


@pytest.mark.parametrize("n", [50, 5_000, 100_000])
def test_top_k_is_the_k_largest(n):
    rng = np.random.default_rng(n)
    for _ in range(10):
        s = rng.random(n).astype(np.float32) * 10
        s[rng.random(n) < 0.4] = 0.0  # many ties at zero
        k = min(60, n)
        assert np.array_equal(np.sort(s[_top_k(s, k)]), np.sort(s)[-k:])


def test_token_table_round_trips_and_rejects_damage(tmp_path):
    lists = [["天津", "港口", "天津"], [], ["社区", "#天津"]]
    t = TokenTable.from_lists(lists)
    assert t.rows() == lists and len(t) == 3 and t.vocab == ["天津", "港口", "社区", "#天津"]
    joined = TokenTable.join([t, TokenTable.from_lists([["网格", "天津"]])])
    assert joined.rows() == [*lists, ["网格", "天津"]] and len(joined.vocab) == 5
    picked = joined.take([3, 0]).compact()
    assert picked.rows() == [["网格", "天津"], ["天津", "港口", "天津"]]
    assert sorted(picked.vocab) == sorted(["网格", "天津", "港口"])
    assert picked.counts().toarray().sum() == 5
    t.save(tmp_path / "t.npz")
    assert TokenTable.load(tmp_path / "t.npz").rows() == lists
    (tmp_path / "t.vocab.json").write_text('["天津"]', encoding="utf-8")  # ids past its end
    with pytest.raises(ValueError, match="inconsistent"):
        TokenTable.load(tmp_path / "t.npz")


def test_tokenising_on_every_core_gives_the_same_tokens(corpus_dir):
    text = (corpus_dir / "000_817a80d2d91d6736.txt").read_text(encoding="utf-8")
    texts = [text[i : i + 80] for i in range(0, 80 * 2400, 80)]  # enough to use the pool
    tok = SearchTokenizer(terms=["海河净网"])
    together = tokenize_many(tok, texts, workers=2)
    assert together.rows() == [tok.tokens(x) for x in texts]


def test_offline_embedder_has_semantic_signal(store):
    e = store.embedder
    a, b, c = e.embed_passages(["古文化街游客络绎不绝", "古文化街客流增长", "公务员信息数据采集"])
    assert float(a @ b) > float(a @ c)
    assert np.allclose(np.linalg.norm(e.embed_passages(["天津"]), axis=1), 1.0, atol=1e-5)


def test_search_cli_json_contract(built_index, capsys):
    assert (
        main(["search", "西青区第六埠村", "-k", "3", "--index-dir", str(built_index), "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 3
    for p in out:
        assert {
            "chunk_id",
            "article_id",
            "title",
            "source",
            "start",
            "end",
            "text",
            "score",
        } <= p.keys()


def test_status_and_empty_question(built_index, capsys):
    assert main(["index", "status", "--index-dir", str(built_index)]) == 0
    assert "offline-lsa" in capsys.readouterr().out
    assert main(["search", "   ", "--index-dir", str(built_index)]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["search", "天津" * 600, "--index-dir", str(built_index)]) == 2
    assert "too long" in capsys.readouterr().err


# -- persistence ---------------------------------------------------------------------------
def _copy_corpus(src: Path, dst: Path, names=None) -> Path:
    dst.mkdir()
    for p in sorted(src.iterdir()):
        if names is None or p.name in names:
            shutil.copy(p, dst / p.name)
    return dst


@pytest.fixture()
def small(tmp_path, corpus_dir):
    corpus = _copy_corpus(
        corpus_dir,
        tmp_path / "corpus",
        names={"000_817a80d2d91d6736.txt", "002_7d61d7b1c701f164.txt"},
    )
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, embedder="offline")
    return corpus, index_dir


def test_incremental_add_change_remove(small, corpus_dir):
    corpus, index_dir = small
    before = IndexStore.load(index_dir)
    n002 = sum(1 for c in before.chunks if c.source.startswith("002"))
    # add a file: only its chunks are embedded
    shutil.copy(corpus_dir / "001_356c5885c2fc8ee3.txt", corpus / "001_356c5885c2fc8ee3.txt")
    r = build_index(corpus, index_dir, embedder="offline")
    after = IndexStore.load(index_dir)
    n001 = sum(1 for c in after.chunks if c.source.startswith("001"))
    assert (
        r.added == ["001_356c5885c2fc8ee3.txt"] and r.embedded_chunks == n001 and r.unchanged == 2
    )
    assert np.allclose(
        after.vectors[[i for i, c in enumerate(after.chunks) if c.source.startswith("002")]],
        before.vectors[[i for i, c in enumerate(before.chunks) if c.source.startswith("002")]],
    )
    # change a file: its chunks are replaced
    p = corpus / "000_817a80d2d91d6736.txt"
    p.write_text(
        p.read_text(encoding="utf-8")
        + "\n\n## 新增栏目\n\n### 测试新增文章标题\n\n这是一段新增的正文内容，用于检验增量索引是否替换了这个文件的全部分块。\n",
        encoding="utf-8",
    )
    previous = IndexStore.load(index_dir)
    r = build_index(corpus, index_dir, embedder="offline")
    assert r.changed == ["000_817a80d2d91d6736.txt"]
    store = IndexStore.load(index_dir)
    assert any(a.title == "测试新增文章标题" for a in store.articles.values())
    # token rows in chunk order: fresh ones tokenised now, reused ones as they were
    was = {c.id: row for c, row in zip(previous.chunks, previous.tokens.rows())}
    for c, row in zip(store.chunks, store.tokens.rows()):
        fresh = c.source == "000_817a80d2d91d6736.txt"
        assert row == (store.tokenizer.tokens(index_text(c)) if fresh else was[c.id])
    # remove a file: its chunks are dropped
    (corpus / "002_7d61d7b1c701f164.txt").unlink()
    r = build_index(corpus, index_dir, embedder="offline")
    store = IndexStore.load(index_dir)
    assert r.removed == ["002_7d61d7b1c701f164.txt"]
    assert not any(c.source.startswith("002") for c in store.chunks)
    assert len(store.chunks) == store.manifest["chunk_count"] == len(store.chunks) and n002 > 0
    # nothing changed: nothing written
    v = store.version
    r = build_index(corpus, index_dir, embedder="offline")
    assert r.unchanged == 2 and IndexStore.load(index_dir).version == v


def test_a_crash_mid_build_leaves_the_previous_index_live(small, monkeypatch):
    corpus, index_dir = small
    before = IndexStore.load(index_dir)

    def boom(self, path):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(BM25, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, index_dir, embedder="offline", full=True)
    monkeypatch.undo()
    after = IndexStore.load(index_dir)
    assert after.version == before.version and len(after.chunks) == len(before.chunks)
    assert len([p for p in index_dir.glob("v-*")]) == 1


@pytest.mark.parametrize(
    "damage,needle",
    [
        (lambda v: (v / "bm25.data.npy").write_bytes(b"\x93NUMPY garbage"), "corrupt"),
        (lambda v: (v / "chunks.jsonl").write_text('{"id": "x"', encoding="utf-8"), "corrupt"),
        (lambda v: (v / "dense.faiss").unlink(), "lacks"),
        (lambda v: (v / "manifest.json").write_text("{", encoding="utf-8"), "unreadable"),
        (
            lambda v: (v.parent / "CURRENT").write_text("v-missing", encoding="utf-8"),
            "missing version",
        ),
    ],
)
def test_damaged_index_gives_a_clear_error(small, damage, needle):
    _, index_dir = small
    damage(IndexStore.live_version(index_dir))
    with pytest.raises(IndexLoadError, match=needle) as e:
        IndexStore.load(index_dir)
    assert "rag index build" in str(e.value)


def test_truncated_bm25_is_detected(small):
    _, index_dir = small
    v = IndexStore.live_version(index_dir)
    data = (v / "bm25.npz").read_bytes()
    (v / "bm25.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexLoadError):
        IndexStore.load(index_dir)


def test_format_and_embedder_mismatch_are_refused(small):
    _, index_dir = small
    with pytest.raises(IndexLoadError, match="built with the embedder"):
        IndexStore.load(index_dir, expect_embedder="intfloat/multilingual-e5-small")
    v = IndexStore.live_version(index_dir)
    m = json.loads((v / "manifest.json").read_text(encoding="utf-8"))
    m["format_version"] = 999
    (v / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="format"):
        IndexStore.load(index_dir)


def test_no_index_is_a_clear_cli_error(tmp_path, capsys):
    assert main(["search", "天津", "--index-dir", str(tmp_path / "none")]) == 3
    assert "rag index build" in capsys.readouterr().err


def test_a_rebuild_after_a_broken_index_recovers(small):
    corpus, index_dir = small
    (IndexStore.live_version(index_dir) / "dense.faiss").write_bytes(b"broken")
    build_index(corpus, index_dir, embedder="offline")
    assert len(IndexStore.load(index_dir).chunks) > 0


def test_offline_embedder_round_trips(tmp_path):
    e = OfflineEmbedder(dim=8)
    texts = [
        "天津港口岸通关",
        "天津港集装箱吞吐",
        "社区党建引领",
        "社区网格治理",
        "港口货物",
        "党建工作",
    ] * 3
    e.fit(texts)
    e.save(tmp_path)
    e2 = OfflineEmbedder.load(tmp_path)
    assert np.allclose(e.embed_passages(texts), e2.embed_passages(texts), atol=1e-6)


def _mapped(a: np.ndarray) -> bool:
    """``a`` reads its file's pages (memory-mapped), not a private copy."""
    while isinstance(a, np.ndarray):
        if isinstance(a, np.memmap):
            return True
        a = a.base
    return False


def test_large_arrays_are_mapped_not_copied(store):
    """Worker processes share one copy of an index's big arrays only if loading maps them."""
    w = store.bm25.weights
    assert all(_mapped(x) for x in (w.data, w.indices, w.indptr))
    assert _mapped(store.embedder.components)
    assert not _mapped(np.array(store.embedder.components))  # the check can fail
    # searches index them as plain arrays (a memmap subclass pays Python per indexing)
    assert type(store.embedder.components) is np.ndarray


def test_approximate_index_above_the_configured_size(small):
    corpus, index_dir = small
    build_index(corpus, index_dir, embedder="offline", full=True, hnsw_above=10)
    store = IndexStore.load(index_dir)
    assert store.manifest["vector_index"] == "hnsw" and store.vstore.kind == "hnsw"
    # an approximate index still finds a chunk by its own vector
    ids, _ = store.vstore.search(store.vectors[7], k=1)
    assert int(ids[0]) == 7


def test_builds_take_turns(tmp_path, corpus_dir):
    """A build waits while another writer (another process, a service worker) holds the lock."""
    import threading
    import time

    from rag.indexing import _build_lock

    index_dir = tmp_path / "index"
    done = threading.Event()
    with _build_lock(index_dir):
        t = threading.Thread(
            target=lambda: (build_index(corpus_dir, index_dir, embedder="offline"), done.set())
        )
        t.start()
        time.sleep(1.0)
        assert not done.is_set() and not (index_dir / "CURRENT").exists()
    t.join(timeout=60)
    assert done.is_set() and IndexStore.load(index_dir).manifest["chunk_count"] > 0


def test_offsets_are_stored_as_runs_and_read_back_exactly(store, sample_corpus):
    """Articles keep one original offset per character; on disk they are runs of shifts."""
    from hypothesis import given
    from hypothesis import strategies as st

    from index.layout import decode_offsets, encode_offsets

    for art in sample_corpus.articles:
        runs = encode_offsets(art.offsets)
        assert len(runs) < len(art.offsets) / 4 + 4  # far smaller than one number a character
        assert list(decode_offsets(runs, len(art.offsets))) == list(art.offsets)
        loaded = store.articles[art.id]
        assert list(loaded.offsets) == list(art.offsets)

    @given(st.lists(st.integers(min_value=0, max_value=5), max_size=200))
    def round_trip(gaps):
        offs, pos = [], 0
        for g in gaps:
            pos += g + 1
            offs.append(pos)
        assert list(decode_offsets(encode_offsets(offs), len(offs))) == offs

    round_trip()
