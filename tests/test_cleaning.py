"""The cleaner and its offset map."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.ingest.cleaning import _ALWAYS, _HALF_TO_FULL, clean_text, normalize_line

_QUOTES = {'"': "“”"}


def _corresponds(original: str, cleaned: str) -> bool:
    if original == cleaned:
        return True
    if _ALWAYS.get(original) == cleaned or _HALF_TO_FULL.get(original) == cleaned:
        return True
    return cleaned in _QUOTES.get(original, "")


def _check_map(original: str) -> None:
    mt = clean_text(original)
    assert len(mt.text) == len(mt.offsets)
    assert all(0 <= o < len(original) for o in mt.offsets)
    assert all(a < b for a, b in zip(mt.offsets, mt.offsets[1:])), "offsets must increase"
    for ch, o in zip(mt.text, mt.offsets):
        if ch == "\n":
            continue  # a paragraph break maps to the character that ended the line
        assert _corresponds(original[o], ch), (original[o], ch)
    # any cleaned span maps back to an original span that holds the same letters in order
    for i in range(0, len(mt.text), 7):
        j = min(len(mt.text), i + 5)
        s, e = mt.span(i, j)
        assert 0 <= s <= e <= len(original)


_pieces = st.sampled_from(
    list("新征程天津工作要求习近平总书记党建引领基层治理")
    + [" ", "  ", "\n", "\n\n", "，", ",", "。", "“", "”", '"', "(", ")", "（", "）", "：", ":"]
    + [
        "# ",
        "### ",
        "**",
        "１２",
        "Ａ",
        "\u3000",
        "\t",
        "12.5",
        "%",
        "扫码收听有声文章\n",
        "总编辑 刘庆\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=80).map("".join))
def test_offset_map_on_generated_text(text):
    _check_map(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_offset_map_on_arbitrary_unicode(text):
    _check_map(text)


def test_offset_map_on_the_sample_corpus(corpus_dir):
    for path in sorted(corpus_dir.iterdir()):
        _check_map(path.read_text(encoding="utf-8"))


def test_stray_spaces_and_punctuation_width():
    assert normalize_line("新征 程上,核心要 求(试行)", 0).text == "新征程上，核心要求（试行）"
    assert normalize_line("客流 127.6 万人次", 0).text == "客流127.6万人次"
    assert normalize_line("ISSN 0412-0892", 0).text == "ISSN 0412-0892"
    assert normalize_line("1,000 元", 0).text == "1,000元"
    assert normalize_line("「一二·九」运动", 0).text == "“一二·九”运动"
    assert normalize_line("## **壮大能量。**在坚持", 0).text == "壮大能量。在坚持"


def test_furniture_is_dropped_and_cut_sentences_are_joined():
    raw = (
        "市级机关各基层党组织以高度的政治自觉、饱满的政治热情，与习近平总书记重要讲话精神、\n\n"
        "扫码收听有声文章\n\n"
        "市委全会精神贯通起来，一体学习领悟。\n\n"
        "下一段。"
    )
    mt = clean_text(raw)
    assert mt.text == (
        "市级机关各基层党组织以高度的政治自觉、饱满的政治热情，与习近平总书记重要讲话精神、"
        "市委全会精神贯通起来，一体学习领悟。\n下一段。"
    )
    s, e = mt.span(mt.text.index("市委全会"), mt.text.index("领悟") + 2)
    assert raw[s:e] == "市委全会精神贯通起来，一体学习领悟"
