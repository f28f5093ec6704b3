"""TransformersReader and resolve_local_qa_model, with a tiny randomly initialised QA model.

Random weights give meaningless answers; what is checked is loading offline, windows and
stride, batching, and the offsets from tokens back to the article text.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from rag.reader import Reading, make_reader  # noqa: E402
from rag.reader.neural.spans import trim  # noqa: E402
from rag.reader.transformers_reader import TransformersReader, resolve_local_qa_model  # noqa: E402
from rag.types import Article, Chunk, Passage  # noqa: E402

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_FILE = CORPUS_DIR / "003_c0fa0c3c18fd1ce0.txt"
QUESTION = "市委网信办开展了什么主题党日活动？"


@pytest.fixture(scope="module")
def tiny_qa(tmp_path_factory) -> Path:
    """A 2-layer BertForQuestionAnswering over the corpus characters, saved to a folder."""
    from tiny_bert import tiny_bert
    from transformers import BertForQuestionAnswering

    folder = tmp_path_factory.mktemp("tiny_qa")
    text = CORPUS_FILE.read_text(encoding="utf-8")[:4000] + QUESTION
    return tiny_bert(folder, text, BertForQuestionAnswering)


@pytest.fixture(scope="module")
def reader(tiny_qa) -> TransformersReader:
    return TransformersReader(str(tiny_qa), window=64, stride=16, max_answer_chars=12)


@pytest.fixture(scope="module")
def real_passages(sample_corpus) -> list[Passage]:
    """Chunks of three articles of the sample corpus, as the retriever would hand them over."""
    by_id = {a.id: a for a in sample_corpus.articles}
    article_ids = list(dict.fromkeys(c.article_id for c in sample_corpus.chunks))[:3]
    chunks = [c for c in sample_corpus.chunks if c.article_id in article_ids][:6]
    return [Passage(c, 1.0 / (i + 1), article=by_id[c.article_id]) for i, c in enumerate(chunks)]


@pytest.fixture(scope="module")
def long_passage(sample_corpus) -> Passage:
    """One chunk far longer than a window, starting well inside its article's text."""
    texts = [c.text for c in sample_corpus.chunks[:8]]
    prefix = "前言。" * 20
    body = "".join(texts)
    article = Article(
        id="long", title="长文", source="long.txt", start=0, end=0, text=prefix + body + "完。"
    )
    chunk = Chunk(
        id="long-000",
        article_id="long",
        title="长文",
        source="long.txt",
        start=0,
        end=0,
        text=body,
        text_start=len(prefix),
    )
    return Passage(chunk, 1.0, article=article)


def check_reading(reading: Reading, passages: list[Passage], max_chars: int) -> None:
    assert 0.0 <= reading.confidence <= 1.0
    assert reading.answer_type is None and reading.threshold == 0.5
    assert 0 < len(reading.guesses) <= 20
    scores = [g.score for g in reading.guesses]
    assert scores == sorted(scores, reverse=True)
    keys = set()
    for g in reading.guesses:
        assert 0 <= g.passage < len(passages)
        p = passages[g.passage]
        key = (p.article.id if p.article else p.chunk.id, g.start, g.end)
        assert key not in keys
        keys.add(key)
        base = p.article.text if p.article else p.chunk.text
        assert base[g.start : g.end] == g.text
        assert 0 < len(g.text) <= max_chars
        assert g.text == g.text.strip()
        # the span lies inside the chunk the model read
        shift = p.chunk.text_start if p.article else 0
        assert shift <= g.start and g.end <= shift + len(p.chunk.text)


def test_loads_offline_quickly(tiny_qa):
    r = TransformersReader(str(tiny_qa))
    assert not r.loaded  # construction stores configuration only
    assert r.name == str(tiny_qa) and r.offline is False
    t0 = time.perf_counter()
    r.warm_up()
    assert r.loaded
    assert time.perf_counter() - t0 < 5.0
    r.warm_up()  # a second call is a no-op


def test_concurrent_warm_up_loads_once(tiny_qa):
    r = TransformersReader(str(tiny_qa))
    threads = [threading.Thread(target=r.warm_up) for _ in range(4)]
    for t in threads:
        t.start()
    models = []
    for t in threads:
        t.join()
        models.append(r._model)
    assert all(m is models[0] for m in models)


def test_read_real_passages(reader, real_passages):
    reading = reader.read(QUESTION, real_passages)
    check_reading(reading, real_passages, reader.max_answer_chars)


