"""Score normalization and JSON safety (pure functions)."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from evidence.parsers import LogFormatError, SampleScore, json_safe, normalize_score
from evidence.parsers.scores import add_scores, normalize_value, small_dict


@pytest.mark.parametrize(
    ("raw", "value", "correct"),
    [
        ("C", 1.0, True),
        ("I", 0.0, False),
        ("P", 0.5, None),
        ("N", 0.0, False),
        ("yes", 1.0, True),
        ("TRUE", 1.0, True),
        ("No", 0.0, False),
        ("false", 0.0, False),
        ("0.25", 0.25, None),
        ("1", 1.0, True),
        (True, 1.0, True),
        (False, 0.0, False),
        (1, 1.0, True),
        (0, 0.0, False),
        (0.0, 0.0, False),
        (0.75, 0.75, None),
        (-3, -3.0, None),
        (Decimal("0.5"), 0.5, None),
        (float("nan"), None, None),
        (float("inf"), None, None),
        (10**400, None, None),
        (None, None, None),
        ("c", None, None),  # letters are case-sensitive, as in Inspect
        ("nan", None, None),
        ("the answer", None, None),
        ([1, 0, 1], None, None),
    ],
)
def test_normalize_value(raw, value, correct):
    score = normalize_value(raw)
    assert (score.value, score.correct) == (value, correct)
    json.dumps(score.raw, allow_nan=False)


def test_raw_keeps_the_original_value():
    assert normalize_value("C").raw == "C"
    assert normalize_value([1, float("nan")]).raw == [1, None]
    assert normalize_value(float("nan")).raw is None
    assert normalize_value("x" * 5000).raw == "(value removed: 5,002 bytes)"


def test_dict_values_become_one_score_per_key():
    assert normalize_score("behaviour", {"answered": 1, "refused": 0}) == [
        ("answered", SampleScore(1.0, True, 1)),
        ("refused", SampleScore(0.0, False, 0)),
    ]
    assert normalize_score("match", "C") == [("match", SampleScore(1.0, True, "C"))]


def test_colliding_dict_key_is_prefixed_with_its_scorer():
    scores: dict[str, SampleScore] = {}
    add_scores(scores, "refused", "I")
    add_scores(scores, "behaviour", {"refused": 1, "answered": 0})
    assert set(scores) == {"refused", "behaviour/refused", "answered"}
    assert scores["refused"].value == 0.0 and scores["behaviour/refused"].value == 1.0


def test_json_safe():
    value = {
        1: (float("nan"), float("-inf"), Decimal("2.5")),
        "nul\x00": "a\x00b",
        "surrogate": "\ud800x",
        "ok": [True, None, 3, "é"],
    }
    safe = json_safe(value)
    assert safe == {
        "1": [None, None, 2.5],
        "nul\ufffd": "a\ufffdb",
        "surrogate": "?x",
        "ok": [True, None, 3, "é"],
    }
    json.dumps(safe, allow_nan=False).encode("utf-8")


def test_json_safe_depth():
    nested: object = 0
    for _ in range(10):
        nested = [nested]
    assert json_safe(nested, max_depth=10) == nested
    with pytest.raises(LogFormatError, match="deeper than 9 levels"):
        json_safe(nested, max_depth=9)


def test_small_dict_thins_big_values_and_caps_the_total():
    meta = small_dict({"a": "x" * 2000, "b": 1, "c": math.nan})
    assert meta == {"a": "(value removed: 2,002 bytes)", "b": 1, "c": None}
    many = small_dict({f"k{i}": "v" * 500 for i in range(20)}, max_bytes=4096)
    assert len(many) < 20 and many["(keys removed)"] == 21 - len(many)
    assert small_dict("plain") == {"value": "plain"}
    assert small_dict(None) == {}


def test_deeply_nested_raw_is_replaced_not_refused():
    nested: object = 0
    for _ in range(50):
        nested = [nested]
    score = normalize_value(nested)
    assert (score.value, score.raw) == (None, "(value removed: nested too deeply)")
