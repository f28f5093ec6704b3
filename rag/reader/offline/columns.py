"""The offline reader's feature columns: the names the weights are trained and stored over.

``weights.json`` holds a coefficient per name of :data:`FEATURES` (the ranker) and of
:data:`CONF_FEATURES` (the calibrator), in these orders; the reader refuses weights whose
names differ.
"""

from __future__ import annotations

QTYPES = ("number", "date", "person", "place", "organization", "phrase")  # question's answer
KINDS = ("number", "date", "term", "person", "organization", "place", "noun")  # candidate's
FEATURES: tuple[str, ...] = (
    *(f"{q}*{k}" for q in QTYPES for k in KINDS),
    "unit_match",
    "unit_class_match",
    "unit_class_mismatch",
    "number_without_unit",
    "sent_cover",
    "sent_cover_bigrams",
    "sent_rank",
    "passage_rank",
    "in_question",
    "all_in_question",
    "left_align",
    "right_align",
    "left_adjacent",
    "right_adjacent",
    "near_cover",
    "distance",
    "length",
    "tokens",
    "quoted",
    "redundancy",
    "in_title",
    "after_title_word",
    "first_in_sentence",
    "wh_noun_suffix",
    "wh_noun_last_char",
    "head_follows",
    "head_precedes",
    "clean_left",
    "clean_right",
    "starts_with_verb",
)
COLUMN = {f: i for i, f in enumerate(FEATURES)}  # feature name -> column
KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
CONF_FEATURES = (
    "prob",
    "margin",
    "sent_cover",
    "sent_cover_bigrams",
    "near_cover",
    "type_fit",
    "article_cover",
    "missing_max",
    "window_cover",
    "left_align",
    "right_align",
    "wh_context",
)
