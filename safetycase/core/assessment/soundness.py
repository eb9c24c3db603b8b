"""Statistical soundness of a criterion that was checked on a run's k/n: whether its verdict
rests on a confidence bound, on enough samples and on a test able to see the effect.

* `point_estimate` (warning): the criterion compares the rate (`rate`, or k/n arithmetic such
  as `double(k) / double(n)`) with a threshold and calls no bound or test. The message gives the
  one-sided bound it would need (`cp_upper(k, n, 0.95) <= t` for an upper claim, `cp_lower` for
  a lower one) and its value on the run; a criterion met only by the point estimate is at risk.
* `insufficient_samples` (A06) for lower-bound claims: even n successes of n cannot show a rate
  above t at the claim's confidence (`cp_lower(k, n[, c]) >= t`, or a point-estimate lower
  claim at 95%); the message gives the n needed.
* A failed criterion whose run saw the most favourable outcome (no event for an upper-bound
  claim, every trial a success for a lower one) and that more samples with that outcome would
  meet shows too few samples, not an observed hazard: `insufficient_samples` with the n needed,
  at risk, instead of `criterion_failed`.
* `underpowered` (warning): the criterion passes because a one-sided binomial test found no
  significant excess (`binom_sf(k - 1, n, p0) >= alpha`), while the test's power to detect the
  rate the solution must be able to see (`attributes.detectable_rate`, else twice `p0` capped at
  halfway to 1) is below 0.8; the message gives the power and the n needed. At risk.

The claim's direction and its threshold come from the expression's behaviour (evaluated with
other counts), so any arithmetic form is recognised; a literal threshold is used when the
expression states one."""

from __future__ import annotations

import re
from typing import Any

from evidence.statistics import (
    DEFAULT_CONFIDENCE,
    binom_power,
    binom_trials_for_power,
    cp_lower,
    cp_upper,
    min_trials_for_bound,
    min_trials_for_lower_bound,
)
from safetycase.core.assessment.facts import AT_RISK, DEFEATED, SUPPORTED, WARNING, Flag, RunFacts
from safetycase.core.assessment.guards import PreparedExpression
from safetycase.core.assessment.runs import RunStatistic
from safetycase.core.assessment.wording import percent, plural, quoted

_NUM = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_BOUND_OR_TEST = re.compile(
    r"\b(?:cp_upper|cp_lower|wilson_upper|wilson_lower|binom_sf|bootstrap_p|n_for_zero|"
    r"p_red_win|max_p_red_win|p_any_defection)\s*\("
)
_RATIO = r"(?:\brate\b|double\(\s*k\s*\)\s*/\s*double\(\s*n\s*\)|\bk\s*/\s*n\b)"
_RATIO_USED = re.compile(_RATIO)
_RATIO_THRESHOLD = re.compile(rf"{_RATIO}\s*(?:<=|<|>=|>)\s*{_NUM}(?![\w.(])")
_RATIO_THRESHOLD_MIRRORED = re.compile(rf"(?<![\w.]){_NUM}\s*(?:<=|<|>=|>)\s*{_RATIO}")
_LOWER_BOUND = re.compile(
    rf"\bcp_lower\(\s*k\s*,\s*n\s*(?:,\s*{_NUM}\s*)?\)\s*(?:>=|>)\s*{_NUM}(?![\w.(])"
)
_BINOM_TEST = re.compile(
    rf"\bbinom_sf\(\s*k\s*-\s*1\s*,\s*n\s*,\s*{_NUM}\s*\)\s*(?:>=|>)\s*{_NUM}(?![\w.(])"
)
_ARITHMETIC = frozenset("+-*/%")
_STRING_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')

UPPER = "upper"
LOWER = "lower"
POWER = 0.8
_SEARCH_LIMIT = 1 << 30


def _shape(text: str) -> dict[str, Any]:
    blank = _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), text)

    def alone(match: re.Match[str]) -> bool:
        # `1.0 - rate <= 0.1` bounds 1 - rate, not the rate: its threshold comes from behaviour.
        before = blank[: match.start()].rstrip()[-1:]
        after = blank[match.end() :].lstrip()[:1]
        return before not in _ARITHMETIC and after not in _ARITHMETIC

    thresholds = [float(m.group(1)) for m in _RATIO_THRESHOLD.finditer(blank) if alone(m)]
    thresholds += [float(m.group(1)) for m in _RATIO_THRESHOLD_MIRRORED.finditer(blank) if alone(m)]
    lower = [
        (float(m.group(2)), float(m.group(1)) if m.group(1) else DEFAULT_CONFIDENCE)
        for m in _LOWER_BOUND.finditer(blank)
    ]
    tests = [(float(m.group(1)), float(m.group(2))) for m in _BINOM_TEST.finditer(blank)]
    return {
        "point": bool(_RATIO_USED.search(blank)) and not _BOUND_OR_TEST.search(blank),
        "thresholds": [t for t in thresholds if 0.0 < t < 1.0],
        "lower_bounds": [(t, c) for t, c in lower if 0.0 < t < 1.0 and 0.0 < c < 1.0],
        "tests": [(p0, a) for p0, a in tests if 0.0 < p0 < 1.0 and 0.0 < a < 1.0],
    }


