"""Expressions as the assessment uses them: compiled once with their shape — the literal upper
bound a criterion claims, whether it uses `age_days` or the counts — which the statistical
guards (sample size, biased estimators) read; evaluation that never raises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evidence.statistics import DEFAULT_CONFIDENCE, min_trials_for_bound
from safetycase.core import criteria
from safetycase.core.assessment.joint import constant_confidences
from safetycase.core.assessment.wording import quoted

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
_STRING_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_NUM = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_CP_BOUND = re.compile(rf"\bcp_upper\(\s*k\s*,\s*n\s*(?:,\s*{_NUM}\s*)?\)\s*(<=|<)\s*{_NUM}")
_CP_BOUND_MIRRORED = re.compile(
    rf"(?<![\w.]){_NUM}\s*(>=|>)\s*cp_upper\(\s*k\s*,\s*n\s*(?:,\s*{_NUM}\s*)?\)"
)
_RATE_BOUND = re.compile(rf"(?<![\w.])rate\s*(<=|<)\s*{_NUM}")
_RATE_BOUND_MIRRORED = re.compile(rf"(?<![\w.]){_NUM}\s*(>=|>)\s*rate(?![\w.])")
_UPPER_CALL = re.compile(
    r"\b(?:cp_upper|cs_upper|wilson_upper|p_red_win|max_p_red_win|p_any_defection)\s*\("
)
_BOUNDED_FROM_ABOVE = re.compile(r"(?<![\w.])(?:rate|k)\s*(?:<=?|==\s*0(?![\d.]))")
_BOUNDED_FROM_ABOVE_MIRRORED = re.compile(r">=?\s*(?:rate|k)(?![\w.(])")
_ARITHMETIC = frozenset("+-*/%")


def _blank_strings(text: str) -> str:
    return _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), text)


def placeholders(value: Any) -> list[str]:
    """The `{parameter}` placeholders left in a string or in the strings of a structure."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "{" in item:
                found.extend(m.group(0) for m in _PLACEHOLDER.finditer(item))
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return sorted(set(found))


@dataclass(frozen=True)
class PreparedExpression:
    text: str
    compiled: criteria.CompiledExpression | None
    error: str  # why it does not compile, "" when it does
    uses_age: bool
    uses_counts: bool  # k, n or rate
    bound: tuple[float, float] | None  # (t, confidence) of a literal upper-bound claim
    upper_claim: bool


def expression_shape(text: str) -> tuple[tuple[float, float] | None, bool]:
    """The literal upper bound (t, confidence) a criterion claims for the rate, if it states
    one as `cp_upper(k, n[, c]) < t` or `rate < t` (also <=, and mirrored), and whether it is
    an upper-bound claim at all. A comparison that is part of arithmetic (`1.0 - rate <= 0.1`
    bounds the rate from below) does not count."""
    if "bonferroni" in text:
        # A Bonferroni-corrected level (`cp_upper(k, n, bonferroni(0.95, 4))`) is read as the
        # number it stands for.
        text = constant_confidences(text)
    blank = _blank_strings(text)

    def alone(match: re.Match[str]) -> bool:
        before = blank[: match.start()].rstrip()[-1:]
        after = blank[match.end() :].lstrip()[:1]
        return before not in _ARITHMETIC and after not in _ARITHMETIC

    bounds: list[tuple[float, float]] = []
    for match in _CP_BOUND.finditer(blank):
        if alone(match):
            conf, _, t = match.groups()
            bounds.append((float(t), float(conf) if conf else DEFAULT_CONFIDENCE))
    for match in _CP_BOUND_MIRRORED.finditer(blank):
        if alone(match):
            t, _, conf = match.groups()
            bounds.append((float(t), float(conf) if conf else DEFAULT_CONFIDENCE))
    for match in _RATE_BOUND.finditer(blank):
        if alone(match):
            bounds.append((float(match.group(2)), DEFAULT_CONFIDENCE))
    for match in _RATE_BOUND_MIRRORED.finditer(blank):
        if alone(match):
            bounds.append((float(match.group(1)), DEFAULT_CONFIDENCE))
    bounds = [(t, c) for t, c in bounds if 0.0 < t < 1.0 and 0.0 < c < 1.0]
    bound = min(bounds) if bounds else None
    upper = bool(_UPPER_CALL.search(blank)) or any(
        alone(m)
        for pattern in (_BOUNDED_FROM_ABOVE, _BOUNDED_FROM_ABOVE_MIRRORED)
        for m in pattern.finditer(blank)
    )
    return bound, upper


def evaluate_safely(
    expression: PreparedExpression, variables: Mapping[str, Any]
) -> tuple[bool, Any]:
    """(True, value) or (False, sentence); never raises."""
    try:
        return True, criteria.evaluate(expression.compiled, variables)
    except criteria.EvaluationError as exc:
        return False, str(exc)
    except Exception as exc:  # defensive: an assessment never fails on an expression
        return False, f"The expression {quoted(expression.text)} could not be evaluated: {exc}."


# --------------------------------------------------------------------------------------------
# The case structure: everything that depends only on nodes, relations and bindings


_NEEDED: dict[tuple[float, float], int | None] = {}


def trials_needed(t: float, c: float) -> int | None:
    key = (t, c)
    if key not in _NEEDED:
        try:
            _NEEDED[key] = min_trials_for_bound(t, c)
        except ValueError:
            _NEEDED[key] = None
    return _NEEDED[key]
