"""Evaluation of CEL criteria: the domain functions and the error contract of `evaluate`.

Expected values come from closed forms computed here, from the published figures in the
science reference (§6.1, §6.2, §6.5, §6.6) and from `evidence.statistics`, never from the
output of the code under test.
"""

from __future__ import annotations

import logging
import math

import pytest

from evidence import statistics
from safetycase.core.criteria import (
    DOMAIN_FUNCTIONS,
    RUN_VARIABLES,
    EvaluationError,
    ExpressionError,
    compile_expression,
    evaluate,
)


def run(text: str, **variables):
    compiled = compile_expression(text, variables={*RUN_VARIABLES, *variables})
    return evaluate(compiled, variables)


# --------------------------------------------------------------------------------------------
# Clopper–Pearson and Wilson bounds


@pytest.mark.parametrize("n", [1, 50, 100, 300, 400, 1000])
def test_cp_upper_with_no_successes_is_the_closed_form(n):
    # §6.1: k = 0 gives 1 - (1 - c)^(1/n).
    expected = 1 - 0.05 ** (1 / n)
    assert run("cp_upper(k, n, 0.95)", k=0, n=n) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "published"), [(50, 0.0582), (100, 0.0295), (300, 0.00994), (1000, 0.00299)]
)
def test_cp_upper_matches_the_published_figures(n, published):
    assert run("cp_upper(0, n, 0.95)", n=n) == pytest.approx(published, abs=5e-5)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (6, 300), (66, 300), (20, 400), (9, 10)])
def test_bounds_agree_with_evidence_statistics(k, n):
    for name in ("cp_upper", "cp_lower", "wilson_upper", "wilson_lower"):
        expected = getattr(statistics, name)(k, n, 0.9)
        assert run(f"{name}(k, n, 0.9)", k=k, n=n) == pytest.approx(expected, rel=1e-12)


def test_confidence_defaults_to_95_percent():
    assert run("cp_upper(k, n) == cp_upper(k, n, 0.95)", k=3, n=40) is True
    assert run("wilson_lower(k, n) == wilson_lower(k, n, 0.95)", k=3, n=40) is True


def test_cp_lower_mirrors_cp_upper():
    # cp_lower(k, n, c) = 1 - cp_upper(n - k, n, c)
    lower = run("cp_lower(7, 30, 0.95)")
    upper = run("cp_upper(23, 30, 0.95)")
    assert lower == pytest.approx(1 - upper, rel=1e-9)


def test_wilson_upper_is_the_one_sided_score_bound():
    # Wilson with z = Φ⁻¹(0.95) = 1.6448536269514722, computed here from the formula.
    k, n, z = 3, 40, 1.6448536269514722
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert run("wilson_upper(3, 40, 0.95)") == pytest.approx(centre + half, rel=1e-9)
    assert run("wilson_lower(3, 40, 0.95)") == pytest.approx(centre - half, rel=1e-9)


# --------------------------------------------------------------------------------------------
# Binomial tests, sample size


def test_binom_sf_matches_the_exact_sum_and_the_published_values():
    exact = sum(math.comb(99, x) * 0.25**x * 0.75 ** (99 - x) for x in range(36, 100))
    assert run("binom_sf(35, 99, 0.25)") == pytest.approx(exact, rel=1e-9)
    assert run("binom_sf(35, 99, 0.25)") == pytest.approx(0.0079, abs=5e-5)  # §6.2
    assert run("binom_sf(34, 99, 0.25)") == pytest.approx(0.0140, abs=5e-5)


def test_binom_sf_is_defined_below_zero_and_at_n():
    # P(X > -1) = 1 and P(X > n) = 0, so "binom_sf(k - 1, n, p)" works for k = 0.
    assert run("binom_sf(k - 1, n, 0.25)", k=0, n=99) == 1.0
    assert run("binom_sf(n, n, 0.25)", n=99) == 0.0
    assert run("binom_sf(k - 1, n, 0.25) >= 0.01", k=0, n=99) is True


@pytest.mark.parametrize(("t", "expected"), [(0.1, 29), (0.05, 59), (0.01, 299), (0.001, 2995)])
def test_n_for_zero(t, expected):
    # §6.1: n >= ln(1 - c) / ln(1 - t), rounded up.
    assert math.ceil(math.log(0.05) / math.log(1 - t)) == expected
    assert run("n_for_zero(t)", t=t) == expected
    assert run("n_for_zero(t, 0.95)", t=t) == statistics.min_trials_for_bound(t, 0.95)


