"""Candidate spans (rag.reader.candidates.extract) and question analysis (rag.reader.question.analyse).

Every sentence and question here is made up for the test; none comes from the eval set.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.reader.candidates import Candidate, extract, unit_class_of
from rag.reader.question import analyse


def _by_text(sentence: str) -> dict[str, Candidate]:
    return {c.text: c for c in extract(sentence)}


def _check_offsets(sentence: str, cands: list[Candidate]) -> None:
    for c in cands:
        assert 0 <= c.start < c.end <= len(sentence), c
        assert sentence[c.start : c.end] == c.text, c


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("sentence", "text", "unit"),
    [
        ("全镇共有党员300余名，比上年多了一些。", "300余名", "名"),
        ("去年接待游客1.5万多人次，创下新高。", "1.5万多人次", "人次"),
        ("全年产值同比增长12.5%，好于预期。", "12.5%", "%"),
        ("项目总投资超过2000万元，覆盖3万多亩耕地。", "2000万元", "万元"),
        ("项目总投资超过2000万元，覆盖3万多亩耕地。", "3万多亩", "亩"),
        ("新公司注册资本金100亿元。", "100亿元", "亿元"),
        ("这条步道全长7.8公里。", "7.8公里", "公里"),
    ],
)
def test_numbers_with_units(sentence, text, unit):
    cands = extract(sentence)
    _check_offsets(sentence, cands)
    found = _by_text(sentence)
    assert text in found, [c.text for c in cands]
    c = found[text]
    assert c.kind == "number"
    assert c.unit == unit
    assert sentence.index(text) == c.start


def test_approximation_prefix_gives_both_spans():
    s = "小区约9600人居住，超过2000万元用于改造。"
    found = _by_text(s)
    assert found["约9600人"].kind == found["9600人"].kind == "number"
    assert found["超过2000万元"].unit == found["2000万元"].unit == "万元"


def test_compound_count_is_one_candidate():
    s = "科学设定4类19项发展指标，逐项推进。"
    found = _by_text(s)
    assert "4类19项" in found
    c = found["4类19项"]
    assert (c.kind, c.unit, c.start, c.end) == ("number", "项", 4, 9)


def test_chinese_percent():
    found = _by_text("党员占比达到百分之三十五。")
    assert found["百分之三十五"].kind == "number"
    assert found["百分之三十五"].unit == "%"


def test_an_article_is_not_a_count():
    cands = extract("村里建成一个驿站，还有一批新项目。")
    assert not [c for c in cands if c.kind == "number"]


# ------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    ("sentence", "date"),
    [
        ("2023年5月18日，该馆正式对外开放。", "2023年5月18日"),
        ("3月5日召开动员会议。", "3月5日"),
        ("2023 年 11 月建成服务中心。", "2023 年 11 月"),
        ("今年6月完成验收。", "今年6月"),
        ("工程于1998年底竣工。", "1998年底"),
    ],
)
def test_dates(sentence, date):
    cands = extract(sentence)
    _check_offsets(sentence, cands)
    dates = [c for c in cands if c.kind == "date"]
    assert [c.text for c in dates] == [date]
    assert dates[0].unit == "date"
    # a date is never also offered as a number
    assert not [c for c in cands if c.kind == "number" and c.start < dates[0].end]


def test_date_is_not_swallowed_into_a_number():
    s = "2024年20项任务全部完成。"
    cands = extract(s)
    _check_offsets(s, cands)
    found = _by_text(s)
    assert found["2024年"].kind == "date"
    assert found["20项"].kind == "number" and found["20项"].unit == "项"
    assert found["20项"].start == 5
    assert "2024年20项" not in found
    # the same after a full date
    found = _by_text("2024年5月8日30家企业签约。")
    assert found["2024年5月8日"].kind == "date"
    assert found["30家"].kind == "number"
    assert not [t for t in found if t.startswith("2024") and t.endswith("家")]


# ----------------------------------------------------------- quoted terms


def test_quoted_terms():
    s = "打造“红色驿站”品牌，出版《山村纪事》一书。"
    cands = extract(s)
    _check_offsets(s, cands)
    terms = [c for c in cands if c.kind == "term"]
    assert [c.text for c in terms] == ["红色驿站", "山村纪事"]
    assert all(c.quoted for c in terms)
    # the span excludes the quote marks themselves
    assert s[terms[0].start - 1] == "“" and s[terms[0].end] == "”"
    assert s[terms[1].start - 1] == "《" and s[terms[1].end] == "》"


def test_corner_bracket_and_single_quotes():
    s = "推出「邻里帮」服务和‘夜校’课堂。"
    found = _by_text(s)
    assert found["邻里帮"].kind == "term" and found["邻里帮"].quoted
    assert found["夜校"].kind == "term" and found["夜校"].quoted


def test_unquoted_words_are_not_marked_quoted():
    cands = extract("社区服务中心今天开门。")
    assert cands and not any(c.quoted for c in cands)


# ------------------------------------------------------------------ names


def test_name_after_title_word():
    s = "在社区主任张三丰看来，服务没有终点。"
    cands = extract(s)
    _check_offsets(s, cands)
    people = {c.text for c in cands if c.kind == "person"}
    assert "张三丰" in people
    c = _by_text(s)["张三丰"]
    assert (c.start, c.end) == (5, 8)


@pytest.mark.parametrize(
    ("sentence", "name"),
    [
        ("据局长李明远介绍，工程进展顺利。", "李明远"),
        ("村党支部书记王海涛告诉记者。", "王海涛"),
    ],
)
def test_names_after_other_titles(sentence, name):
    cands = extract(sentence)
    _check_offsets(sentence, cands)
    assert name in {c.text for c in cands if c.kind == "person"}


# --------------------------------------------------------------- general


@pytest.mark.parametrize(
    "sentence",
    [
        "全镇共有党员300余名，去年接待游客1.5万多人次，同比增长12.5%。",
        "截至2024年6月，共接待研学团队400余支、超2.5万人次。",
        "在社区主任张三丰看来，“红色驿站”让《山村纪事》走进千家万户。",
        "  前后有空格 2023 年 11 月  ，\n换行后 50 家企业\t入驻。  ",
        "杨柳青镇、辛口镇两地联合推出5条线路。",
        "",
        "。，、“”《》",
    ],
)
def test_every_candidate_quotes_its_sentence(sentence):
    cands = extract(sentence)
    _check_offsets(sentence, cands)
    # in order of position, no duplicate spans, no blank edges
    assert [(c.start, -c.end) for c in cands] == sorted((c.start, -c.end) for c in cands)
    assert len({(c.start, c.end) for c in cands}) == len(cands)
    for c in cands:
        assert c.text == c.text.strip(" \t\n")
        assert c.kind in {"number", "date", "term", "person", "organization", "place", "noun"}


def test_unit_class_of():
    assert unit_class_of("万元") == "money"
    assert unit_class_of("万人次") == "people"
    assert unit_class_of("%") == "percent"
    assert unit_class_of("公里") == "length"
    assert unit_class_of("项") == "count"
    assert unit_class_of(None) is None
    assert unit_class_of("") is None


_PIECES = list(
    "党建天津市区村镇街道社区主任书记张王李刘年月日号余多万亿千百十一二两三零〇名人个项类元"
    "%％的了是在和与、，。；：？！“”《》「」‘’（）()0123456789. \t\n\u3000\r"
) + ["1.5", "2024年", "百分之", "超过", "约", "主任", "“", "《", "”", "》"]
_TEXT = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=50).map("".join),
    st.text(max_size=50),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_extract_never_raises_and_offsets_hold(text):
    cands = extract(text)
    _check_offsets(text, cands)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_analyse_never_raises(text):
    q = analyse(text)
    assert q.answer_type in {"number", "date", "person", "place", "organization", "phrase"}
    if q.wh_start >= 0:
        assert q.text[: q.wh_start] == q.left and q.text[q.wh_end :] == q.right


# ------------------------------------------------------- question analysis


@pytest.mark.parametrize(
    ("question", "answer_type", "wh"),
    [
        ("这个项目的负责人是谁？", "person", "谁"),
        ("该博物馆建于哪一年？", "date", "哪一年"),
        ("合作社吸纳了多少名村民就业？", "number", "多少"),
        ("这批设备由哪家单位负责维护？", "organization", "哪家"),
        ("这座古桥位于哪里？", "place", "哪里"),
        ("村里新修的那条步道叫什么？", "phrase", "叫什么"),
        ("这部纪录片叫什么名字？", "phrase", "叫什么名字"),
        ("该村的党支部书记叫什么名字？", "person", "叫什么名字"),
        ("新馆是什么时候开放的？", "date", "什么时候"),
        ("第几届运动会在此举办？", "number", "第几"),
    ],
)
def test_question_types(question, answer_type, wh):
    q = analyse(question)
    assert q.answer_type == answer_type
    assert q.wh == wh
    assert q.text == question.rstrip("？")
    assert q.left + q.wh + q.right == q.text


def test_question_left_and_right():
    q = analyse("合作社吸纳了多少名村民就业？")
    assert (q.left, q.right) == ("合作社吸纳了", "名村民就业")


def test_question_without_a_question_word():
    q = analyse("介绍一下社区的志愿服务")
    assert q.answer_type == "phrase"
    assert (q.wh_start, q.wh_end, q.wh) == (-1, -1, "")
    assert q.unit is None and q.unit_class is None


@pytest.mark.parametrize(
    ("question", "unit", "unit_class"),
    [
        ("镇里一共筹集了多少钱修路？", None, "money"),
        ("合作社吸纳了多少名村民就业？", "名", "people"),
        ("粮食产量增长了百分之几？", None, "percent"),
        ("全县建了几个便民驿站？", "个", "count"),
        ("改造工程一共花了多少万元？", "万元", "money"),
        ("活动持续了多少天？", "天", "time"),
        ("新修公路有多少公里？", "公里", "length"),
    ],
)
def test_question_unit_and_class(question, unit, unit_class):
    q = analyse(question)
    assert q.answer_type == "number"
    assert (q.unit, q.unit_class) == (unit, unit_class)


def test_ji_ge_keeps_the_classifier_outside_the_question_word():
    q = analyse("全县建了几个便民驿站？")
    assert q.wh == "几"
    assert q.right.startswith("个")


def test_non_number_questions_have_no_unit():
    for question in ("这个项目的负责人是谁？", "该博物馆建于哪一年？", "这座古桥位于哪里？"):
        q = analyse(question)
        assert q.unit is None and q.unit_class is None


def test_time_word_in_context_does_not_override_count_unit():
    q = analyse("今年新建了几个便民驿站？")
    assert q.unit == "个"
    assert q.unit_class == "count"


def test_village_secretary_name_question_is_about_a_person():
    assert analyse("该村的村支书叫什么名字？").answer_type == "person"


def test_quantifier_ending_in_bu_is_not_an_organization():
    cands = extract("2024年20项任务全部完成。")
    assert not [c.text for c in cands if c.kind == "organization"]
