"""Joint confidence: the confidence bounds a goal rests on and how sure all of them are at once.

Each confidence bound a criterion computes (`cp_upper`, `cp_lower`, `wilson_upper`,
`wilson_lower`, `paired_upper`, `paired_lower` at confidence c, `union_upper` at its overall c;
`paired.upper` / `paired.lower`, the ends of the paired table's 95% interval, at 97.5%) may be
wrong with probability α = 1 − c. A goal rests on the bounds of the solutions below it: all of
its children's for `all`, and for `any` / `at_least: k` the k children with the most to lose
(the largest Σα), since any k of them may be the ones that carry it; a solution shared by two
branches counts once. By the union bound (Bonferroni) the bounds hold together with probability
at least 1 − Σα. A goal whose joint confidence is below the case's stated level (`CaseFacts
.joint_confidence`, default 0.95) is at risk with `joint_confidence_low`, which names the bounds
and the per-bound level that would do (`bonferroni(level, m)`).

Tests (`binom_sf`, `bootstrap_p`) are not counted: their α is the chance of a false alarm, not
of a false support; point estimates carry no stated confidence (see `point_estimate`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evidence.statistics import DEFAULT_CONFIDENCE, bonferroni_confidence
from safetycase.core import criteria
from safetycase.core.assessment.facts import ARGUED_TYPES, SOLUTION

_BOUND_CALL = re.compile(
    r"\b(cp_upper|cp_lower|wilson_upper|wilson_lower|union_upper|paired_upper|paired_lower)\s*\("
)
_CONFIDENCE_ARGUMENT = {
    "cp_upper": 2,
    "cp_lower": 2,
    "wilson_upper": 2,
    "wilson_lower": 2,
    "union_upper": 1,
    "paired_upper": 1,
    "paired_lower": 1,
}
# The `paired` table's own interval is 95% two-sided: each end is a 97.5% one-sided bound.
_PAIRED_ENDS = re.compile(r"\bpaired\s*(?:\.\s*(upper|lower)\b|\[\s*[\"'](upper|lower)[\"']\s*\])")
PAIRED_END_CONFIDENCE = 0.975


@dataclass(frozen=True)
class BoundUse:
    """One confidence bound in one binding's criterion."""

    solution: str
    binding: Any
    position: int  # the call's offset in the expression (several bounds per criterion)
    function: str
    confidence: float

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    def text(self) -> str:
        return f"{self.solution}'s {self.function} at {self.confidence:g}"


def _arguments(text: str, start: int) -> list[str]:
    """The top-level arguments of the call whose "(" is at `start`."""
    depth, current, out = 0, [], []
    for ch in text[start + 1 :]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                out.append("".join(current).strip())
                return out
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    return out


def call_arguments(text: str, position: int) -> list[str]:
    """The top-level arguments of the call whose name starts at `position` (a `BoundUse`'s)."""
    open_at = text.find("(", position)
    return _arguments(text, open_at) if open_at >= 0 else []


_CONSTANTS: dict[str, float | None] = {}


def _constant(text: str) -> float | None:
    """The value of a confidence argument written as a constant (0.95, bonferroni(0.95, 4))."""
    if text not in _CONSTANTS:
        try:
            value = criteria.evaluate(criteria.compile_expression(text), {})
            ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1
            _CONSTANTS[text] = float(value) if ok else None
        except Exception:  # not a constant: a run-dependent confidence counts as the default
            _CONSTANTS[text] = None
    return _CONSTANTS[text]


def closing_bracket(text: str, open_at: int) -> int | None:
    """The index of the bracket that closes the one at `open_at`, or None when none does."""
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] in "([{":
            depth += 1
        elif text[j] in ")]}":
            depth -= 1
            if depth == 0:
                return j
    return None


def constant_confidences(text: str) -> str:
    """`text` with each `bonferroni(...)` call that is a constant replaced by its value, so
    that the shape of a criterion (`cp_upper(k, n, bonferroni(0.95, 4)) <= t`) reads the
    level it states."""
    out, last = [], 0
    for match in re.finditer(r"\bbonferroni\s*\(", text):
        if match.start() < last:
            continue
        close = closing_bracket(text, match.end() - 1)
        end = (close if close is not None else len(text) - 1) + 1
        value = _constant(text[match.start() : end])
        if value is not None:
            out.append(text[last : match.start()])
            out.append(repr(value))
            last = end
    out.append(text[last:])
    return "".join(out)


def bound_confidences(text: str) -> list[tuple[int, str, float]]:
    """(offset, function, confidence) of each confidence bound the expression computes."""
    out = []
    for match in _BOUND_CALL.finditer(text):
        function = match.group(1)
        args = _arguments(text, match.end() - 1)
        index = _CONFIDENCE_ARGUMENT[function]
        confidence = _constant(args[index]) if len(args) > index else None
        out.append((match.start(), function, confidence or DEFAULT_CONFIDENCE))
    for match in _PAIRED_ENDS.finditer(text):
        end = match.group(1) or match.group(2)
        out.append((match.start(), f"paired.{end}", PAIRED_END_CONFIDENCE))
    return out


def rested_bounds(
    order: list[str],
    nodes: Mapping[str, Any],
    children: Mapping[str, list[str]],
    needed: Mapping[str, int],
    node_bindings: Mapping[str, list[Any]],
) -> dict[str, frozenset[BoundUse]]:
    """Goal, strategy or solution -> the bounds it rests on (children first, see above)."""
    rests: dict[str, frozenset[BoundUse]] = {}
    for i in order:
        node = nodes[i]
        if node.type == SOLUTION:
            rests[i] = frozenset(
                BoundUse(i, b.id, offset, function, confidence)
                for b in node_bindings.get(i, ())
                for offset, function, confidence in bound_confidences(b.expression or "")
            )
            continue
        if node.type not in ARGUED_TYPES:
            continue
        kids = [rests.get(c, frozenset()) for c in children.get(i, ())]
        need = needed.get(i, len(kids))
        if need < len(kids):
            kids = sorted(kids, key=lambda uses: -math.fsum(u.alpha for u in uses))[:need]
        rests[i] = frozenset().union(*kids) if kids else frozenset()
    return rests


def joint_confidence(uses: frozenset[BoundUse]) -> float:
    """1 − Σα over the bounds (Bonferroni), at least 0."""
    return max(0.0, 1.0 - math.fsum(u.alpha for u in uses))


def tighten_text(uses: frozenset[BoundUse], level: float) -> str:
    """Which bounds to tighten and to what, for a message."""
    counts: dict[str, int] = {}
    for u in sorted(uses, key=lambda u: (-u.alpha, u.solution, str(u.binding), u.position)):
        counts[u.text()] = counts.get(u.text(), 0) + 1
    shown = [f"{text} (×{count})" if count > 1 else text for text, count in counts.items()]
    if len(shown) > 4:
        shown = [*shown[:3], f"{len(shown) - 3} more"]
    each = bonferroni_confidence(level, len(uses))
    return (
        f"tighten {', '.join(shown)} to bonferroni({level:g}, {len(uses)}) = {each:.4g} each "
        f"for {level:g} jointly"
    )
