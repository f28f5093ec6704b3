from __future__ import annotations

import pytest

from rag.ingest.chunking import Chunker
from rag.ingest.cleaning import _ALWAYS, _HALF_TO_FULL
from rag.ingest.patterns import compact
from rag.text.sentences import sentence_spans


def test_sentence_spans_keep_terminators_and_closing_quotes():
    text = "他说：“好。”然后走了！最后"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["他说：“好。”", "然后走了！", "最后"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Chunker(size=100, overlap=100)
    with pytest.raises(ValueError):
        Chunker(size=2)


@pytest.mark.parametrize("size,overlap", [(240, 60), (120, 0), (400, 100)])
def test_chunks_stay_inside_their_article_with_exact_offsets(sample_corpus, size, overlap):
    by_id = {a.id: a for a in sample_corpus.articles}
    chunker = Chunker(size=size, overlap=overlap)
    for art in sample_corpus.articles:
        chunks = chunker.chunk(art)
        assert chunks, art.title
        original = sample_corpus.documents[art.source].text
        covered = set()
        for c in chunks:
            assert by_id[c.article_id] is art
            assert art.start <= c.start < c.end <= art.end
            assert art.text[c.text_start : c.text_start + len(c.text)] == c.text
            # every character of the chunk maps to the same (or width-normalised) original one
            offs = art.offsets[c.text_start : c.text_start + len(c.text)]
            assert (c.start, c.end) == (offs[0], offs[-1] + 1)
            for ch, o in zip(c.text, offs):
                if ch != "\n":
                    assert ch in (
                        original[o],
                        _ALWAYS.get(original[o]),
                        _HALF_TO_FULL.get(original[o]),
                        "“",
                        "”",
                    )
            # page furniture inside the span is left out of the text, never the other way round
            assert (
                compact(c.text)[:4] == compact(original[c.start : c.end])[:4] or c.text[0] in "“”"
            )
            covered.update(range(c.text_start, c.text_start + len(c.text)))
            if len(c.text) > size:
                assert "。" not in c.text[:-1]  # only a single over-long sentence may exceed
        assert all(i in covered for i, ch in enumerate(art.text) if not ch.isspace())


def test_article_sentences_follow_the_text_not_a_stale_cache():
    from rag.text.sentences import article_sentences, sentence_spans

    before, after = "第一句。第二句。", "改过的第一句。第二句。"
    assert list(article_sentences(before)) == sentence_spans(before)
    assert list(article_sentences(after)) == sentence_spans(after) != sentence_spans(before)
