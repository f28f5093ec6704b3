"""The offline reader's vectorised feature code against its definitions, and its caches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.reader.offline import codes as C
from rag.reader.offline import features as F
from rag.reader.offline import reads as RD
from rag.reader.offline import sentences as S
from rag.reader.offline import terms as T


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
    """Vectorised codes equal the definition: bigrams of the text, of the ten characters
    before and after (without whitespace when a side holds a space, tab or newline)."""
    text, spans = case
    spans = np.concatenate([spans] * 2)  # at least three rows: the vectorised path
    assert C.span_codes(text, spans).tolist() == C.span_codes_one_by_one(text, spans).tolist()


@settings(max_examples=200, deadline=None)
@given(_text_and_spans())
def test_a_block_of_one_candidate_equals_the_general_one(case):
    """The one-candidate block (trimmed candidates) holds what the array path makes of it."""
    from rag.reader.candidates import Candidate

    text, spans = case
    s, e = int(spans[0, 0]), int(spans[0, 1])
    pair = RD.read_candidate(text, Candidate(s, e, text[s:e], "noun"))
    one = RD.Block.of(text, [pair])
    many = RD.Block.of(text, [pair] * 3)  # three rows: the vectorised path
    assert one.ext.tolist() == many.ext[:1].tolist()
    assert one.codes.tolist() == many.codes[: int(many.ext[0, RD.NCODES])].tolist()
    assert one.hashes.tolist() == many.hashes[:1].tolist()


_FUNCTION_TEXT = st.text(alphabet="是为的叫了个天在与年和天津港口a \n\t", max_size=14)


@settings(max_examples=500, deadline=None)
@given(_FUNCTION_TEXT)
def test_trimming_function_words_equals_the_patterns(s):
    """The strip-based trims remove what the patterns remove (``$`` matching before a
    final newline included)."""
    import re

    assert T.trim_left(s) == re.sub(
        r"(是|为|的|叫|在|有|了|由|达|共|约|到|给|把|被|向|和|与)+$", "", s
    )
    assert T.trim_right(s) == re.sub(r"^(的|是|了|个|名|位|家|项|年|天)+", "", s)


def test_span_codes_of_a_known_case():
    text = "在天津 港口发展"
    keys = C.span_codes_one_by_one(text, np.array([[1, 3, 0]]))
    decoded = {
        (int(k >> 42) & 3, chr(int(k >> 21) & 0x1FFFFF) + chr(int(k) & 0x1FFFFF)) for k in keys
    }
    # the span 天津; before it 在 (no bigram); after it " 港口发展" without the space
    assert decoded == {(0, "天津"), (2, "港口"), (2, "口发"), (2, "发展")}


_CODE = st.integers(0, (1 << 44) - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CODE, max_size=60), st.lists(_CODE, max_size=80), st.data())
def test_member_is_set_membership(wanted, others, data):
    """Hash-table membership equals Python's ``in``, wanted codes repeated or not."""
    codes = others + data.draw(st.lists(st.sampled_from(wanted), max_size=20)) if wanted else others
    got = C.isin(np.array(codes, dtype=np.int64), wanted).tolist()
    assert got == [c in set(wanted) for c in codes]


def test_member_when_every_hash_collides(monkeypatch):
    """Wanted codes sharing a slot under every multiplier: the bisection answers."""
    monkeypatch.setattr(C, "_MIXERS", (np.uint64(1),))  # slot = top 12 bits: all zero here
    codes = np.array([5, 6, 7, 1 << 43], dtype=np.int64)
    assert C.isin(codes, [5, 7]).tolist() == [True, False, True, False]


def _nearness_by_definition(qt, sentences, sizes, spans):
    """near_cover and distance candidate by candidate, as the docstring defines them."""
    near, dist = [], []
    rows = [si for si, n in enumerate(sizes) for _ in range(n)]
    for si, (s, e) in zip(rows, spans[:, :2].tolist()):
        text = sentences[si].text
        found = [
            (p, p + len(qt.terms[k][0]), k)
            for k in sentences[si].terms
            for p in F.positions(text, qt.terms[k][0])
        ]
        held = {k for p, q, k in found if p >= s - 20 and q <= e + 20}
        near.append(sum(qt.terms[k][1] for k in sorted(held)) / qt.weight)
        gaps = [max(s - q, p - e, 0) for p, q, _ in found]
        dist.append(min(min(gaps), 60) / 60 if gaps else 1.0)
    return near, dist


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
        f = F.featurise_matrix(T.question_terms(q), passages, 6)
        return f.x.copy(), [r.cand.text for r in f.reads]

    cold = {}
    for q in QUESTIONS:
        RD.sentence_reads.cache_clear()
        cold[q] = features(q)
    for q in QUESTIONS + QUESTIONS[::-1]:
        x, texts = features(q)
        assert texts == cold[q][1]
        assert np.array_equal(x, cold[q][0])
    assert len(cold[QUESTIONS[0]][1]) > 20


def _table_by_definition(table) -> list[set[int]]:
    return [set(C.pair_codes(T.bigrams(t))) for t in table.texts]


def _table_codes(table) -> list[set[int]]:
    got: list[set[int]] = [set() for _ in table.texts]
    for code, row in zip(table.codes.tolist(), table.rows.tolist()):
        assert code not in got[row]  # each distinct once
        got[row].add(code)
    return got