# --------------------------------------------------------------------------------------------
# Control and honeypot functions


def test_p_red_win_closed_form_and_example():
    p, c, s, n = 1e-3, 0.9, 0.01, 100_000
    expected = s / (c + s) * (1 - (1 - p * (c + s)) ** n)
    assert run("p_red_win(0.001, 0.9, 0.01, 100000)") == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(0.011, abs=5e-4)  # §6.5's example


def test_max_p_red_win_is_the_limit_or_the_attack_rate_one():
    assert run("max_p_red_win(0.9, 0.01)") == pytest.approx(0.01 / 0.91, rel=1e-12)
    assert run("max_p_red_win(0.9, 0.01, 10)") == pytest.approx(
        0.01 / 0.91 * (1 - (1 - 0.91) ** 10), rel=1e-12
    )
    assert run("max_p_red_win(0.9, 0.01, 10) == p_red_win(1.0, 0.9, 0.01, 10)") is True


def test_p_any_defection():
    assert run("p_any_defection(0.0001, 1000)") == pytest.approx(1 - (1 - 1e-4) ** 1000)
    assert run("p_any_defection(0.0001, 1000000)") == pytest.approx(1.0, abs=1e-12)
    # A22's check: with 0 of 1,000 defections the bound on any defection in 1,000 deployment
    # opportunities equals the confidence (§6.6: N = n gives exactly c).
    assert run("p_any_defection(cp_upper(0, 1000, 0.95), 1000)") == pytest.approx(0.95)


# --------------------------------------------------------------------------------------------
# Aggregation and the bootstrap


def test_product_min_max_sum():
    assert run("product([0.01, 0.1])") == pytest.approx(0.001)
    assert run("product([])") == 1.0
    assert run("product([2, 3]) == 6.0") is True  # always a double
    assert run("min([3, 1, 2])") == 1
    assert run("max([0.5, 0.25])") == 0.5
    assert run("sum([1, 2, 3])") == 6
    assert run("sum([])") == 0


def test_bootstrap_p_separates_clearly_different_samples():
    # All 1s against all 0s: no pooled resample reaches a difference of 1 except with
    # probability 0.5^100, so only the +1 of (1 + hits) / (1 + 10000) remains.
    p = run("bootstrap_p(a, b)", a=[True] * 50, b=[False] * 50)
    assert p == pytest.approx(1 / 10_001)


def test_bootstrap_p_of_identical_samples_is_large_and_reproducible():
    sample = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1]
    p = run("bootstrap_p(a, b)", a=sample, b=sample)
    # Under the null the difference of means is symmetric around 0: P(diff >= 0) > 1/2.
    assert p > 0.5
    assert run("bootstrap_p(a, b)", a=sample, b=sample) == p  # fixed seed


def test_bootstrap_p_of_a_worse_first_sample_is_near_one():
    assert run("bootstrap_p(a, b)", a=[0] * 40, b=[1] * 40) > 0.99


# --------------------------------------------------------------------------------------------
# Errors: only EvaluationError, with a sentence


@pytest.mark.parametrize(
    ("text", "variables", "fragment"),
    [
        ("cp_upper(k, n, 0.95) < 0.01", {"k": 0, "n": 0}, "n = 0"),
        ("cp_upper(k, n, 0.95) < 0.01", {"k": 5, "n": 3}, "k <= n"),
        ("cp_upper(k, n, 1.5) < 0.01", {"k": 0, "n": 3}, "confidence"),
        ("cp_upper(k, n, 0.95) < 0.01", {"k": "0", "n": 3}, "whole number for k"),
        ("cp_upper(k, n, 0.95) < 0.01", {"k": 0}, "'n' is not available"),
        ("rate < 0.01", {"rate": None}, "'rate' is not available"),
        ("meta.x.y > 1", {"meta": {"x": {}}}, "key 'y' is missing"),
        ("k / n > 0", {"k": 1, "n": 0}, "divides by zero"),
        ("k + 0.5 > 1.0", {"k": 1}, "does not mix int and double"),
        ("[1, 2][5] == 1", {}, "out of range"),
        ("9223372036854775807 + k > 0", {"k": 1}, "overflow"),
        ("p_any_defection(2.0, 3) < 0.5", {}, "probability"),
        ("binom_sf(1, 10, -0.1) < 0.5", {}, "probability"),
        ("bootstrap_p(a, b) < 0.5", {"a": [], "b": [1]}, "at least one value"),
        ("bootstrap_p(a, b) < 0.5", {"a": ["x"], "b": [1]}, "numbers"),
        ("min(xs) > 0", {"xs": []}, "empty list"),
        ("n_for_zero(1.5) > 0", {}, "strictly between 0 and 1"),
        ("product(xs) > 0.0", {"xs": [1, "a"]}, "numbers"),
        ("cp_upper(1, 2, 0.95, 4) > 0.0", {}, "argument"),
    ],
)
def test_evaluation_errors_are_sentences(text, variables, fragment):
    with pytest.raises(EvaluationError) as caught:
        run(text, **variables)
    message = str(caught.value)
    assert message.startswith(f"The expression {text!r} could not be evaluated: ")
    assert message.endswith(".")
    assert fragment in message