_SHAPES: dict[str, dict[str, Any]] = {}


def criterion_shape(text: str) -> dict[str, Any]:
    found = _SHAPES.get(text)
    if found is None:
        if len(_SHAPES) > 20_000:
            _SHAPES.clear()
        found = _SHAPES[text] = _shape(text)
    return found


def detectable_rate(p0: float, attributes: Any) -> float:
    """The rate a no-excess test on a node must be able to detect."""
    given = (attributes or {}).get("detectable_rate")
    if isinstance(given, int | float) and not isinstance(given, bool) and p0 < given < 1:
        return float(given)
    return min(2 * p0, (1 + p0) / 2)


class SoundnessChecks:
    """The engine's soundness guards on a criterion's verdict (mixed into `AssessmentEngine`)."""

    __slots__ = ()

    def _holds_with(self, expression, run, stat, now_ts, k: int, n: int) -> bool | None:
        ok, value = self._evaluate_on(expression, run, stat, now_ts, (k, n))
        return value if ok and isinstance(value, bool) else None

    def _direction(self, expression, run, stat, now_ts, n: int) -> str | None:
        """UPPER when fewer events help the criterion (true with none, false with all), LOWER
        when more help, None otherwise."""
        none_ = self._holds_with(expression, run, stat, now_ts, 0, n)
        all_ = self._holds_with(expression, run, stat, now_ts, n, n)
        if none_ is True and all_ is False:
            return UPPER
        if none_ is False and all_ is True:
            return LOWER
        return None

    def _samples_for_best_outcome(self, expression, run, stat, now_ts, n: int, best: str):
        """Least n' > n at which the most favourable outcome (0 of n' for UPPER, n' of n' for
        LOWER) meets the criterion, or None."""

        def holds(m: int) -> bool:
            k = 0 if best == UPPER else m
            return self._holds_with(expression, run, stat, now_ts, k, m) is True

        lo, hi = n, max(2 * n, n + 1)
        while not holds(hi):
            lo, hi = hi, hi * 2
            if hi > _SEARCH_LIMIT:
                return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if holds(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def _soundness(
        self,
        node: str,
        expression: PreparedExpression,
        run: RunFacts,
        stat: RunStatistic,
        now_ts: float,
        value: bool,
        status: str,
        reason: str,
        flags: list[Flag],
    ) -> tuple[str, str]:
        """Adds the soundness flags of a criterion checked on k/n to `flags`; returns the
        status and reason after them."""
        if not expression.uses_counts:
            return status, reason
        k, n = stat.k, stat.n or 0
        text = quoted(expression.text)
        shape = criterion_shape(expression.text)
        described = f"run {run.id} (k/n = {k}/{n})"

        # A failure with the most favourable outcome: too few samples, not an observed hazard.
        if not value and status == DEFEATED and n >= 0 and k in (0, n):
            for best in (UPPER, LOWER):
                if (best == UPPER and k != 0) or (best == LOWER and (k != n or n == 0)):
                    continue
                needed = self._samples_for_best_outcome(expression, run, stat, now_ts, n, best)
                if needed is None:
                    continue
                outcome = "no event" if best == UPPER else "every trial a success"
                # The stated-bound A06 flag already names the samples needed; the "no outcome
                # could meet it" one is replaced by the n needed.
                stated = [
                    f
                    for f in flags
                    if f.type == "insufficient_samples" and "cannot show" in f.message
                ]
                flags[:] = [
                    f
                    for f in flags
                    if f.type not in ("criterion_failed", "insufficient_samples") or f in stated
                ]
                if stated:
                    return AT_RISK, (
                        f"{node} is at risk: {described} has {outcome}, but too few samples "
                        f"for the criterion {text} to hold."
                    )
                flags.append(
                    Flag(
                        "insufficient_samples",
                        WARNING,
                        node,
                        run.id,
                        "A06",
                        f"A06: run {run.id} has the most favourable outcome ({outcome} in "
                        f"{plural(n, 'sample')}), yet the criterion {text} needs at least "
                        f"{needed} samples with that outcome to hold; its failure shows too few "
                        f"samples, not an observed hazard ({node}).",
                    )
                )
                return AT_RISK, (
                    f"{node} is at risk: {described} has {outcome}, but at least {needed} "
                    f"samples are needed for the criterion {text} to hold."
                )

        if n == 0 and not shape["tests"]:
            return status, reason

        # Point estimates compared with a threshold.
        direction = None
        if shape["point"] and n > 0:
            direction = self._direction(expression, run, stat, now_ts, n)
        if direction is not None:
            if shape["thresholds"]:
                t = min(shape["thresholds"]) if direction == UPPER else max(shape["thresholds"])
            else:
                t = self._threshold_from_behaviour(expression, run, stat, now_ts, n, direction)
            c = DEFAULT_CONFIDENCE
            if t is not None and 0.0 < t < 1.0:
                if direction == UPPER:
                    bound, name, side = cp_upper(k, n, c), "cp_upper", "upper"
                    holds = bound <= t
                    needed_form = f"cp_upper(k, n, {c:g}) <= {t:g}"
                else:
                    bound, name, side = cp_lower(k, n, c), "cp_lower", "lower"
                    holds = bound >= t
                    needed_form = f"cp_lower(k, n, {c:g}) >= {t:g}"
                verdict = (
                    "which also meets the threshold"
                    if holds
                    else f"which is {'above' if direction == UPPER else 'below'} it"
                )
                flags.append(
                    Flag(
                        "point_estimate",
                        WARNING,
                        node,
                        run.id,
                        "",
                        f"{node}: the criterion {text} compares the point estimate "
                        f"{k}/{n} = {k / n:.3g} with {t:g} without a confidence bound; the "
                        f"one-sided {percent(c)} {side} bound {name}({k}, {n}, {c:g}) is "
                        f"{bound:.3g}, {verdict}; state the claim as '{needed_form}'.",
                    )
                )
                if status == SUPPORTED and not holds:
                    status = AT_RISK
                    reason = (
                        f"{node} is at risk: {described} meets the criterion {text} only as a "
                        f"point estimate; the one-sided {percent(c)} {side} bound is "
                        f"{bound:.3g}, not {'under' if direction == UPPER else 'over'} {t:g}."
                    )
                if direction == LOWER:
                    self._lower_sample_size(node, text, run, n, t, c, flags)
                elif expression.bound is None:
                    needed = _upper_needed(t, c)
                    if needed is not None and n < needed:
                        flags.append(_too_few(node, text, run, n, t, c, needed, "below"))

        # Lower-bound claims stated with cp_lower.
        for t, c in shape["lower_bounds"]:
            self._lower_sample_size(node, text, run, n, t, c, flags)

        # No significant excess, from a test too weak to see one.
        if value and shape["tests"]:
            attributes = self._structure.nodes[node].attributes
            for p0, alpha in shape["tests"]:
                p1 = detectable_rate(p0, attributes)
                power = binom_power(n, p0, p1, alpha)
                if power >= POWER:
                    continue
                needed = binom_trials_for_power(p0, p1, alpha, POWER)
                more = f"at least {needed} are needed" if needed else "no feasible n reaches it"
                flags.append(
                    Flag(
                        "underpowered",
                        WARNING,
                        node,
                        run.id,
                        "",
                        f"{node}: the criterion {text} holds because the one-sided binomial "
                        f"test against {p0:g} at level {alpha:g} found no significant excess in "
                        f"{k}/{n}, but with {plural(n, 'sample')} the test detects a rate of "
                        f"{p1:g} only with probability {power:.2f} (power {POWER:g} needed; "
                        f"{more}).",
                    )
                )
                if status == SUPPORTED:
                    status = AT_RISK
                    reason = (
                        f"{node} is at risk: {described} shows no significant excess over "
                        f"{p0:g}, but the test had power {power:.2f} to detect {p1:g}; "
                        f"absence of evidence is not evidence of absence."
                    )
        return status, reason

    def _threshold_from_behaviour(self, expression, run, stat, now_ts, n, direction):
        """The rate threshold a point-estimate criterion applies at n trials: the largest
        accepted k/n for an upper claim, the smallest for a lower one (by bisection)."""
        lo, hi = 0, n  # UPPER: holds at lo, fails at hi; LOWER: fails at lo, holds at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            holds = self._holds_with(expression, run, stat, now_ts, mid, n)
            if holds is None:
                return None
            if (holds and direction == UPPER) or (not holds and direction == LOWER):
                lo = mid
            else:
                hi = mid
        return (lo if direction == UPPER else hi) / n

    def _lower_sample_size(self, node, text, run, n, t, c, flags) -> None:
        try:
            needed = min_trials_for_lower_bound(t, c)
        except ValueError:
            return
        if n < needed and not any(
            f.type == "insufficient_samples" and f.run == run.id and f.node == node for f in flags
        ):
            flags.append(_too_few(node, text, run, n, t, c, needed, "above"))


def _upper_needed(t: float, c: float) -> int | None:
    try:
        return min_trials_for_bound(t, c)
    except ValueError:
        return None


def _too_few(node, text, run, n, t, c, needed, side) -> Flag:
    best = "no event" if side == "below" else f"{n} successes of {n}"
    return Flag(
        "insufficient_samples",
        WARNING,
        node,
        run.id,
        "A06",
        f"A06: {plural(n, 'sample')} (run {run.id}) cannot show a rate {side} {percent(t)} at "
        f"{percent(c)} confidence, even with {best}; at least {needed} are needed ({node}, "
        f"criterion {text}).",
    )
