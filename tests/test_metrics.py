from eval.metrics import exact_match, f1, normalize


def test_normalisation_ignores_width_space_and_punctuation():
    assert normalize("１２７．６ 万人次！") == normalize("127.6万人次")
    assert normalize("“海河净网”") == "海河净网"


def test_exact_match():
    assert exact_match("127.6 万人次", ["127.6万人次"]) == 1.0
    assert exact_match("127.6", ["127.6万人次", "127.6"]) == 1.0
    assert exact_match("127", ["127.6万人次"]) == 0.0
    assert exact_match(None, ["x"]) == 0.0
    assert exact_match(None, []) == 1.0 and exact_match("x", []) == 0.0


def test_f1_is_character_level_with_numbers_whole():
    assert f1("郝庆水", ["郝庆水"]) == 1.0
    assert round(f1("庆水", ["郝庆水"]), 3) == 0.8
    assert f1("127.6万人次", ["127.6 万人次"]) == 1.0
    assert f1("127万人次", ["127.6万人次"]) == 0.75  # the number is one token: 127 ≠ 127.6
    assert f1("无关", ["郝庆水"]) == 0.0
    assert f1(None, ["a"]) == 0.0
