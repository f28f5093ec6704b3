"""The shared word lists: each user's list is the shared core plus its own named additions."""

from __future__ import annotations

from rag.text import lexicon as L


def test_the_stopword_lists_share_the_function_words_and_differ_by_their_additions():
    assert L.FUNCTION_WORDS <= L.SEARCH_STOPWORDS and L.FUNCTION_WORDS <= L.QUESTION_STOPWORDS
    assert L.SEARCH_STOPWORDS & L.QUESTION_STOPWORDS == L.FUNCTION_WORDS
    assert len(L.SEARCH_STOPWORDS) == 100 and len(L.QUESTION_STOPWORDS) == 80


def test_title_words_before_names_are_a_part_of_the_title_words_each_once():
    assert set(L.TITLE_WORDS_BEFORE_NAMES) < set(L.TITLE_WORDS)
    assert len(set(L.TITLE_WORDS)) == len(L.TITLE_WORDS) == 58


def test_a_span_boundary_is_a_name_break_or_one_of_three_more():
    assert L.SPAN_BOUNDARY_CHARS.startswith(L.NAME_BREAK_CHARS)
    assert L.SPAN_BOUNDARY_CHARS[len(L.NAME_BREAK_CHARS) :] == "由赴了"


def test_ends_with_one_of():
    pattern = L.ends_with_one_of(L.TITLE_WORDS)
    assert pattern.search("党建办主任") and pattern.search("副总经理")
    assert not pattern.search("主任说")
