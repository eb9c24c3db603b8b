"""Per-sample counting (evidence.tally): each reducer against Inspect's own reducer on the same
epoch values, and what is counted for binary, partial-credit and refused scores."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.parsers import normalize_value
from evidence.tally import DEFAULT_REDUCER, EpochTally, declared_reducer, reducer

inspect_scorer = pytest.importorskip("inspect_ai.scorer")

VALUES = st.sampled_from(["C", "I", "P", "N", 0, 1, 0.5, 0.25, True, False, float("nan")])


def _inspect_reducer(name: str):
    from inspect_ai.scorer._reducer.registry import create_reducers

    return create_reducers(name)[0]


def _theirs(name: str, values: list) -> float | None:
    reduced = _inspect_reducer(name)([inspect_scorer.Score(value=v) for v in values])
    number = inspect_scorer.value_to_float()(reduced.value)
    return None if math.isnan(number) else number


def _ours(name: str, values: list) -> float | None:
    trials = []
    for value in values:
        score = normalize_value(value)
        trials.append((score.value, score.raw))
    return reducer(name)(trials)


@pytest.mark.parametrize(
    "name", ["mean", "median", "mode", "max", "at_least_1", "at_least_2", "pass_at_2"]
)
@settings(max_examples=150, deadline=None)
@given(values=st.lists(VALUES, min_size=2, max_size=6))
def test_each_reducer_reduces_as_inspects(name, values):
    expected = _theirs(name, values)
    got = _ours(name, values)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_declared_reducer_is_the_first_named_else_the_default():
    assert declared_reducer(["at_least_2", "mean"]) == "at_least_2"
    assert declared_reducer("max") == "max"
    assert declared_reducer(None) == DEFAULT_REDUCER == "mean"


def test_an_unknown_reducer_falls_back_to_the_default_and_says_so():
    tally = EpochTally("my_custom_reducer", epochs=2)
    assert tally.reducer_name == "mean"


class _S:
    def __init__(self, value):
        reading = normalize_value(value)
        self.value, self.raw = reading.value, reading.raw


def _count(rows, reducer_name="mean", epochs=1):
    tally = EpochTally(reducer_name, epochs=epochs)
    for sample_id, value in rows:
        tally.add(sample_id, {"s": _S(value)})
    (count,) = tally.counts()
    return count


def test_100_scenarios_x_3_epochs_count_100_samples_not_300_trials():
    rows = [(f"q{i}", "I") for i in range(100) for _ in range(3)]
    count = _count(rows, epochs=3)
    assert (count.k, count.n, count.k_trials, count.n_trials, count.k_any) == (0, 100, 0, 300, 0)


def test_partial_credit_keeps_every_sample_in_n_and_has_no_k():
    rows = [(f"q{i}", 1.0) for i in range(40)] + [(f"r{i}", 0.5) for i in range(8)]
    count = _count(rows)
    assert (count.n, count.k, count.unscored) == (48, None, 0)
    assert count.mean == pytest.approx((40 + 4) / 48)
    assert count.k_trials is None and count.k_any is None


def test_partial_and_no_answer_letters_are_counted_on_their_own():
    rows = [("a", "C"), ("b", "P"), ("c", "N"), ("d", "N"), ("e", "I")]
    count = _count(rows)
    assert (count.partial_trials, count.no_answer_trials, count.n) == (1, 2, 5)
    assert count.k is None  # P is 0.5: not a 0/1 score
    binary = _count([("a", "C"), ("c", "N"), ("d", "N"), ("e", "I")])
    assert (binary.k, binary.n, binary.no_answer_trials) == (1, 4, 2)  # N read as 0, as Inspect


def test_at_least_2_of_a_sample_left_with_one_epoch_is_zero():
    # a cancelled run: "b" got only one epoch; Inspect reduces it all the same
    rows = [("a", "C"), ("a", "C"), ("a", "I"), ("b", "C")]
    count = _count(rows, "at_least_2", epochs=3)
    assert (count.k, count.n, count.k_trials, count.n_trials, count.k_any) == (1, 2, 3, 4, 2)


def test_unscored_epochs_are_left_out_and_unscored_samples_counted():
    rows = [("a", float("nan")), ("a", "C"), ("b", float("nan")), ("b", None)]
    count = _count(rows, epochs=2)
    assert (count.n, count.k, count.n_trials, count.unscored) == (1, 1, 1, 1)


def test_stderr_is_inspects_sample_standard_error():
    rows = [("a", 1.0), ("b", 0.0), ("c", 0.5), ("d", 1.0)]
    values = [1.0, 0.0, 0.5, 1.0]
    mean = sum(values) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    assert _count(rows).stderr == pytest.approx(sd / 2)
