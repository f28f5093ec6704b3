"""The offline reader's vectorised feature code against its definitions, and its caches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import offline_reader as R


@st.composite
def _text_and_spans(draw):
    text = draw(st.text(alphabet="天津港口发展ab1 \t\n\u3000\xa0，“”", min_size=2, max_size=50))
    cuts = draw(
        st.lists(
            st.tuples(st.integers(0, len(text) - 1), st.integers(1, 12)), min_size=1, max_size=8
        )
    )
    spans = np.array([(s, min(s + n, len(text)), 0) for s, n in cuts], dtype=np.int64)
    return text, spans


@settings(max_examples=300, deadline=None)
@given(_text_and_spans())
def test_span_codes_are_the_bigrams_of_each_span_and_its_sides(case):
    """Vectorised codes equal the definition: _bigrams of the text, of the ten characters
    before and after (without whitespace when a side holds a space, tab or newline)."""
    text, spans = case
    spans = np.concatenate([spans] * 2)  # at least three rows: the vectorised path
    assert R._span_codes(text, spans).tolist() == R._span_codes_one_by_one(text, spans).tolist()


def test_span_codes_of_a_known_case():
    text = "在天津 港口发展"
    keys = R._span_codes_one_by_one(text, np.array([[1, 3, 0]]))
    decoded = {
        (int(k >> 42) & 3, chr(int(k >> 21) & 0x1FFFFF) + chr(int(k) & 0x1FFFFF)) for k in keys
    }
    # the span 天津; before it 在 (no bigram); after it " 港口发展" without the space
    assert decoded == {(0, "天津"), (2, "港口"), (2, "口发"), (2, "发展")}


@pytest.fixture(scope="module")
def pipe(offline_index):
    from rag.pipeline import Pipeline

    return Pipeline.load(offline_index, reader="offline")


QUESTIONS = [
    "古文化街被誉为什么？",
    "天津港的集装箱吞吐量是多少？",
    "锦庐园小区位于哪里？",
    "觉悟社纪念馆在哪个区？",
    "谁是朝阳里社区的党委书记？",
]


def test_features_do_not_depend_on_what_was_read_before(pipe):
    """The sentence cache and the trims kept on cached candidates hold nothing of the
    question that made them: a question's features are the same cold and after others."""

    def features(q):
        passages = pipe.retriever.search(q, 8)
        f = R.featurise_matrix(R.question_terms(q), passages, 6)
        return f.x.copy(), [r.cand.text for r in f.reads]

    cold = {}
    for q in QUESTIONS:
        R._sentence_reads.cache_clear()
        cold[q] = features(q)
    for q in QUESTIONS + QUESTIONS[::-1]:
        x, texts = features(q)
        assert texts == cold[q][1]
        assert np.array_equal(x, cold[q][0])
    assert len(cold[QUESTIONS[0]][1]) > 20
