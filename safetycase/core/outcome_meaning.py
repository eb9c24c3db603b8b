"""What a score's counted outcome means for the criteria that read it: dangerous (a covert
action, a defection — the criterion holds when it never occurs) or desired (a caught attack, a
correct answer — the criterion holds when it always occurs). Decided by evaluating the
criterion at the two extremes, never by the number 1 or by reading the expression's text, so
a mark on a sample shows red for the dangerous outcome whatever its value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from safetycase.core.criteria import EvaluationError, ExpressionError, compile_expression, evaluate

# A sample size at which any rate bound a criterion states can be shown either way.
LARGE_SAMPLE = 1_000_000
DANGEROUS = "dangerous"
DESIRED = "desired"


def _holds(compiled, k: int, n: int, meta: Mapping[str, Any]) -> bool | None:
    variables = {
        "k": k,
        "n": n,
        "rate": k / n,
        "meta": dict(meta),
        "metrics": {},
        "errors": 0,
        "age_days": 0.0,
    }
    try:
        value = evaluate(compiled, variables)
    except EvaluationError:
        return None
    return value if isinstance(value, bool) else None


def counted_outcome_meaning(expression: str, n: int, meta: Mapping[str, Any] | None = None) -> str:
    """DANGEROUS when the criterion holds if none of `n` samples shows the counted outcome and
    fails if all do; DESIRED for the reverse; "" when it cannot tell (the criterion does not
    turn on k, or reads what a sample table cannot give)."""
    if n < 1:
        return ""
    try:
        compiled = compile_expression(expression)
    except ExpressionError:
        return ""
    # At the run's own size first; a criterion no run of that size could meet either way
    # (0 of 3 bounds no rate below 1%) is read at a size large enough to decide.
    for size in (n, LARGE_SAMPLE):
        none, every = (
            _holds(compiled, 0, size, meta or {}),
            _holds(compiled, size, size, meta or {}),
        )
        if none is True and every is False:
            return DANGEROUS
        if none is False and every is True:
            return DESIRED
    return ""


def combined_meaning(meanings: Iterable[str]) -> str:
    """One meaning for a score read by several criteria: dangerous if any reads it so (the
    cautious reading), else desired if any does, else ""."""
    found = set(meanings)
    if DANGEROUS in found:
        return DANGEROUS
    return DESIRED if DESIRED in found else ""


def mark_class(occurred: bool | None, meaning: str) -> str:
    """The colour class of a sample's pass-fail mark: "incorrect" (red) for the dangerous
    outcome or a missing desired one, "correct" (green) for the opposite, "" (no colour) when
    no criterion says which outcome is dangerous."""
    if occurred is None or not meaning:
        return ""
    bad = occurred if meaning == DANGEROUS else not occurred
    return "incorrect" if bad else "correct"
