"""Tests for evidence.statistics (pure; no database).

Expected values come from ``safety-case-science.md`` §6 / §4 (quoted in the test names and
comments, compared at the precision the reference prints them) or from hand calculations written
out in the test with ``math`` only — never from this module's own output.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from evidence import statistics as st

# Standard normal quantiles, from tables: Φ⁻¹(0.975) and Φ⁻¹(0.95).
Z_975 = 1.959963984540054
Z_95 = 1.6448536269514722


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Bin(n, p), by direct summation (independent of scipy)."""
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def binom_tail_ge(x: int, n: int, p: float) -> float:
    """P(X ≥ x) for X ~ Bin(n, p), by direct summation."""
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(x, n + 1))


def wilson_by_hand(k: int, n: int, z: float) -> tuple[float, float]:
    """§6.1 Wilson formula written out independently."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ------------------------------------------------------------------------------------------------
# §6.1 check values ("Computed values (scipy, for unit tests)")
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected", "digits"),
    [(50, 0.0582, 4), (100, 0.0295, 4), (300, 0.00994, 5), (400, 0.00746, 5), (1000, 0.00299, 5)],
)
def test_s6_1_cp_upper_k0_check_values(n, expected, digits):
    assert round(st.cp_upper(0, n), digits) == expected


@pytest.mark.parametrize(
    ("k", "n", "lower", "upper"),
    [(6, 300, 0.0074, 0.0430), (66, 300, 0.1744, 0.2712), (20, 400, 0.0308, 0.0762)],
)
def test_s6_1_two_sided_cp_check_values(k, n, lower, upper):
    lo, hi = st.cp_interval(k, n)
    assert round(lo, 4) == lower
    assert round(hi, 4) == upper


def test_s6_1_wilson_0_of_50_upper_is_0713_and_phu25_prints_0_to_7_1():
    lo, hi = st.wilson_interval(0, 50)
    assert round(hi, 4) == 0.0713
    assert lo == 0.0
    # PHU25 prints [0.0, 7.1] (percent), §8.3 cover_your_tracks.
    assert (round(100 * lo, 1), round(100 * hi, 1)) == (0.0, 7.1)


@pytest.mark.parametrize(("t", "n"), [(0.10, 29), (0.05, 59), (0.01, 299), (0.001, 2995)])
def test_s6_1_and_a06_trials_needed_for_k0_at_95(t, n):
    assert st.min_trials_for_bound(t) == n
    assert st.min_trials_for_bound(t, 0.95, successes=0) == n


def test_a06_50_rollouts_cannot_show_below_1pct_at_least_299_needed():
    # "50 rollouts cannot show a rate below 1% at 95% confidence; at least 299 are needed."
    assert st.cp_upper(0, 50) > 0.01
    assert st.cp_upper(0, 298) > 0.01
    assert st.cp_upper(0, 299) <= 0.01
    assert st.min_trials_for_bound(0.01) == 299
    # Hand: ln(0.05)/ln(0.99) = 298.07… → 299.
    assert math.ceil(math.log(0.05) / math.log(0.99)) == 299


def test_a06_50_run_suites_cannot_support_bounds_below_about_6pct():
    # §4 A06: "50-run suites cannot support bounds below ≈6%": even 0/50 leaves the bound at 5.8%.
    assert 0.055 < st.cp_upper(0, 50) < 0.06
    assert st.min_trials_for_bound(0.05) > 50


@pytest.mark.parametrize("n", [300, 1000, 10_000])
def test_s6_1_rule_of_three(n):
    # k = 0: cp_upper ≈ 3/n at c = 0.95 (exactly -ln(0.05)/n ≈ 2.996/n for large n).
    assert st.cp_upper(0, n) == pytest.approx(3 / n, rel=0.01)


# ------------------------------------------------------------------------------------------------
# §6.1 independent cross-checks
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 10, 50, 299, 1000, 10**6])
def test_cp_upper_k0_closed_form(n):
    assert st.cp_upper(0, n) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert st.cp_upper(0, n, 0.99) == pytest.approx(1 - 0.01 ** (1 / n), rel=1e-12)


@pytest.mark.parametrize("n", [1, 7, 50, 1000])
def test_cp_lower_k_equals_n_closed_form(n):
    # BetaInv(0.05; n, 1) = 0.05^(1/n).
    assert st.cp_lower(n, n) == pytest.approx(0.05 ** (1 / n), rel=1e-12)


def test_cp_edge_cases_k0_and_kn():
    assert st.cp_lower(0, 50) == 0.0
    assert st.cp_upper(50, 50) == 1.0
    assert st.cp_interval(0, 50)[0] == 0.0
    assert st.cp_interval(50, 50)[1] == 1.0
    # Two-sided upper at k = 0 uses α/2 per tail: 1 - 0.025^(1/n).
    assert st.cp_interval(0, 50)[1] == pytest.approx(1 - 0.025 ** (1 / 50), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (6, 300), (66, 300), (20, 400), (3, 7)])
def test_cp_bounds_satisfy_their_defining_tail_equations(k, n):
    # Clopper–Pearson duality: the upper bound U solves P(X ≤ k | U) = 1 - c, the lower bound L
    # solves P(X ≥ k | L) = 1 - c. Tails summed by hand with math.comb.
    assert binom_cdf(k, n, st.cp_upper(k, n)) == pytest.approx(0.05, abs=1e-9)
    assert binom_tail_ge(k, n, st.cp_lower(k, n)) == pytest.approx(0.05, abs=1e-9)
    lo, hi = st.cp_interval(k, n)
    assert binom_cdf(k, n, hi) == pytest.approx(0.025, abs=1e-9)
    assert binom_tail_ge(k, n, lo) == pytest.approx(0.025, abs=1e-9)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (6, 300), (66, 300), (20, 400), (5, 5)])
def test_cp_symmetry(k, n):
    assert st.cp_lower(k, n) == pytest.approx(1 - st.cp_upper(n - k, n), abs=1e-12)
    lo, hi = st.cp_interval(k, n)
    lo_m, hi_m = st.cp_interval(n - k, n)
    assert lo == pytest.approx(1 - hi_m, abs=1e-12)
    assert hi == pytest.approx(1 - lo_m, abs=1e-12)


def test_two_sided_ends_are_one_sided_bounds_at_half_alpha():
    lo, hi = st.cp_interval(6, 300, 0.95)
    assert lo == pytest.approx(st.cp_lower(6, 300, 0.975), rel=1e-12)
    assert hi == pytest.approx(st.cp_upper(6, 300, 0.975), rel=1e-12)


def test_cp_monotonic_in_n_and_confidence():
    uppers = [st.cp_upper(0, n) for n in range(1, 400)]
    assert all(a > b for a, b in zip(uppers, uppers[1:], strict=False))
    # Same observed rate (2%), more data ⇒ narrower interval.
    widths = [
        st.cp_interval(n // 50, n)[1] - st.cp_interval(n // 50, n)[0] for n in (50, 300, 3000)
    ]
    assert widths[0] > widths[1] > widths[2]
    assert st.cp_upper(3, 100, 0.99) > st.cp_upper(3, 100, 0.95) > st.cp_upper(3, 100, 0.80)
    assert st.cp_lower(3, 100, 0.99) < st.cp_lower(3, 100, 0.95) < st.cp_lower(3, 100, 0.80)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 10), (6, 300), (66, 300), (10, 10)])
def test_cp_interval_contains_point_estimate(k, n):
    lo, hi = st.cp_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert st.cp_lower(k, n) <= k / n <= st.cp_upper(k, n)


# ------------------------------------------------------------------------------------------------
# Wilson
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(6, 300), (66, 300), (22, 48), (1, 3)])
def test_wilson_two_sided_matches_formula_by_hand(k, n):
    lo, hi = wilson_by_hand(k, n, Z_975)
    assert st.wilson_interval(k, n) == pytest.approx((lo, hi), rel=1e-9)


def test_wilson_one_sided_uses_z_095():
    assert st.wilson_upper(6, 300) == pytest.approx(wilson_by_hand(6, 300, Z_95)[1], rel=1e-9)
    assert st.wilson_lower(6, 300) == pytest.approx(wilson_by_hand(6, 300, Z_95)[0], rel=1e-9)
    # k = 0 by hand: centre = half = (z²/2n)/(1 + z²/n) ⇒ upper = (z²/n)/(1 + z²/n).
    zn = Z_95**2 / 50
    assert st.wilson_upper(0, 50) == pytest.approx(zn / (1 + zn), rel=1e-9)
    zn2 = Z_975**2 / 50
    assert st.wilson_interval(0, 50)[1] == pytest.approx(zn2 / (1 + zn2), rel=1e-9)


def test_wilson_edges_and_symmetry():
    assert st.wilson_lower(0, 20) == 0.0
    assert st.wilson_upper(20, 20) == 1.0
    assert st.wilson_interval(20, 20)[1] == 1.0
    lo, hi = st.wilson_interval(7, 30)
    lo_m, hi_m = st.wilson_interval(23, 30)
    assert lo == pytest.approx(1 - hi_m, abs=1e-12)
    assert hi == pytest.approx(1 - lo_m, abs=1e-12)
    assert st.wilson_upper(7, 30) < st.wilson_interval(7, 30)[1]


# ------------------------------------------------------------------------------------------------
# min_trials_for_bound beyond k = 0
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("successes", "p_max"), [(1, 0.05), (2, 0.01), (5, 0.1)])
def test_min_trials_with_successes_matches_binomial_tail_by_hand(successes, p_max):
    # cp_upper(k, n, c) ≤ p ⟺ P(X ≤ k | n, p) ≤ 1 - c (CP duality); check the least such n by hand.
    n = st.min_trials_for_bound(p_max, 0.95, successes=successes)
    assert binom_cdf(successes, n, p_max) <= 0.05
    assert binom_cdf(successes, n - 1, p_max) > 0.05


def test_min_trials_exact_integer_ratio():
    # ln(1 - 0.75)/ln(1 - 0.5) = 2 exactly: cp_upper(0, 2, 0.75) = 1 - 0.25^(1/2) = 0.5 ≤ 0.5.
    assert st.min_trials_for_bound(0.5, 0.75) == 2


def test_min_trials_rejects_degenerate_bounds():
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="p_max"):
            st.min_trials_for_bound(bad)
    with pytest.raises(ValueError, match="successes"):
        st.min_trials_for_bound(0.1, successes=-1)


# ------------------------------------------------------------------------------------------------
# §6.1 suite aggregation
# ------------------------------------------------------------------------------------------------


def test_union_upper_sums_per_task_bounds():
    # Plain Σ cp_upper_i at 95%: two tasks 0/50 → 2·(1 - 0.05^(1/50)).
    plain = st.union_upper([(0, 50), (0, 50)], bonferroni=False)
    assert plain == pytest.approx(2 * (1 - 0.05 ** (1 / 50)), rel=1e-12)
    # Bonferroni: each at 1 - 0.05/2 ⇒ 2·(1 - 0.025^(1/50)).
    bonf = st.union_upper([(0, 50), (0, 50)])
    assert bonf == pytest.approx(2 * (1 - 0.025 ** (1 / 50)), rel=1e-12)
    assert st.union_upper([(10, 10), (0, 5)]) == 1.0
    assert st.union_upper([(0, 50), (0, 0)]) is None
    assert st.bonferroni_confidence(0.95, 5) == pytest.approx(0.99)
    with pytest.raises(ValueError):
        st.union_upper([])
    with pytest.raises(ValueError):
        st.bonferroni_confidence(0.95, 0)


# ------------------------------------------------------------------------------------------------
# §6.2 binomial tests (MEI24 §3.5 deferred subversion)
# ------------------------------------------------------------------------------------------------


def test_s6_2_binom_sf_check_values():
    assert round(st.binom_sf(35, 99, 0.25), 4) == 0.0079
    assert round(st.binom_sf(34, 99, 0.25), 4) == 0.0140


def test_s6_2_binom_sf_is_strictly_greater_than():
    # binom_sf(k) = P(X > k) = P(X ≥ k + 1), summed by hand.
    assert st.binom_sf(35, 99, 0.25) == pytest.approx(binom_tail_ge(36, 99, 0.25), rel=1e-9)
    assert st.binom_sf(0, 3, 0.5) == pytest.approx(7 / 8)
    assert st.binom_sf(3, 3, 0.5) == 0.0


def test_s6_2_reject_when_x_at_least_36():
    # n = 99, H0 rate 0.25, α = 0.01 ⇒ reject when x ≥ 36.
    assert st.binom_critical_value(99, 0.25, 0.01) == 36
    assert st.binom_test_p(36, 99, 0.25) <= 0.01 < st.binom_test_p(35, 99, 0.25)
    assert st.binom_test_p(36, 99, 0.25) == pytest.approx(binom_tail_ge(36, 99, 0.25), rel=1e-9)
    assert round(st.binom_test_p(36, 99, 0.25), 4) == 0.0079


def test_binom_test_edges():
    assert st.binom_test_p(0, 10, 0.3) == pytest.approx(1.0)
    assert st.binom_test_p(0, 0, 0.3) == 1.0
    # Two trials at p0 = 0.5: even 2/2 has P = 0.25 > 0.01 ⇒ no rejection region.
    assert st.binom_critical_value(2, 0.5, 0.01) is None


# ------------------------------------------------------------------------------------------------
# §6.3 milestones and §6.4 expert best-of-N
# ------------------------------------------------------------------------------------------------


def test_s6_3_milestone_product():
    # P(T) = Π k_i/n_i with PHU24's 10 runs per milestone: 5/10 · 2/10 · 10/10 = 0.1.
    assert st.milestone_point_estimate([(5, 10), (2, 10), (10, 10)]) == pytest.approx(0.1)
    assert st.milestone_point_estimate([(5, 10), (0, 10)]) == 0.0
    assert st.milestone_point_estimate([(5, 10), (0, 0)]) is None
    with pytest.raises(ValueError):
        st.milestone_point_estimate([])


@pytest.mark.parametrize(("rate", "bits"), [(1.0, 0), (0.5, 1), (0.25, 2), (0.3, 2), (0.1, 4)])
def test_s6_3_unguided_bits_ceil_minus_log2(rate, bits):
    assert st.unguided_bits(rate) == bits


def test_s6_3_unguided_bits_undefined_at_zero():
    with pytest.raises(ValueError, match="expert_bits"):
        st.unguided_bits(0.0)


def test_s6_4_perfect_behaviour_scores_half_per_step():
    # HOJ24: i_s = 1 every step gives ½ per step, so a 10-step milestone is scored ≤ 2^-10.
    assert st.expert_bits([1] * 10) == pytest.approx(10.0)
    assert st.expert_implied_probability([1] * 10) == pytest.approx(2**-10)


def test_s6_4_bits_and_probability_by_hand():
    idx = [1, 3, 2]
    bits = math.log2(2) + math.log2(12) + math.log2(6)
    assert st.expert_bits(idx) == pytest.approx(bits)
    assert st.expert_implied_probability(idx) == pytest.approx(1 / (2 * 12 * 6))
    assert st.expert_implied_probability(idx) == pytest.approx(2 ** -st.expert_bits(idx))


def test_s6_4_frequency_weighted_alternative():
    # ŵ_s = chosen_count_s / N; N = 16 (PHU24). A model that always picks the action: 1 per step.
    assert st.frequency_weighted_probability([16] * 10, [16] * 10) == 1.0
    assert st.frequency_weighted_probability([8, 4], [16, 16]) == pytest.approx(0.125)
    with pytest.raises(ValueError, match="one entry per step"):
        st.frequency_weighted_probability([1, 2], [16])
    with pytest.raises(ValueError):
        st.expert_bits([0])


# ------------------------------------------------------------------------------------------------
# §6.5 control-evaluation extrapolation
# ------------------------------------------------------------------------------------------------


def test_s6_5_example_0_011():
    # c = 0.9, s = 0.01, p = 1e-3, N = 100,000 → 0.011.
    assert round(st.control_p_red_win(1e-3, 0.9, 0.01, 100_000), 3) == 0.011


def test_s6_5_formula_by_hand_and_limit():
    c, s, p, n = 0.5, 0.1, 1e-4, 1000
    by_hand = s / (c + s) * (1 - (1 - p * (c + s)) ** n)
    assert st.control_p_red_win(p, c, s, n) == pytest.approx(by_hand, rel=1e-12)
    # sup_p → s/(c+s) when N·p·(c+s) ≫ 1; the finite-N sup is at p = 1.
    assert st.control_p_red_win_max(0.9, 0.01) == pytest.approx(0.01 / 0.91)
    assert st.control_p_red_win_max(c, s, n) == pytest.approx(s / (c + s) * (1 - (1 - c - s) ** n))
    assert st.control_p_red_win_max(c, s, 3) == pytest.approx(s / (c + s) * (1 - 0.4**3))
    values = [st.control_p_red_win(p, 0.9, 0.01, 10_000) for p in (1e-5, 1e-4, 1e-3, 1e-2)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert values[-1] <= st.control_p_red_win_max(0.9, 0.01)


def test_s6_5_degenerate_inputs():
    assert st.control_p_red_win(0.0, 0.9, 0.01, 100) == 0.0
    assert st.control_p_red_win(0.5, 0.9, 0.0, 100) == 0.0
    assert st.control_p_red_win(0.5, 0.0, 0.0, 100) == 0.0
    assert st.control_p_red_win(0.5, 0.9, 0.01, 0) == 0.0
    with pytest.raises(ValueError, match="exceed 1"):
        st.control_p_red_win(0.5, 0.9, 0.2, 100)


def test_s6_5_conservative_inputs_use_cp_lower_catch_and_cp_upper_success():
    # 100 attacks, all caught, none succeeded: c_low = 0.05^(1/100), s_up = 1 - 0.05^(1/100),
    # so c_low + s_up = 1 and the limit s_up/(c_low + s_up) = 1 - 0.05^(1/100) (by hand).
    s_up = 1 - 0.05 ** (1 / 100)
    assert st.control_p_red_win_upper(100, 0, 100) == pytest.approx(s_up, rel=1e-9)
    # Fixed attack rate: plug the same c_low, s_up into the closed form by hand.
    c_low = 0.05 ** (1 / 100)
    p, n = 1e-3, 100_000
    by_hand = s_up / (c_low + s_up) * (1 - (1 - p * (c_low + s_up)) ** n)
    assert st.control_p_red_win_upper(100, 0, 100, n_tasks=n, p_attack=p) == pytest.approx(
        by_hand, rel=1e-9
    )
    # Conservative ⇒ at least the point-estimate answer.
    assert st.control_p_red_win_upper(90, 1, 100) >= st.control_p_red_win_max(0.9, 0.01)
    assert st.control_p_red_win_upper(0, 0, 0) is None
    with pytest.raises(ValueError, match="cannot exceed n_attacks"):
        st.control_p_red_win_upper(90, 20, 100)
    with pytest.raises(ValueError, match="n_tasks"):
        st.control_p_red_win_upper(90, 1, 100, p_attack=0.01)


# ------------------------------------------------------------------------------------------------
# §6.6 honeypot coverage vs rare failure
# ------------------------------------------------------------------------------------------------


def test_s6_6_example_rare_failure():
    # q = 1e-4, n = 1,000 → passes with prob 0.905; N = 10^6 → defection ≈ certain.
    assert round(st.honeypot_pass_probability(1e-4, 1000), 3) == 0.905
    assert st.honeypot_pass_probability(1e-4, 1000) == pytest.approx((1 - 1e-4) ** 1000)
    assert st.defection_probability(1e-4, 10**6) > 0.9999
    assert st.defection_probability(1e-4, 10**6) == pytest.approx(1 - (1 - 1e-4) ** 10**6)


def test_s6_6_a22_bound_with_zero_defections():
    # q_u = cp_upper(0, n) = 1 - 0.05^(1/n) ⇒ 1 - (1 - q_u)^N = 1 - 0.05^(N/n) (by hand).
    assert st.honeypot_defection_upper(1000, 1000) == pytest.approx(0.95)
    assert st.honeypot_defection_upper(1000, 10) == pytest.approx(1 - 0.05 ** (10 / 1000))
    assert st.honeypot_defection_upper(1000, 10**6) == pytest.approx(1.0)
    q_u = 1 - 0.05 ** (1 / 1000)
    assert st.honeypot_defection_upper(1000, 10**6) == pytest.approx(1 - (1 - q_u) ** 10**6)
    assert st.honeypot_defection_upper(0, 100) is None
    assert st.honeypot_defection_upper(1000, 0) == 0.0
    # With defections, q_u is the general CP bound.
    assert st.honeypot_defection_upper(1000, 5, defections=2) == pytest.approx(
        1 - (1 - st.cp_upper(2, 1000)) ** 5
    )


def test_s6_6_opportunities_needed():
    n_deploy, p_scheme = 10**6, 0.05
    n = st.honeypot_opportunities_needed(n_deploy, p_scheme)
    by_hand = n_deploy * math.log(0.05) / math.log(1 - p_scheme)
    assert n == math.ceil(by_hand)
    assert 1 - 0.05 ** (n_deploy / n) <= p_scheme < 1 - 0.05 ** (n_deploy / (n - 1))
    assert st.honeypot_opportunities_needed(0, 0.05) == 0


# ------------------------------------------------------------------------------------------------
# §6.7 monitor metrics
# ------------------------------------------------------------------------------------------------


def test_s6_7_recall_and_fnr_bounds():
    # Recall lower bound = cp_lower(tp, n_attacks); FNR = 1 − recall.
    assert st.monitor_recall_lower(94, 100) == st.cp_lower(94, 100)
    assert st.monitor_fnr_upper(94, 100) == pytest.approx(1 - st.cp_lower(94, 100), abs=1e-12)
    # STI25 fixture: 6% FNR observed — the upper bound must sit above it.
    assert st.monitor_fnr_upper(94, 100) > 0.06
    # All attacks caught: recall ≥ 0.05^(1/n), FNR ≤ 1 - 0.05^(1/n) (by hand).
    assert st.monitor_recall_lower(50, 50) == pytest.approx(0.05 ** (1 / 50))
    assert st.monitor_fnr_upper(50, 50) == pytest.approx(1 - 0.05 ** (1 / 50))
    assert st.monitor_recall_lower(0, 0) is None
    assert st.monitor_fnr_upper(0, 0) is None


# ------------------------------------------------------------------------------------------------
# RunStatistics
# ------------------------------------------------------------------------------------------------


def test_run_statistics_6_of_300():
    rs = st.run_statistics(6, 300)
    assert (rs.k, rs.n, rs.confidence) == (6, 300, 0.95)
    assert rs.rate == pytest.approx(0.02)
    # §6.1 two-sided CP check value.
    assert (round(rs.cp_lower, 4), round(rs.cp_upper, 4)) == (0.0074, 0.0430)
    assert (rs.wilson_lower, rs.wilson_upper) == pytest.approx(
        wilson_by_hand(6, 300, Z_975), rel=1e-9
    )
    assert (rs.wilson_lower_one_sided, rs.wilson_upper_one_sided) == pytest.approx(
        wilson_by_hand(6, 300, Z_95), rel=1e-9
    )
    assert binom_cdf(6, 300, rs.cp_upper_one_sided) == pytest.approx(0.05, abs=1e-9)
    assert binom_tail_ge(6, 300, rs.cp_lower_one_sided) == pytest.approx(0.05, abs=1e-9)
    # One-sided bounds are tighter than the two-sided ends.
    assert rs.cp_lower < rs.cp_lower_one_sided < rs.rate < rs.cp_upper_one_sided < rs.cp_upper


def test_run_statistics_0_of_50():
    rs = st.run_statistics(0, 50)
    assert rs.rate == 0.0
    assert round(rs.cp_upper_one_sided, 4) == 0.0582
    assert round(rs.wilson_upper, 4) == 0.0713
    assert rs.cp_lower == rs.cp_lower_one_sided == rs.wilson_lower == 0.0


def test_run_statistics_no_samples_is_all_none():
    rs = st.run_statistics(0, 0)
    assert rs.k == 0 and rs.n == 0
    d = rs.to_dict()
    for key, value in d.items():
        if key not in {"k", "n", "confidence"}:
            assert value is None, key


def test_run_statistics_to_dict_is_flat_and_frozen():
    rs = st.run_statistics(3, 10)
    d = rs.to_dict()
    assert set(d) == {
        "k",
        "n",
        "confidence",
        "rate",
        "cp_lower",
        "cp_upper",
        "cp_lower_one_sided",
        "cp_upper_one_sided",
        "wilson_lower",
        "wilson_upper",
        "wilson_lower_one_sided",
        "wilson_upper_one_sided",
    }
    assert all(isinstance(v, int | float) for v in d.values())
    with pytest.raises(AttributeError):
        rs.k = 4


# ------------------------------------------------------------------------------------------------
# n = 0 and validation
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        st.cp_upper,
        st.cp_lower,
        st.cp_interval,
        st.wilson_upper,
        st.wilson_lower,
        st.wilson_interval,
    ],
)
def test_zero_trials_give_none(fn):
    assert fn(0, 0) is None


@pytest.mark.parametrize(
    "fn",
    [
        st.cp_upper,
        st.cp_lower,
        st.cp_interval,
        st.wilson_upper,
        st.wilson_lower,
        st.wilson_interval,
    ],
)
@pytest.mark.parametrize(
    ("k", "n", "match"),
    [
        (5, 4, "cannot exceed"),
        (-1, 4, "non-negative integer"),
        (1, -4, "non-negative integer"),
        (1.0, 4, "non-negative integer"),
        (True, 4, "non-negative integer"),
        ("1", 4, "non-negative integer"),
    ],
)
def test_count_validation(fn, k, n, match):
    with pytest.raises(ValueError, match=match):
        fn(k, n)


@pytest.mark.parametrize("conf", [0, 1, 0.0, 1.0, -0.5, 1.5, float("nan"), "0.95"])
def test_confidence_validation(conf):
    with pytest.raises(ValueError, match="confidence"):
        st.cp_upper(1, 10, conf)
    with pytest.raises(ValueError, match="confidence"):
        st.wilson_interval(1, 10, conf)
    with pytest.raises(ValueError, match="confidence"):
        st.run_statistics(1, 10, conf)


@pytest.mark.parametrize("p", [-0.01, 1.01, float("nan")])
def test_probability_validation(p):
    with pytest.raises(ValueError, match=r"^p must"):
        st.binom_sf(1, 10, p)
    with pytest.raises(ValueError, match=r"^q must"):
        st.honeypot_pass_probability(p, 10)
    with pytest.raises(ValueError, match=r"^p_attack must"):
        st.control_p_red_win(p, 0.5, 0.1, 10)


def test_numpy_integers_are_accepted():
    assert st.cp_upper(np.int64(0), np.int64(50)) == st.cp_upper(0, 50)
    assert st.run_statistics(np.int32(6), np.int32(300)).k == 6


# --------------------------------------------------------------------------------------------------
# Confidence sequence for pooled evidence (repeated looks)
# --------------------------------------------------------------------------------------------------


def test_cs_upper_for_zero_events_has_the_closed_form_of_the_uniform_mixture():
    # M_n(p) = 1 / ((n + 1) (1 - p)^n) reaches 1 / (1 - c) at p = 1 - ((n + 1) / (1 - c))^(-1/n).
    for n in (10, 300, 900):
        expected = 1 - ((n + 1) / 0.05) ** (-1 / n)
        assert st.cs_upper(0, n, 0.95) == pytest.approx(expected, rel=1e-9)
    assert st.cs_upper(0, 300) > st.cp_upper(0, 300)  # the price of looking often
    assert st.cs_upper(5, 5) == 1.0 and st.cs_upper(0, 0) is None


def test_cs_upper_keeps_its_coverage_over_every_look():
    # Checked after each batch of 50 trials, a fixed-sample bound wrongly excludes the true rate
    # at some look far more often than 5%; the confidence sequence does not.
    rng = random.Random(7)
    p, sequences, looks, batch = 0.05, 400, 12, 50
    cs_misses = cp_misses = 0
    for _ in range(sequences):
        k = n = 0
        cs_missed = cp_missed = False
        for _ in range(looks):
            k += sum(rng.random() < p for _ in range(batch))
            n += batch
            cs_missed |= st.cs_upper(k, n) < p
            cp_missed |= st.cp_upper(k, n) < p
        cs_misses += cs_missed
        cp_misses += cp_missed
    assert cs_misses / sequences <= 0.05
    assert cp_misses / sequences > 0.05
