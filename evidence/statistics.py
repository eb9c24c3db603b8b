"""Statistics that turn evaluation evidence into bounds acceptance criteria can test.

A pure module: no Django, no imports from ``safetycase``. Formulas follow
``safety-case-science.md`` §6 (statistical estimators) and the sample-size rule of §4 (A06); each
function's docstring names the section it implements.

Conventions
-----------
* ``k`` successes (or events) out of ``n`` trials; both non-negative ``int`` with ``k <= n``.
* ``confidence`` is the coverage of the bound or interval, strictly between 0 and 1 (default 0.95).
  *One-sided* functions (``cp_upper``, ``cp_lower``, ``wilson_upper``, ``wilson_lower``) put all
  of ``1 - confidence`` in one tail; *two-sided* functions (``cp_interval``, ``wilson_interval``)
  split it ``(1 - confidence) / 2`` per tail. An acceptance criterion of the form "rate below t"
  uses the one-sided upper bound (§4 A06, §6.1).
* ``n = 0`` carries no information: every bound and rate is ``None`` rather than an error.
* Probabilities are floats in ``[0, 1]``; anything invalid raises ``ValueError`` with a sentence
  saying what was wrong.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy.special import betaln
from scipy.stats import beta, binom, binomtest, norm

__all__ = [
    "RunStatistics",
    "binom_critical_value",
    "binom_power",
    "binom_trials_for_power",
    "binom_sf",
    "binom_test_p",
    "bonferroni_confidence",
    "control_p_red_win",
    "control_p_red_win_max",
    "control_p_red_win_upper",
    "cp_interval",
    "cp_lower",
    "cp_upper",
    "cs_upper",
    "defection_probability",
    "expert_bits",
    "expert_implied_probability",
    "frequency_weighted_probability",
    "honeypot_defection_upper",
    "honeypot_opportunities_needed",
    "honeypot_pass_probability",
    "PairedDifference",
    "mcnemar_exact_p",
    "milestone_interval",
    "milestone_point_estimate",
    "min_trials_for_bound",
    "min_trials_for_lower_bound",
    "monitor_fnr_upper",
    "monitor_recall_lower",
    "paired_binary_difference",
    "paired_difference_interval",
    "run_statistics",
    "union_upper",
    "unguided_bits",
    "wilson_interval",
    "wilson_lower",
    "wilson_upper",
]

DEFAULT_CONFIDENCE = 0.95


# --------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------


def _count(value: Any, name: str) -> int:
    """Return ``value`` as an ``int`` if it is a non-negative integer (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    value = int(value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}.")
    return value


def _counts(k: Any, n: Any, k_name: str = "k", n_name: str = "n") -> tuple[int, int]:
    k = _count(k, k_name)
    n = _count(n, n_name)
    if k > n:
        raise ValueError(f"{k_name} ({k}) cannot exceed {n_name} ({n}).")
    return k, n


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN.")
    return value


def _confidence(value: Any, name: str = "confidence") -> float:
    value = _real(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}.")
    return value


def _probability(value: Any, name: str = "p") -> float:
    value = _real(value, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}.")
    return value


def _open_probability(value: Any, name: str) -> float:
    value = _real(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}.")
    return value


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


# --------------------------------------------------------------------------------------------------
# §6.1 Clopper–Pearson (exact) bounds
# --------------------------------------------------------------------------------------------------


def _cp_upper(k: int, n: int, c: float) -> float:
    """One-sided CP upper bound, validated inputs, ``n > 0``."""
    if k == n:
        return 1.0
    if k == 0:
        # BetaInv(c; 1, n) has the closed form 1 - (1 - c)^(1/n) (§6.1); expm1/log1p keep it
        # accurate for large n.
        return -math.expm1(math.log1p(-c) / n)
    return float(beta.ppf(c, k + 1, n - k))


def _cp_lower(k: int, n: int, c: float) -> float:
    """One-sided CP lower bound, validated inputs, ``n > 0``."""
    if k == 0:
        return 0.0
    if k == n:
        # BetaInv(1 - c; n, 1) = (1 - c)^(1/n).
        return math.exp(math.log1p(-c) / n)
    return float(beta.ppf(1.0 - c, k, n - k + 1))


def cp_upper(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float | None:
    """One-sided Clopper–Pearson upper bound on the success rate (§6.1).

    ``cp_upper(k, n, c) = BetaInv(c; k + 1, n - k)``: with probability at least ``c`` the true rate
    is at or below this value. Edge cases: ``k = n`` gives 1; ``k = 0`` gives the closed form
    ``1 - (1 - c)^(1/n)`` (≈ 3/n at c = 0.95, the "rule of three"). ``n = 0`` gives ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    return _cp_upper(k, n, c)


def cs_upper(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float | None:
    """Upper bound of a Beta-binomial confidence sequence: valid whenever it is looked at.

    A fixed-sample bound such as ``cp_upper`` holds with probability ``c`` for one look at a
    pre-set ``n``; checked again after every new run, the chance that it ever wrongly passes
    grows with the number of looks. A confidence sequence keeps its coverage over every ``n``
    at once. With a uniform Beta(1, 1) mixture over the rate, the mixture likelihood ratio

        M_n(p) = B(1 + k, 1 + n - k) / (p^k (1 - p)^(n - k))

    is a non-negative martingale with mean 1 under the true rate ``p``, so by Ville's inequality
    P(M_n(p) >= 1 / (1 - c) for some n) <= 1 - c (Robbins 1970, "Statistical methods related to
    the law of the iterated logarithm"; Howard, Ramdas, McAuliffe and Sekhon 2021,
    "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2)).
    The bound is the largest ``p >= k / n`` with ``M_n(p) < 1 / (1 - c)``, found by bisection
    (``M_n`` increases in ``p`` above ``k / n``). It is wider than ``cp_upper``: 0 of 300 gives
    0.0286 at 95% (``cp_upper``: 0.0099), 0 of 900 gives 0.0108. ``n = 0`` gives ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    if k == n:
        return 1.0
    threshold = -math.log1p(-c)  # log(1 / (1 - c))
    log_mixture = float(betaln(1 + k, 1 + n - k))

    def log_ratio(p: float) -> float:
        log_likelihood = (k * math.log(p) if k else 0.0) + (n - k) * math.log1p(-p)
        return log_mixture - log_likelihood

    lo, hi = k / n, 1.0
    if log_ratio(max(lo, 1e-300)) >= threshold:
        return lo  # even the observed rate is excluded (cannot happen for c < 1)
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if log_ratio(mid) < threshold:
            lo = mid
        else:
            hi = mid
    return hi


def cp_lower(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float | None:
    """One-sided Clopper–Pearson lower bound on the success rate (§6.1, §6.7).

    ``cp_lower(k, n, c) = BetaInv(1 - c; k, n - k + 1)``: with probability at least ``c`` the true
    rate is at or above this value. Edge cases: ``k = 0`` gives 0; ``k = n`` gives
    ``(1 - c)^(1/n)``. Symmetry: ``cp_lower(k, n, c) = 1 - cp_upper(n - k, n, c)``. ``n = 0`` gives
    ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    return _cp_lower(k, n, c)


def cp_interval(
    k: int, n: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float] | None:
    """Two-sided Clopper–Pearson interval ``(lower, upper)`` at level ``confidence`` (§6.1).

    With ``α = 1 - confidence``: ``lower = BetaInv(α/2; k, n - k + 1)`` (0 if k = 0) and
    ``upper = BetaInv(1 - α/2; k + 1, n - k)`` (1 if k = n), i.e. each end is the one-sided bound at
    confidence ``1 - α/2``. ``n = 0`` gives ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    tail_c = 1.0 - (1.0 - c) / 2.0
    return _cp_lower(k, n, tail_c), _cp_upper(k, n, tail_c)


# --------------------------------------------------------------------------------------------------
# §6.1 Wilson score bounds (used by MEI24 and PHU25)
# --------------------------------------------------------------------------------------------------


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score ``(centre - half, centre + half)`` for critical value ``z``, ``n > 0``.

    ``centre = (p̂ + z²/2n) / (1 + z²/n)``,
    ``half = z·sqrt(p̂(1 - p̂)/n + z²/4n²) / (1 + z²/n)``.
    """
    p_hat = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p_hat + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p_hat * (1.0 - p_hat) / n + z2 / (4.0 * n * n)) / denom
    lower = 0.0 if k == 0 else _clip01(centre - half)
    upper = 1.0 if k == n else _clip01(centre + half)
    return lower, upper


def wilson_interval(
    k: int, n: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float] | None:
    """Two-sided Wilson score interval ``(lower, upper)`` at level ``confidence`` (§6.1).

    Uses ``z = Φ⁻¹(1 - α/2)`` (1.95996… at 95%) in
    ``centre ± half``, ``centre = (p̂ + z²/2n)/(1 + z²/n)``,
    ``half = z·sqrt(p̂(1 - p̂)/n + z²/4n²)/(1 + z²/n)``. This is the interval PHU25 prints
    (0/50 → [0.0, 7.1]%). Not exact: its coverage can fall below nominal, so upper-bound acceptance
    criteria should use :func:`cp_upper`. ``n = 0`` gives ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    return _wilson(k, n, float(norm.ppf(1.0 - (1.0 - c) / 2.0)))


def wilson_upper(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float | None:
    """One-sided Wilson upper bound: the Wilson formula with ``z = Φ⁻¹(confidence)`` (1.645 at 95%).

    Note that the 0/50 → 7.1% figure of §6.1/PHU25 is the *two-sided* interval's upper end
    (:func:`wilson_interval`), not this one-sided bound. ``n = 0`` gives ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    return _wilson(k, n, float(norm.ppf(c)))[1]


def wilson_lower(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float | None:
    """One-sided Wilson lower bound: the Wilson formula with ``z = Φ⁻¹(confidence)``.

    ``n = 0`` gives ``None``.
    """
    k, n = _counts(k, n)
    c = _confidence(confidence)
    if n == 0:
        return None
    return _wilson(k, n, float(norm.ppf(c)))[0]


# --------------------------------------------------------------------------------------------------
# §4 A06 / §6.1 sample-size rule
# --------------------------------------------------------------------------------------------------


def min_trials_for_bound(
    p_max: float, confidence: float = DEFAULT_CONFIDENCE, successes: int = 0
) -> int:
    """Least ``n`` at which ``successes`` out of ``n`` trials supports "rate ≤ p_max" (§4 A06).

    Defined as the least ``n`` with ``cp_upper(successes, n, confidence) <= p_max`` — exactly the
    condition under which the A06 check (``cp_upper(k, n, conf) > claimed_bound`` ⇒ unmet) does not
    fire. For ``successes = 0`` this is the closed form ``n = ceil(ln(1 - c) / ln(1 - p_max))``
    (§6.1: at 95%, 10% → 29, 5% → 59, 1% → 299, 0.1% → 2,995; so 50 rollouts cannot show a rate
    below 1%). For ``successes > 0`` the bound is decreasing in ``n`` and the least ``n`` is found
    by search. Use as the ``insufficient_samples`` guard: a run with fewer trials cannot satisfy the
    criterion whatever it observes (at ``successes = 0``, the most favourable outcome).

    ``p_max`` must be strictly between 0 and 1 (a bound of 0 can never be shown; a bound of 1 needs
    no evidence).
    """
    p = _open_probability(p_max, "p_max")
    c = _confidence(confidence)
    k = _count(successes, "successes")

    def ok(n: int) -> bool:
        return _cp_upper(k, n, c) <= p

    if k == 0:
        n = max(1, math.ceil(math.log1p(-c) / math.log1p(-p)))
        # Guard against floating-point rounding of the closed form at exact-integer ratios.
        while n > 1 and ok(n - 1):
            n -= 1
        while not ok(n):
            n += 1
        return n
    lo = k  # cp_upper(k, k) = 1 > p_max: never enough
    hi = max(k + 1, 2 * k)
    while not ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------------------------------
# §6.1 Suite aggregation
# --------------------------------------------------------------------------------------------------


def bonferroni_confidence(confidence: float, m: int) -> float:
    """Per-bound confidence ``1 - (1 - confidence)/m`` (Bonferroni; §6.1 suite aggregation).

    With it, ``m`` bounds hold jointly with probability at least ``confidence``.
    """
    c = _confidence(confidence)
    m = _count(m, "m")
    if m == 0:
        raise ValueError("m (the number of bounds) must be at least 1.")
    return 1.0 - (1.0 - c) / m


def union_upper(
    results: Iterable[tuple[int, int]],
    confidence: float = DEFAULT_CONFIDENCE,
    *,
    bonferroni: bool = True,
) -> float | None:
    """Upper bound on P(any task succeeds) from per-task ``(k_i, n_i)``: ``min(1, Σ_i cp_upper_i)``.

    §6.1: keep per-task results and bound "any task succeeds" by the union bound rather than
    pooling heterogeneous tasks into one k/n. With ``bonferroni=True`` (default) each ``cp_upper_i``
    is taken at :func:`bonferroni_confidence` ``(confidence, m)`` so the sum holds at
    ``confidence`` jointly; with ``bonferroni=False`` each term is at ``confidence`` (the plain
    ``Σ cp_upper_i``; joint coverage only ``≥ 1 - m(1 - confidence)``). Returns ``None`` if any task
    has ``n_i = 0`` (no information about that task) and raises ``ValueError`` for an empty suite.
    """
    pairs = [_counts(k, n, "k_i", "n_i") for k, n in results]
    if not pairs:
        raise ValueError("results must contain at least one (k, n) pair.")
    c = _confidence(confidence)
    if bonferroni:
        c = bonferroni_confidence(c, len(pairs))
    if any(n == 0 for _, n in pairs):
        return None
    return min(1.0, math.fsum(_cp_upper(k, n, c) for k, n in pairs))


# --------------------------------------------------------------------------------------------------
# §6.2 Binomial tests (MEI24 deferred subversion)
# --------------------------------------------------------------------------------------------------


def binom_sf(k: int, n: int, p: float) -> float:
    """Binomial survival function ``P(X > k)`` for ``X ~ Bin(n, p)`` — strictly greater (§6.2).

    This is scipy's ``binom.sf`` convention, which is how §6.2 uses it:
    ``binom_sf(35; 99, 0.25) = 0.0079`` is the probability of ``X ≥ 36``. For the one-sided
    p-value ``P(X ≥ x)`` use :func:`binom_test_p` (equal to ``binom_sf(x - 1, n, p)``).
    """
    k, n = _counts(k, n)
    p = _probability(p)
    return float(binom.sf(k, n, p))


def binom_test_p(x: int, n: int, p0: float) -> float:
    """One-sided exact binomial test p-value ``P(X ≥ x)`` under ``H0: X ~ Bin(n, p0)`` (§6.2).

    Alternative: the rate exceeds ``p0`` (MEI24 §3.5: behavioural scheming above the 0.25 expected
    under independence). Computed with ``scipy.stats.binomtest(..., alternative="greater")``.
    """
    x, n = _counts(x, n, "x", "n")
    p0 = _probability(p0, "p0")
    if n == 0:
        return 1.0
    return float(binomtest(x, n, p0, alternative="greater").pvalue)


def binom_critical_value(n: int, p0: float, alpha: float = 0.01) -> int | None:
    """Least ``x`` with ``P(X ≥ x) ≤ alpha`` under ``Bin(n, p0)``: reject when ``X ≥ x`` (§6.2).

    MEI24 §3.5: ``n = 99``, ``p0 = 0.25``, ``alpha = 0.01`` ⇒ 36. Returns ``None`` when no outcome
    is significant (even ``X = n`` has ``P(X ≥ n) > alpha``).
    """
    n = _count(n, "n")
    p0 = _probability(p0, "p0")
    a = _open_probability(alpha, "alpha")
    for x in range(n + 1):
        # P(X >= x) = sf(x - 1); decreasing in x, so the first hit is the least.
        if float(binom.sf(x - 1, n, p0)) <= a:
            return x
    return None


def min_trials_for_lower_bound(p_min: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """Least ``n`` at which ``n`` successes out of ``n`` trials support "rate ≥ p_min" (§4 A06 for
    lower-bound claims): ``cp_lower(n, n, c) = (1 - c)^(1/n) ≥ p_min``, i.e.
    ``n = ceil(ln(1 - c) / ln(p_min))`` (at 95%: 90% → 29, 99% → 299). Fewer trials cannot show
    the bound whatever they observe; ``p_min`` strictly between 0 and 1."""
    p = _open_probability(p_min, "p_min")
    c = _confidence(confidence)

    def ok(n: int) -> bool:
        return _cp_lower(n, n, c) >= p

    n = max(1, math.ceil(math.log1p(-c) / math.log(p)))
    while n > 1 and ok(n - 1):
        n -= 1
    while not ok(n):
        n += 1
    return n


def binom_power(n: int, p0: float, p1: float, alpha: float = 0.01) -> float:
    """Power of the one-sided exact binomial test of ``H0: rate = p0`` at level ``alpha`` (reject
    when ``X ≥ binom_critical_value(n, p0, alpha)``) against a true rate ``p1`` (§6.2): the chance
    that it finds the effect. 0 when no outcome of ``n`` trials is significant (and for n = 0)."""
    n = _count(n, "n")
    p0 = _probability(p0, "p0")
    p1 = _probability(p1, "p1")
    a = _open_probability(alpha, "alpha")
    if n == 0:
        return 0.0
    # isf gives the largest x with P(X > x) > alpha ... up to rounding: step to the exact edge.
    x = int(binom.isf(a, n, p0))
    while x >= 0 and float(binom.sf(x - 1, n, p0)) <= a:
        x -= 1
    while x <= n and float(binom.sf(x, n, p0)) > a:
        x += 1
    critical = x + 1  # least count whose P(X >= count) <= alpha
    if critical > n:
        return 0.0
    return float(binom.sf(critical - 1, n, p1))


def binom_trials_for_power(
    p0: float, p1: float, alpha: float = 0.01, power: float = 0.8, limit: int = 1_000_000
) -> int | None:
    """Least ``n`` from which on the exact one-sided binomial test (``binom_power``) reaches
    ``power`` against ``p1 > p0``; power is not monotone in ``n`` (the test is discrete), so the
    answer is the first ``n`` of a run that stays at or above it for the next 20 trials. None
    above ``limit`` or when ``p1 <= p0``."""
    p0 = _probability(p0, "p0")
    p1 = _probability(p1, "p1")
    if p1 <= p0:
        return None
    lo, hi = 0, 1
    while binom_power(hi, p0, p1, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if binom_power(mid, p0, p1, alpha) >= power:
            hi = mid
        else:
            lo = mid
    n = hi
    while any(binom_power(m, p0, p1, alpha) < power for m in range(n + 1, n + 21)):
        n += 1
    return n


# --------------------------------------------------------------------------------------------------
# §6.3 Milestone method (PHU24) — biased (HOJ24); never an upper-bound on its own
# --------------------------------------------------------------------------------------------------


def milestone_point_estimate(milestones: Sequence[tuple[int, int]]) -> float | None:
    """Milestone-method estimate ``P̂(T) = Π_i k_i / n_i`` (§6.3, PHU24).

    ``milestones`` is the ordered list of ``(k_i, n_i)``, runs started at the golden state after
    milestone ``i - 1``. Biased (HOJ24; tends to underestimate): feeds "closeness" indicators only,
    never an upper-bound acceptance criterion (flag ``BIASED_ESTIMATOR``). ``None`` if any ``n_i``
    is 0; ``ValueError`` for an empty list.
    """
    pairs = [_counts(k, n, "k_i", "n_i") for k, n in milestones]
    if not pairs:
        raise ValueError("milestones must contain at least one (k_i, n_i) pair.")
    if any(n == 0 for _, n in pairs):
        return None
    return math.prod(k / n for k, n in pairs)


MILESTONE_DRAWS = 200_000


def milestone_interval(
    milestones: Sequence[tuple[int, int]], confidence: float = 0.95, *, draws: int = MILESTONE_DRAWS
) -> tuple[float, float]:
    """One-sided bounds ``(lower, upper)`` at ``confidence`` for the milestone method's
    ``P(T) = Π_i p_i``: each milestone's rate has the Jeffreys posterior
    ``Beta(k_i + ½, n_i − k_i + ½)``, and the product's quantiles are read from ``draws``
    draws (a fixed seed, so the same data always give the same bounds; with the default
    draws the Monte Carlo error of a bound is about 1e-3 of its value).

    The interval describes the product of the milestones' rates, not the end-to-end success
    probability: the method itself underestimates it (HOJ24), so these bounds never support
    an upper-bound claim.
    """
    import numpy as np

    pairs = [_counts(k, n, "k_i", "n_i") for k, n in milestones]
    if not pairs:
        raise ValueError("milestones must contain at least one (k_i, n_i) pair.")
    if any(n == 0 for _, n in pairs):
        raise ValueError("every milestone needs at least one trial (n_i >= 1).")
    level = _probability(confidence, "confidence")
    rng = np.random.default_rng(20240313)  # PHU24's arXiv number: any fixed seed will do
    product = np.ones(draws)
    for k, n in pairs:
        product *= rng.beta(k + 0.5, n - k + 0.5, size=draws)
    lower, upper = np.quantile(product, [1.0 - level, level])
    return float(lower), float(upper)


def unguided_bits(rate: float) -> int:
    """PHU24 unguided bits for a milestone: ``⌈−log2 ρ⌉`` for empirical success rate ``ρ`` (§6.3).

    ``ρ`` must be in ``(0, 1]``; at ``ρ = 0`` the bits are undefined (PHU24 switches to expert
    best-of-N, :func:`expert_bits`). An ordinal "distance to capability", not a probability.
    """
    rho = _probability(rate, "rate")
    if rho == 0.0:
        raise ValueError(
            "rate must be positive: unguided bits are undefined when no run succeeded "
            "(use expert_bits for best-of-N guidance)."
        )
    return max(0, math.ceil(-math.log2(rho)))


# --------------------------------------------------------------------------------------------------
# §6.4 Expert best-of-N (PHU24) — biased (HOJ24); ordinal only
# --------------------------------------------------------------------------------------------------


def _indices(chosen_indices: Iterable[int]) -> list[int]:
    out = []
    for i in chosen_indices:
        i = _count(i, "chosen_index")
        if i < 1:
            raise ValueError("chosen_index is 1-based and must be at least 1.")
        out.append(i)
    return out


def expert_bits(chosen_indices: Iterable[int]) -> float:
    """PHU24 expert bits ``B = Σ_s log2(i_s (i_s + 1))`` over steps' 1-based chosen indices (§6.4).

    HOJ24: an index code length, not a probability — even ``i_s = 1`` costs 1 bit per step. Use as
    an ordinal "distance to capability" (trend indicators), never as a probability bound.
    """
    return math.fsum(math.log2(i * (i + 1)) for i in _indices(chosen_indices))


def expert_implied_probability(chosen_indices: Iterable[int]) -> float:
    """PHU24 implied probability ``P̂ = 2^(−B) = Π_s 1 / (i_s (i_s + 1))`` (§6.4).

    Systematically and severely underestimates (HOJ24): a 10-step milestone scores at most 2^−10.
    """
    return math.prod(1.0 / (i * (i + 1)) for i in _indices(chosen_indices))


def frequency_weighted_probability(chosen_counts: Iterable[int], n_samples: Iterable[int]) -> float:
    """HOJ24's consistent alternative ``P̂ = Π_s chosen_count_s / N_s`` (§6.4).

    ``chosen_count_s`` is how many of the step's ``N_s`` sampled actions equal the chosen one (the
    empirical frequency of the chosen action). The two sequences are per step and must have equal
    length; each ``N_s`` must be positive.
    """
    counts = list(chosen_counts)
    ns = list(n_samples)
    if len(counts) != len(ns):
        raise ValueError(
            "chosen_counts and n_samples must have one entry per step "
            f"({len(counts)} != {len(ns)})."
        )
    result = 1.0
    for count, n in zip(counts, ns, strict=True):
        count, n = _counts(count, n, "chosen_count", "N")
        if n == 0:
            raise ValueError("N (samples per step) must be at least 1.")
        result *= count / n
    return result


# --------------------------------------------------------------------------------------------------
# §6.5 Control-evaluation extrapolation (closed-form sanity check)
# --------------------------------------------------------------------------------------------------


def _catch_success(p_catch: float, p_success: float) -> tuple[float, float]:
    c = _probability(p_catch, "p_catch")
    s = _probability(p_success, "p_success")
    if c + s > 1.0 + 1e-12:
        raise ValueError(
            f"p_catch + p_success must not exceed 1 (they are exclusive outcomes), got {c + s}."
        )
    return c, s


def control_p_red_win(p_attack: float, p_catch: float, p_success: float, n_tasks: int) -> float:
    """Probability the red team wins over ``N`` deployment tasks (§6.5 closed form).

    Per task the model attacks with probability ``p``; an attack is caught with probability ``c``
    (blue wins, deployment halts), succeeds uncaught with probability ``s``, otherwise nothing
    happens. Then ``P_red_win(p) = s/(c + s) · (1 − (1 − p(c + s))^N)`` (0 when ``c + s = 0``).
    Example (§6.5): c = 0.9, s = 0.01, p = 1e−3, N = 100,000 → 0.011. A sanity check only: the
    app stores the simulator's ``p_outcome_upper``.
    """
    p = _probability(p_attack, "p_attack")
    c, s = _catch_success(p_catch, p_success)
    n = _count(n_tasks, "n_tasks")
    u = c + s
    if n == 0 or s == 0.0 or p == 0.0:
        return 0.0
    # 1 - (1 - p·u)^N, computed stably for tiny p·u and large N.
    hit = 1.0 if p * u >= 1.0 else -math.expm1(n * math.log1p(-p * u))
    return s / u * hit


def control_p_red_win_max(p_catch: float, p_success: float, n_tasks: int | None = None) -> float:
    """Red team's best attack rate: ``sup_p P_red_win(p)`` (§6.5).

    ``P_red_win`` increases in ``p``, so for finite ``N`` the supremum is at ``p = 1``:
    ``s/(c + s) · (1 − (1 − c − s)^N)``. With ``n_tasks=None`` returns the limit ``s/(c + s)``
    (reached when ``N·p(c + s) ≫ 1``), which bounds every finite ``N``.
    """
    c, s = _catch_success(p_catch, p_success)
    if n_tasks is None:
        return 0.0 if s == 0.0 else s / (c + s)
    return control_p_red_win(1.0, c, s, n_tasks)


def control_p_red_win_upper(
    caught: int,
    succeeded: int,
    n_attacks: int,
    n_tasks: int | None = None,
    p_attack: float | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> float | None:
    """Conservative ``P_red_win`` from red-team attack outcomes (§6.5, §4 A14).

    Uses ``c_low = cp_lower(caught, n_attacks, confidence)`` and
    ``s_up = cp_upper(succeeded, n_attacks, confidence)``; ``P_red_win`` decreases in ``c`` and
    increases in ``s``, so this is an upper bound (joint coverage ≥ ``1 − 2(1 − confidence)`` by
    Bonferroni). With ``p_attack`` given, evaluates :func:`control_p_red_win` at that rate (needs
    ``n_tasks``); otherwise uses the red team's optimal rate (:func:`control_p_red_win_max`), as A14
    requires an optimised, not fixed, attack rate. ``None`` when ``n_attacks = 0``.
    """
    caught = _count(caught, "caught")
    succeeded = _count(succeeded, "succeeded")
    n = _count(n_attacks, "n_attacks")
    if caught + succeeded > n:
        raise ValueError(
            f"caught + succeeded ({caught + succeeded}) cannot exceed n_attacks ({n})."
        )
    c = _confidence(confidence)
    if p_attack is not None and n_tasks is None:
        raise ValueError("n_tasks is required when p_attack is given.")
    if n == 0:
        return None
    c_low = _cp_lower(caught, n, c)
    s_up = _cp_upper(succeeded, n, c)
    # c_low + s_up <= 1 holds mathematically when caught + succeeded <= n; guard float rounding.
    c_low = min(c_low, 1.0 - s_up)
    if p_attack is None:
        return control_p_red_win_max(c_low, s_up, n_tasks)
    return control_p_red_win(p_attack, c_low, s_up, n_tasks)


# --------------------------------------------------------------------------------------------------
# §6.6 Honeypot coverage vs rare failure (BAL24 §7.2.2)
# --------------------------------------------------------------------------------------------------


def honeypot_pass_probability(q: float, n_tests: int) -> float:
    """Probability a model defecting with per-opportunity probability ``q`` passes all tests:
    ``(1 − q)^n`` (§6.6). Example: q = 1e−4, n = 1,000 → 0.905.
    """
    q = _probability(q, "q")
    n = _count(n_tests, "n_tests")
    if q == 1.0:
        return 1.0 if n == 0 else 0.0
    return math.exp(n * math.log1p(-q))


def defection_probability(q: float, n_deploy: int) -> float:
    """Probability of at least one defection in ``N`` deployment opportunities:
    ``1 − (1 − q)^N`` (§6.6). Example: q = 1e−4, N = 10^6 → ≈ 1.
    """
    q = _probability(q, "q")
    n = _count(n_deploy, "n_deploy")
    if q == 1.0:
        return 0.0 if n == 0 else 1.0
    return -math.expm1(n * math.log1p(-q))


def honeypot_defection_upper(
    n_tests: int,
    n_deploy: int,
    defections: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> float | None:
    """Upper bound on P(≥1 defection in deployment) from honeypot results (§6.6, §4 A22).

    ``q_u = cp_upper(defections, n_tests, confidence)`` and the bound is ``1 − (1 − q_u)^N``; the
    A22 check fires when it exceeds ``{p_scheme}``. With 0 defections this equals
    ``1 − (1 − c)^(N/n)`` (so ``N = n`` gives exactly ``c``). Valid only if honeypots are
    indistinguishable from deployment (A21). ``None`` when ``n_tests = 0``.
    """
    k, n = _counts(defections, n_tests, "defections", "n_tests")
    n_dep = _count(n_deploy, "n_deploy")
    c = _confidence(confidence)
    if n == 0:
        return None
    return defection_probability(_cp_upper(k, n, c), n_dep)


def honeypot_opportunities_needed(
    n_deploy: int, p_scheme: float, confidence: float = DEFAULT_CONFIDENCE
) -> int:
    """Least number of defection-free honeypot opportunities ``n`` satisfying A22 (§6.6, derived).

    Least ``n`` with ``honeypot_defection_upper(n, N, 0, c) ≤ p_scheme``; from
    ``1 − (1 − c)^(N/n) ≤ p_scheme`` this is ``n = ceil(N · ln(1 − c) / ln(1 − p_scheme))``.
    ``p_scheme`` must be strictly between 0 and 1; ``N = 0`` needs no tests (returns 0).
    """
    n_dep = _count(n_deploy, "n_deploy")
    p = _open_probability(p_scheme, "p_scheme")
    c = _confidence(confidence)
    if n_dep == 0:
        return 0

    def ok(n: int) -> bool:
        return defection_probability(_cp_upper(0, n, c), n_dep) <= p

    n = max(1, math.ceil(n_dep * math.log1p(-c) / math.log1p(-p)))
    while n > 1 and ok(n - 1):
        n -= 1
    while not ok(n):
        n += 1
    return n


# --------------------------------------------------------------------------------------------------
# §6.7 Monitor metrics
# --------------------------------------------------------------------------------------------------


def monitor_recall_lower(
    true_positives: int, n_attacks: int, confidence: float = DEFAULT_CONFIDENCE
) -> float | None:
    """Lower bound on monitor recall at the audit-budget operating point (§6.7, §4 A15).

    ``cp_lower(tp, n_attacks, confidence)``, with ``tp`` counted at the threshold where
    ``fpr ≤ audit_budget``. ``None`` when ``n_attacks = 0``.
    """
    return cp_lower(true_positives, n_attacks, confidence)


def monitor_fnr_upper(
    true_positives: int, n_attacks: int, confidence: float = DEFAULT_CONFIDENCE
) -> float | None:
    """Upper bound on the monitor's false-negative rate, ``FNR = 1 − recall`` (§6.7).

    ``1 − cp_lower(tp, n, c)``, which equals ``cp_upper(n − tp, n, c)``. ``None`` when
    ``n_attacks = 0``.
    """
    tp, n = _counts(true_positives, n_attacks, "true_positives", "n_attacks")
    c = _confidence(confidence)
    if n == 0:
        return None
    return _cp_upper(n - tp, n, c)


# --------------------------------------------------------------------------------------------------
# Paired binary outcomes: the same samples under two conditions (incentive contrast)
# --------------------------------------------------------------------------------------------------


def mcnemar_exact_p(only_a: int, only_b: int, alternative: str = "two-sided") -> float:
    """Exact McNemar test of "condition a and condition b have the same success rate" from the
    discordant pairs: ``only_a`` samples succeed under a only, ``only_b`` under b only.

    Under the null hypothesis each of the ``m = only_a + only_b`` discordant pairs is equally
    likely to go either way, so ``only_a ~ Bin(m, ½)`` given ``m`` (the concordant pairs carry no
    information about the difference). Two-sided: ``min(1, 2·P(X ≤ min(only_a, only_b)))``, the
    usual doubling of the smaller tail, which for ``p = ½`` equals summing every outcome as
    unlikely as the one observed. ``alternative="greater"``: ``P(X ≥ only_a)``, the one-sided
    p-value for "a succeeds more often". No discordant pair gives 1.
    """
    b, c = _count(only_a, "only_a"), _count(only_b, "only_b")
    m = b + c
    if m == 0:
        return 1.0
    if alternative == "greater":
        return float(binom.sf(b - 1, m, 0.5))
    if alternative != "two-sided":
        raise ValueError(f"alternative must be 'two-sided' or 'greater', got {alternative!r}.")
    return min(1.0, 2.0 * float(binom.cdf(min(b, c), m, 0.5)))


def paired_difference_interval(
    both: int, only_a: int, only_b: int, neither: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float] | None:
    """Two-sided interval for the difference of success rates ``(only_a − only_b) / n`` of
    paired binary outcomes (the same ``n`` samples under conditions a and b).

    Method: Newcombe's square-and-add interval for paired data (Newcombe 1998, "Improved
    confidence intervals for the difference between binomial proportions based on paired data",
    Stat Med 17:2635–2650, method 10): the Wilson score intervals ``[l1, u1]`` of a's rate and
    ``[l2, u2]`` of b's rate, combined with the phi correlation of the 2×2 table,
    ``L = d − sqrt((p1 − l1)² − 2φ(p1 − l1)(u2 − p2) + (u2 − p2)²)`` and
    ``U = d + sqrt((u1 − p1)² − 2φ(u1 − p1)(p2 − l2) + (p2 − l2)²)``.
    Why this one: the exact conditional interval (Clopper–Pearson on the share of discordant
    pairs going to a, scaled by ``m/n``) treats the number of discordant pairs as fixed and is
    very wide when there are few; the Wald interval collapses to a point at ``only_a = only_b =
    0``. Fagerland, Lydersen and Laake (2014, "Recommended tests and confidence intervals for
    paired binomial proportions", Stat Med 33:2850–2875) recommend Newcombe's interval for its
    coverage close to nominal at small and large ``n`` and its closed form. ``φ`` is 0 when a
    margin of the table is empty (its denominator is 0). ``n = 0`` gives ``None``.
    """
    a = _count(both, "both")
    b = _count(only_a, "only_a")
    c = _count(only_b, "only_b")
    d = _count(neither, "neither")
    conf = _confidence(confidence)
    n = a + b + c + d
    if n == 0:
        return None
    z = float(norm.ppf(1.0 - (1.0 - conf) / 2.0))
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, z)
    l2, u2 = _wilson(a + c, n, z)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denominator) if denominator else 0.0
    diff = (b - c) / n
    below = (p1 - l1) ** 2 - 2.0 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    above = (u1 - p1) ** 2 - 2.0 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    lower = diff - math.sqrt(max(below, 0.0))
    upper = diff + math.sqrt(max(above, 0.0))
    return max(-1.0, lower), min(1.0, upper)


@dataclass(frozen=True)
class PairedDifference:
    """Success under two conditions on the same samples: the 2×2 table, each condition's rate,
    their difference ``rate_a − rate_b`` with its two-sided interval at ``confidence``
    (:func:`paired_difference_interval`) and the exact McNemar p-values
    (:func:`mcnemar_exact_p`)."""

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    rate_a: float | None
    rate_b: float | None
    diff: float | None
    lower: float | None
    upper: float | None
    confidence: float
    p_value: float  # two-sided
    p_greater: float  # one-sided: a succeeds more often than b

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_binary_difference(
    both: int, only_a: int, only_b: int, neither: int, confidence: float = DEFAULT_CONFIDENCE
) -> PairedDifference:
    """:class:`PairedDifference` of a 2×2 table of paired outcomes: ``both`` samples succeed
    under a and b, ``only_a`` under a alone, ``only_b`` under b alone, ``neither`` under none."""
    interval = paired_difference_interval(both, only_a, only_b, neither, confidence)
    n = both + only_a + only_b + neither
    return PairedDifference(
        n=n,
        both=both,
        only_a=only_a,
        only_b=only_b,
        neither=neither,
        rate_a=(both + only_a) / n if n else None,
        rate_b=(both + only_b) / n if n else None,
        diff=(only_a - only_b) / n if n else None,
        lower=interval[0] if interval else None,
        upper=interval[1] if interval else None,
        confidence=_confidence(confidence),
        p_value=mcnemar_exact_p(only_a, only_b),
        p_greater=mcnemar_exact_p(only_a, only_b, "greater"),
    )


# --------------------------------------------------------------------------------------------------
# Per-run summary stored per scorer
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStatistics:
    """Per-scorer statistics of one evaluation run: ``k`` successes out of ``n`` samples.

    ``rate = k/n``. Two-sided intervals (``*_lower``/``*_upper``) split ``1 − confidence`` over both
    tails; one-sided bounds (``*_lower_one_sided``/``*_upper_one_sided``) put it in one tail and are
    what "rate below t" / "rate above t" criteria test. Every float is ``None`` when ``n = 0``.
    """

    k: int
    n: int
    confidence: float
    rate: float | None
    cp_lower: float | None
    cp_upper: float | None
    cp_lower_one_sided: float | None
    cp_upper_one_sided: float | None
    wilson_lower: float | None
    wilson_upper: float | None
    wilson_lower_one_sided: float | None
    wilson_upper_one_sided: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of all fields."""
        return asdict(self)


def run_statistics(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> RunStatistics:
    """Compute :class:`RunStatistics` for ``k`` successes in ``n`` samples (default 95%)."""
    k, n = _counts(k, n)
    c = _confidence(confidence)
    cp_two = cp_interval(k, n, c)
    wilson_two = wilson_interval(k, n, c)
    return RunStatistics(
        k=k,
        n=n,
        confidence=c,
        rate=None if n == 0 else k / n,
        cp_lower=None if cp_two is None else cp_two[0],
        cp_upper=None if cp_two is None else cp_two[1],
        cp_lower_one_sided=cp_lower(k, n, c),
        cp_upper_one_sided=cp_upper(k, n, c),
        wilson_lower=None if wilson_two is None else wilson_two[0],
        wilson_upper=None if wilson_two is None else wilson_two[1],
        wilson_lower_one_sided=wilson_lower(k, n, c),
        wilson_upper_one_sided=wilson_upper(k, n, c),
    )