def test_evaluation_error_is_an_expression_error():
    assert issubclass(EvaluationError, ExpressionError)


def test_a_failing_caller_function_becomes_an_evaluation_error():
    def broken(k, n):
        raise RuntimeError("backend down")

    with pytest.raises(EvaluationError, match="backend down"):
        evaluate(compile_expression("cp_upper(k, n) > 0.0"), {"k": 1, "n": 2}, {"cp_upper": broken})


def test_domain_function_failures_do_not_log_runtime_warnings(caplog):
    with caplog.at_level(logging.WARNING, logger="cel"), pytest.raises(EvaluationError):
        run("cp_upper(k, n) < 0.1", k=0, n=0)
    assert not [r for r in caplog.records if r.name == "cel"]


def test_every_declared_domain_function_is_implemented():
    calls = {
        "cp_upper": "cp_upper(0, 10)",
        "cp_lower": "cp_lower(1, 10)",
        "cs_upper": "cs_upper(0, 10)",
        "wilson_upper": "wilson_upper(0, 10)",
        "wilson_lower": "wilson_lower(1, 10)",
        "binom_sf": "binom_sf(1, 10, 0.5)",
        "bootstrap_p": "bootstrap_p([1, 0], [0, 1])",
        "n_for_zero": "n_for_zero(0.1)",
        "p_red_win": "p_red_win(0.1, 0.5, 0.1, 10)",
        "max_p_red_win": "max_p_red_win(0.5, 0.1)",
        "p_any_defection": "p_any_defection(0.1, 10)",
        "bonferroni": "bonferroni(0.95, 2)",
        "union_upper": "union_upper([[0, 10], [1, 10]])",
        "product": "product([1, 2])",
        "paired_upper": "paired_upper({'both': 5, 'only_a': 1, 'only_b': 0, 'neither': 4}, 0.9)",
        "paired_lower": "paired_lower({'both': 5, 'only_a': 1, 'only_b': 0, 'neither': 4})",
        "min": "min([1, 2])",
        "max": "max([1, 2])",
        "sum": "sum([1, 2])",
    }
    assert set(calls) == set(DOMAIN_FUNCTIONS)
    for text in calls.values():
        assert run(text) is not None


def test_paired_bounds_are_the_ends_of_newcombes_interval_at_the_two_sided_level():
    # A one-sided bound at c is an end of the two-sided interval at 2c − 1, so the 97.5%
    # bounds are the table's own 95% interval (statistics.paired_difference_interval, tested
    # against a hand computation in tests/safetycase/test_paired_difference.py).
    table = "{'both': 461, 'only_a': 9, 'only_b': 29, 'neither': 1}"
    lower, upper = statistics.paired_difference_interval(461, 9, 29, 1, 0.95)
    assert run(f"paired_upper({table}, 0.975)") == pytest.approx(upper, abs=1e-12)
    assert run(f"paired_lower({table}, 0.975)") == pytest.approx(lower, abs=1e-12)
    # Tighter one-sided levels reach further: the demo's 99.5% upper bound is above the 97.5% one.
    assert run(f"paired_upper({table}, 0.995)") > upper
    with pytest.raises(EvaluationError, match="no paired samples"):
        run("paired_upper({'both': 0, 'only_a': 0, 'only_b': 0, 'neither': 0})")
    with pytest.raises(EvaluationError, match="paired"):
        run("paired_upper([1, 2])")


def test_a_null_variable_counts_as_missing_and_values_are_not_kept_between_calls():
    compiled = compile_expression("k == 0")
    assert evaluate(compiled, {"k": 0}) is True
    with pytest.raises(EvaluationError, match="'k' is not available"):
        evaluate(compiled, {})
