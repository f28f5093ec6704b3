"""jieba-rs must cut exactly as jieba does: the reader's features and the index depend on it."""

from __future__ import annotations

from functools import lru_cache

import jieba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.tokens import SearchTokenizer, learn_terms
from rag.text.sentences import article_sentences
from rag.text.words import WordCutter, jieba_default


@pytest.fixture(scope="module")
def sentences(sample_corpus) -> list[str]:
    return sorted(
        {a.text[s:e] for a in sample_corpus.articles for s, e in article_sentences(a.text)}
    )


@pytest.fixture(scope="module")
def terms(sample_corpus) -> list[str]:
    return learn_terms(a.text for a in sample_corpus.articles)


@pytest.fixture(scope="module")
def private_jieba(terms) -> jieba.Tokenizer:
    tok = jieba.Tokenizer()
    tok.initialize()
    for t in terms:
        tok.add_word(t, freq=2000)
    return tok


def test_cut_is_jiebas_on_every_sentence_of_the_sample_corpus(sentences):
    assert len(sentences) > 2000
    cutter, dt = WordCutter(), jieba_default()
    differ = [s for s in sentences if cutter.cut(s) != list(dt.cut(s, HMM=True))]
    assert differ == []


def test_search_mode_with_learned_terms_is_jiebas(sentences, terms, private_jieba):
    assert "海河净网" in terms
    cutter = WordCutter((t, 2000) for t in terms)
    differ = [
        s
        for s in sentences
        if cutter.cut_for_search(s.lower()) != list(private_jieba.cut_for_search(s.lower()))
    ]
    assert differ == []
    # the learned term is cut whole only by the cutter that was given it
    assert "海河净网" in cutter.cut("持续深化海河净网专项行动")
    assert "海河净网" not in WordCutter().cut("持续深化海河净网专项行动")


@pytest.mark.parametrize(
    "text, words",
    [
        ("邮发代号 6-268", ["邮发", "代号", " ", "6", "-", "268"]),  # jieba-rs keeps 6-268
        ("会C#吗", ["会", "C#", "吗"]),  # a dictionary word stays whole
        ("㐀𠀀天津", ["㐀", "𠀀", "天津"]),  # outside jieba's range: one character each
        ("a\r\nb", ["a", "\r\n", "b"]),
        ("", []),
    ],
)
def test_what_jieba_rs_cuts_differently_is_put_back(text, words):
    assert WordCutter().cut(text) == words == list(jieba_default().cut(text, HMM=True))


_ALPHABET = (
    "天津市人民政府发展改革委员会的了是在和与一二三四五六七八九十百千万亿年月日号港口"
    "abcXYZ0123456789.-%_+#&/: \n\t\r，。、；：！？“”《》（）【】\u3000\u3400\u4dbf\u9fd6\u9fff"
    "\uf900ｱＡ１·—éß😀𠀀\ud800"  # a lone surrogate (JSON can carry one) never reaches Rust
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_cut_is_jiebas_on_any_mix_of_scripts(text):
    cutter, dt = _cutters()
    assert cutter.cut(text) == list(dt.cut(text, HMM=True))
    assert cutter.cut_for_search(text) == list(dt.cut_for_search(text, HMM=True))


@lru_cache(maxsize=1)
def _cutters() -> tuple[WordCutter, jieba.Tokenizer]:
    return WordCutter(), jieba_default()


def test_search_tokenizer_uses_the_learned_terms():
    tok = SearchTokenizer(terms=["海河净网"])
    assert "海河净网" in tok.tokens("持续深化“海河净网”专项行动")
    assert "海河净网" not in SearchTokenizer().tokens("持续深化“海河净网”专项行动")