def test_long_passage_spans_from_later_windows(reader, long_passage, real_passages):
    passages = [real_passages[0], long_passage]
    reading = reader.read(QUESTION, passages)
    check_reading(reading, passages, reader.max_answer_chars)
    # the first window holds well under 64 characters of context: later windows must show up
    later = [g for g in reading.guesses if g.passage == 1 and g.start - len("前言。") * 20 > 64]
    assert later, [(g.passage, g.start) for g in reading.guesses]


def test_offsets_are_article_offsets(reader, long_passage):
    with_article = reader.read(QUESTION, [long_passage])
    bare = Passage(long_passage.chunk, 1.0, article=None)
    without = reader.read(QUESTION, [bare])
    shift = long_passage.chunk.text_start
    assert [(g.start - shift, g.end - shift, g.text) for g in with_article.guesses] == [
        (g.start, g.end, g.text) for g in without.guesses
    ]
    check_reading(without, [bare], reader.max_answer_chars)


def test_batching_matches_one_by_one(tiny_qa, real_passages, long_passage):
    passages = [*real_passages, long_passage]
    kw = {"window": 64, "stride": 16, "max_answer_chars": 12}
    batched = TransformersReader(str(tiny_qa), batch_size=16, **kw).read(QUESTION, passages)
    single = TransformersReader(str(tiny_qa), batch_size=1, **kw).read(QUESTION, passages)
    assert [(g.passage, g.start, g.end, g.text) for g in batched.guesses] == [
        (g.passage, g.start, g.end, g.text) for g in single.guesses
    ]
    for a, b in zip(batched.guesses, single.guesses):
        assert a.score == pytest.approx(b.score, abs=1e-4)
    assert batched.confidence == pytest.approx(single.confidence, abs=1e-5)


def test_empty_inputs(reader, real_passages):
    assert reader.read(QUESTION, []) == Reading((), 0.0)
    blank = Passage(Chunk("x", "x", "t", "s.txt", 0, 0, "  \n"), 1.0)
    assert reader.read(QUESTION, [blank]) == Reading((), 0.0)
    # a blank passage among real ones keeps the indices of the others
    passages = [blank, *real_passages[:2]]
    reading = reader.read(QUESTION, passages)
    check_reading(reading, passages, reader.max_answer_chars)
    assert all(g.passage in (1, 2) for g in reading.guesses)


def test_long_question_is_cut_to_fit(reader, real_passages):
    reading = reader.read(QUESTION * 20, real_passages[:2])
    check_reading(reading, real_passages[:2], reader.max_answer_chars)


def test_trim():
    text = "“百分之五”，增长5%。"
    assert trim(text, 0, len(text)) == (1, len(text) - 1)
    assert text[slice(*trim(text, 0, len(text)))] == "百分之五”，增长5%"
    assert trim("，。", 0, 2) == (2, 2)


def test_resolve_local_qa_model(tiny_qa, empty_caches):
    assert resolve_local_qa_model(str(tiny_qa)) == str(tiny_qa)
    t0 = time.perf_counter()
    assert resolve_local_qa_model("uer/roberta-base-chinese-extractive-qa") is None
    assert resolve_local_qa_model("no-such-org/no-such-model") is None
    assert resolve_local_qa_model("") is None
    assert time.perf_counter() - t0 < 2.0


def test_loads_from_hub_cache_snapshot(tiny_qa, empty_caches, real_passages):
    import shutil

    repo = empty_caches / "hub" / "models--some-org--tiny-qa"
    snap = repo / "snapshots" / "0123abcd"
    shutil.copytree(tiny_qa, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd", encoding="utf-8")
    assert resolve_local_qa_model("some-org/tiny-qa") == str(snap)
    r = TransformersReader("some-org/tiny-qa", window=64, stride=16)
    assert r.read(QUESTION, real_passages[:1]).guesses


def test_make_reader(tiny_qa, real_passages):
    r = make_reader(str(tiny_qa))
    assert isinstance(r, TransformersReader)
    assert r.name == str(tiny_qa) and r.offline is False
    assert r.read(QUESTION, real_passages[:1]).guesses
    assert make_reader("offline").offline is True


def test_missing_transformers_message(monkeypatch, tiny_qa):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)
    r = TransformersReader(str(tiny_qa))
    with pytest.raises(ImportError, match=r"pip install -e '\.\[models\]'"):
        r.warm_up()


def test_auto_falls_back_to_the_offline_reader_fast(empty_caches):
    """No model on disk and no network: `auto` decides from the file system, under 2 s."""
    from rag.reader import make_reader
    from rag.reader.offline.reader import OfflineReader

    t0 = time.perf_counter()
    reader = make_reader("auto")
    assert isinstance(reader, OfflineReader) and reader.offline
    assert "neural reader is not used" in reader.note and "rag models install" in reader.note
    assert time.perf_counter() - t0 < 2.0