def test_the_whitespace_table_covers_every_whitespace_character():
    spaces = [i for i in range(0x110000) if chr(i).isspace()]
    assert max(spaces) < len(C.IS_SPACE) - 1  # the last entry stands for all above: False
    assert C.IS_SPACE.tolist() == [chr(i).isspace() for i in range(len(C.IS_SPACE) - 1)] + [False]


def test_chunk_sentence_codes_are_each_sentences_bigrams(pipe):
    """A chunk's table: each sentence's distinct bigram codes (as :func:`bigrams` takes
    them, without whitespace when a sentence holds a line break), on every chunk."""
    S.chunk_sentences.cache_clear()
    for chunk in pipe.store.chunks:
        a = pipe.store.articles.get(chunk.article_id)
        table = S.chunk_sentences(a.text, chunk.text_start, chunk.text_start + len(chunk.text))
        assert table.texts and _table_codes(table) == _table_by_definition(table)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="天津港。口\n \u3000a！", max_size=60), st.integers(0, 60), st.integers(1, 60)
)
def test_chunk_sentence_codes_on_made_up_text(text, c0, n):
    table = S.chunk_sentences(text, c0, c0 + n)
    assert _table_codes(table) == _table_by_definition(table)


def test_starts_with_verb_skips_only_texts_no_verb_can_start(pipe):
    """The two-character prefilter changes no answer: on every candidate of the sample
    corpus, the same as cutting the text and looking at its first word."""
    from rag.reader.candidates import extract, words
    from rag.text.sentences import article_sentences

    texts = {
        c.text
        for a in pipe.store.articles.values()
        for s, e in article_sentences(a.text)
        for c in extract(a.text[s:e])
    }

    def by_definition(t: str) -> bool:
        ws = words(t)
        return bool(ws) and ws[0][2] == "v" and ws[0][1] - ws[0][0] >= 2

    RD.starts_with_verb.cache_clear()
    got = {t: RD.starts_with_verb(t) for t in texts}
    assert got == {t: by_definition(t) for t in texts}
    assert 10 < sum(got.values()) < len(texts) / 2  # both answers occur


def test_nearness_equals_its_definition(pipe):
    """The sorted-array nearness against a candidate-by-candidate reading of its definition
    (a question word in another sentence is never near)."""
    for q in QUESTIONS:
        qt = T.question_terms(q)
        sentences = S.select_sentences(qt, pipe.retriever.search(q, 8), 6)
        sizes = [len(RD.sentence_reads(s.text).block) for s in sentences]
        spans = np.concatenate([RD.sentence_reads(s.text).block.ext for s in sentences])
        spans = spans[:, RD.SPAN : RD.SPAN + 3].astype(np.int64)
        near, dist = F.nearness(qt, sentences, sizes, spans)
        want_near, want_dist = _nearness_by_definition(qt, sentences, sizes, spans)
        assert np.allclose(near, want_near) and np.allclose(dist, want_dist), q
        assert any(d < 1 for d in want_dist), q  # the case is not vacuous


def _sides_by_definition(question: str) -> tuple[str, str]:
    """wh_noun and head with each side cut on its own, as their docstrings define them."""
    import re

    from rag.reader.candidates import words
    from rag.reader.question import analyse

    qa = analyse(question)
    if qa.wh_start < 0:
        return "", ""
    wh_noun = head = ""
    right = re.sub(r"^[个家座所位种项类名处支]", "", qa.right)
    ws = words(right[:12])
    if ws and ws[0][2] in T._NOUN_TAGS:
        wh_noun = right[ws[0][0] : ws[0][1]]
    m = re.match(r"(?:哪一?[个家座所位种项类支]?|什么)(..+)$", qa.wh)
    if m and m.group(1) not in ("地方", "时候", "时间"):
        wh_noun = m.group(1)
    left = T._HEAD_TRIM.sub("", qa.left)
    ws = words(left[-12:])
    if ws and ws[-1][2] in T._NOUN_TAGS and len(left) >= 2 and len(qa.right) <= 2:
        head = left[-12:][ws[-1][0] : ws[-1][1]]
    return wh_noun, head


_PIECES = st.sampled_from(
    [
        "天津港",
        "社区",
        "纪念馆",
        "治理协调机制",
        "锦庐园小区",
        "位于",
        "的",
        "是",
        "叫",
        "被称为",
        "哪家",
        "哪个",
        "哪一年",
        "多少",
        "几个",
        "什么",
        "叫什么",
        "谁",
        "个",
        "家",
        "名",
        "，",
        "？",
        " ",
        "\n",
        "2024",
        "ab",
        "-",
        "党工委书记",
        "集装箱吞吐量",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=12).map("".join))
def test_the_sides_read_from_the_one_cut_equal_cutting_each_side(question):
    """The question is cut once and the words around its question word read from that cut
    where the side is whole: the same nouns as cutting each side on its own."""
    qt = T.question_terms(question)
    assert (qt.wh_noun, qt.head) == _sides_by_definition(question)


def test_the_sides_on_example_questions():
    for q in [*QUESTIONS, "哪家纪念馆在天津？", "街道治理协调机制叫什么？", "共有几个社区参与？"]:
        qt = T.question_terms(q)
        assert (qt.wh_noun, qt.head) == _sides_by_definition(q), q
