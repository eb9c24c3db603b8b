"""Deployment scale and threshold links: per-attempt bounds scaled to the deployment's number of
attempts, and the root's factor bounds checked against the thresholds of the branches that argue
them.

* `deployment_scale_exceeded`: a goal whose `attributes.deployment_scale` states `{attempts: N,
  bound: T}` (SI-G0 with `n_deploy_attempts` and `p_capable`, HI-G0 with `n_deploy_attempts` and
  `p_harm`) claims its hazard stays under T over the whole deployment, while its evidence bounds
  a rate per attempt. The per-attempt upper bounds it rests on (`cp_upper(k, n, c)` and
  `wilson_upper(k, n, c)` among the bounds joint.py walks, each at the largest value over the
  runs in its ledger that count) add up to p per attempt (union bound: any of the events); over
  N attempts P(at least one) ≤ 1 − (1 − p)ᴺ, as AL's honeypot criterion computes with
  `p_any_defection`. Above T: when the bounds of the runs that saw an event exceed T on their
  own, it fails like a criterion on an observed event — error, the goal is defeated; otherwise
  the evidence is too small, not contrary — warning, a supported goal is at risk, and the
  message gives the per-attempt rate needed, 1 − (1 − T)^(1/N), and the samples without an
  event that would show it. No new bound is computed, so
  joint confidence is unchanged.
* `threshold_unlinked` (error, on the root, rule = the factor id): a branch's threshold looser
  than the factor bound the root multiplies. For each factor goal, every goal below it that
  states a deployment scale is checked: its deployment-level bound T, and its per-attempt
  thresholds (the `t` of `cp_upper(k, n, c) <= t`, summed over the criteria it rests on) scaled
  to 1 − (1 − Σt)ᴺ; so is every criterion below it that compares a deployment-level probability
  (`p_any_defection`, `p_red_win`, `max_p_red_win`) with a literal threshold. It is checked from
  the argument alone, before any evidence: even evidence that meets every branch threshold would
  not show the factor's bound. A supported root is at risk; the message says what the product of
  the factor bounds would be with the branch's number instead, so the author can see whether to
  tighten the branch or loosen the factor."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from evidence.statistics import cp_upper, min_trials_for_bound, wilson_upper
from safetycase.core.assessment.facts import (
    AT_RISK,
    DEFEATED,
    ERROR,
    GOAL,
    STATUS_RANK,
    SUPPORTED,
    WARNING,
    Flag,
)
from safetycase.core.assessment.joint import BoundUse, call_arguments, closing_bracket
from safetycase.core.assessment.ledger import DECISIVE, OUTWEIGHED
from safetycase.core.assessment.structure import RootRules
from safetycase.core.assessment.wording import joined, plural

_PER_ATTEMPT = {"cp_upper": cp_upper, "wilson_upper": wilson_upper}
_NUM = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_DEPLOYMENT_CALL = re.compile(r"\b(p_any_defection|p_red_win|max_p_red_win)\s*\(")
_AT_MOST = re.compile(rf"\s*(<=|<)\s*{_NUM}(?![\w.(])")
_TOLERANCE = 1e-12


def at_least_once(p: float, attempts: int) -> float:
    """1 − (1 − p)ᴺ: the chance of at least one event in N independent attempts at rate p."""
    if p >= 1.0:
        return 1.0
    if p <= 0.0 or attempts <= 0:
        return 0.0
    return -math.expm1(attempts * math.log1p(-p))


def rate_needed(bound: float, attempts: int) -> float:
    """The largest per-attempt rate p with 1 − (1 − p)ᴺ ≤ bound."""
    return -math.expm1(math.log1p(-bound) / attempts)


def scale_of(attributes: Mapping[str, Any] | None) -> tuple[int, float] | None:
    """(attempts, bound) of a goal's well-formed `deployment_scale` attribute, or None."""
    spec = (attributes or {}).get("deployment_scale")
    return (
        None
        if spec is None or scale_problem(spec)
        else (int(spec["attempts"]), float(spec["bound"]))
    )


def scale_problem(spec: Any) -> str:
    """Why a `deployment_scale` attribute cannot be used, or "" when it can: attempts must be
    a whole number of at least 1 and the bound a probability (0 is a claim of no event at all,
    which any positive per-attempt bound exceeds)."""
    if not isinstance(spec, Mapping):
        return f"it is {spec!r}, not a map of attempts and bound"

    def number(value: Any) -> bool:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )

    attempts, bound = spec.get("attempts"), spec.get("bound")
    if not number(attempts) or attempts < 1 or attempts != int(attempts):
        return f"its attempts {attempts!r} is not a whole number of at least 1"
    if not number(bound) or not 0.0 <= bound <= 1.0:
        return f"its bound {bound!r} is not a probability"
    return ""


def per_attempt_uses(uses: frozenset[BoundUse], bindings: Mapping[Any, Any]) -> list[BoundUse]:
    """The bounds among `uses` that bound a rate per attempt from above on the run's own
    counts: `cp_upper(k, n, c)` and `wilson_upper(k, n, c)`."""
    out, seen = [], set()
    for use in sorted(uses, key=lambda u: (u.solution, str(u.binding), u.position)):
        if use.function not in _PER_ATTEMPT or use.binding not in bindings:
            continue
        args = call_arguments(bindings[use.binding].expression or "", use.position)
        # The same bound written twice in one criterion is one bound on the same counts.
        key = (use.binding, use.function, use.confidence)
        if len(args) >= 2 and args[0] == "k" and args[1] == "n" and key not in seen:
            seen.add(key)
            out.append(use)
    return out


def deployment_thresholds(text: str) -> list[tuple[str, float]]:
    """(function, t) of each deployment-level probability compared with a literal threshold
    (`p_any_defection(q, N) <= t`)."""
    out = []
    for match in _DEPLOYMENT_CALL.finditer(text):
        j = closing_bracket(text, match.end() - 1)
        if j is None:
            continue
        after = _AT_MOST.match(text, j + 1)
        if after:
            t = float(after.group(2))
            if 0.0 < t < 1.0:
                out.append((match.group(1), t))
    return out


class ScaleChecks:
    """The engine's deployment-scale and threshold-link checks (mixed into `AssessmentEngine`)."""

    __slots__ = ()

    def _deployment_scale(
        self, i: str, status: str, reason: str, flags: list[Flag]
    ) -> tuple[str, str]:
        s = self._structure
        raw = (s.nodes[i].attributes or {}).get("deployment_scale")
        if raw is None:
            return status, reason
        problem = scale_problem(raw)
        if problem:
            # A malformed scale must not let per-attempt bounds pass for deployment-level ones.
            flags.append(
                Flag(
                    "criterion_error",
                    WARNING,
                    i,
                    None,
                    "",
                    f"{i}: its deployment scale cannot be checked: {problem}.",
                )
            )
            if status == SUPPORTED:
                return AT_RISK, f"{i} is at risk: its deployment scale cannot be checked."
            return status, reason
        attempts, bound = int(raw["attempts"]), float(raw["bound"])
        uses = per_attempt_uses(s.rested_bounds.get(i, frozenset()), s.bindings)
        values: list[tuple[BoundUse, float, int, int]] = []
        for use in uses:
            outcome = self._bindings.get(use.binding)
            function = _PER_ATTEMPT[use.function]
            counted = [
                (function(e.k, e.n, use.confidence), e.k, e.n)
                for e in (outcome.evidence if outcome is not None else ())
                if e.role in (DECISIVE, OUTWEIGHED) and e.k is not None and e.n and 0 <= e.k <= e.n
            ]
            counted = [c for c in counted if c[0] is not None]
            if not counted:
                continue
            value, k, n = max(counted)
            values.append((use, value, k, n))
        if not values:
            if status != SUPPORTED:
                return status, reason  # no evidence yet: the solutions say so
            # Supported, yet no bound it rests on reads as a rate per attempt: the claim about
            # the deployment would pass unchecked (`k == 0 && n >= m`, `cp_upper(k + e, …)`).
            flags.append(
                Flag(
                    "criterion_error",
                    WARNING,
                    i,
                    None,
                    "",
                    f"{i}: its deployment scale cannot be checked: none of the bounds it rests on "
                    "is a per-attempt upper bound on the run's own counts, cp_upper(k, n, c) or "
                    "wilson_upper(k, n, c).",
                )
            )
            return AT_RISK, f"{i} is at risk: its deployment scale cannot be checked."
        p = min(1.0, math.fsum(v for _, v, _, _ in values))
        risk = at_least_once(p, attempts)
        if risk <= bound + _TOLERANCE:
            return status, reason
        counts: dict[str, int] = {}
        for u, v, k, n in values:
            text = f"{u.function}({k}, {n}, {u.confidence:.6g}) = {v:.3g} ({u.solution})"
            counts[text] = counts.get(text, 0) + 1
        shown = joined([f"{t} ×{c}" if c > 1 else t for t, c in counts.items()])
        per_attempt = (
            f"{i} claims at most {bound:g} over the deployment's {attempts:,} attempts, but its "
            f"per-attempt bound{'s' if len(values) > 1 else ''} {shown} "
            f"{'add up to' if len(values) > 1 else 'is'} p = {p:.3g} per attempt, and "
            f"1 − (1 − {p:.3g})^{attempts:,} = {risk:.4g}"
        )
        needed = rate_needed(bound, attempts)
        # The bounds of the runs that saw events are already too much on their own: a failure,
        # as a criterion failing on an observed event is; otherwise more samples without an
        # event could still show the bound.
        observed_p = min(1.0, math.fsum(v for _, v, k, _ in values if k > 0))
        observed_risk = at_least_once(observed_p, attempts)
        if observed_risk > bound + _TOLERANCE:
            flags.append(
                Flag(
                    "deployment_scale_exceeded",
                    ERROR,
                    i,
                    None,
                    "",
                    f"{per_attempt}. The bounds of the runs that saw events give "
                    f"{observed_risk:.4g} on their own, so this is a failure, not too few samples "
                    f"(at most {needed:.3g} per attempt in total would do).",
                )
            )
            if STATUS_RANK[status] > STATUS_RANK[DEFEATED]:
                return DEFEATED, (
                    f"{i} is defeated: scaled to the deployment's {attempts:,} attempts, its "
                    f"evidence bounds the chance of at least one event only by {risk:.4g}, "
                    f"above its {bound:g}."
                )
            return status, reason
        each = needed / len(values)
        level = max(u.confidence for u, _, _, _ in values)
        try:
            samples = f"{min_trials_for_bound(each, level):,}"
        except ValueError:
            samples = "no feasible number of"
        flags.append(
            Flag(
                "deployment_scale_exceeded",
                WARNING,
                i,
                None,
                "",
                f"{per_attempt}. Too few samples without an event: at most "
                f"{needed:.3g} per attempt is needed ({each:.3g} for each of "
                f"{plural(len(values), 'bound')}: {samples} samples without an event at "
                f"{level:.6g}).",
            )
        )
        if status == SUPPORTED:
            return AT_RISK, (
                f"{i} is at risk: scaled to the deployment's {attempts:,} attempts, its "
                f"per-attempt bounds allow at least one event with probability {risk:.4g}, "
                f"above its {bound:g}."
            )
        return status, reason

    def _threshold_links(
        self, i: str, rules: RootRules, status: str, reason: str, flags: list[Flag]
    ) -> tuple[str, str]:
        if rules.problem:
            return status, reason  # the root rules' own flag says why
        s = self._structure
        # The findings depend on the argument alone: kept with the structure, which is rebuilt
        # whenever nodes, relations or bindings change.
        found = s.derived.get(("threshold_links", i))
        if found is None:
            found = s.derived[("threshold_links", i)] = self._unlinked_thresholds(i, rules)
        flags.extend(found)
        if found and status == SUPPORTED:
            unlinked = sorted({flag.rule for flag in found})
            return AT_RISK, (
                f"{i} is at risk: the thresholds below factor {joined(unlinked)} are looser "
                "than the bound the root multiplies."
            )
        return status, reason

    def _unlinked_thresholds(self, i: str, rules: RootRules) -> list[Flag]:
        """The `threshold_unlinked` flags of the top goal `i`, from the argument alone."""
        s = self._structure
        stated = {
            str(f.get("id")): f.get("bound")
            for f in rules.factors
            if isinstance(f.get("bound"), int | float) and not isinstance(f.get("bound"), bool)
        }
        out: list[Flag] = []
        for factor in rules.factors:
            fid = str(factor.get("id"))
            goal = str(factor.get("goal", ""))
            if fid not in stated or goal not in s.nodes:
                continue
            factor_bound = float(stated[fid])
            # (what the branch states, its value, how to tighten it)
            found: list[tuple[str, float, str]] = []
            for node in self._below(goal):
                kind = s.nodes[node].type
                spec = scale_of(s.nodes[node].attributes) if kind == GOAL else None
                if spec is not None:
                    attempts, bound = spec
                    if bound > factor_bound + _TOLERANCE:
                        found.append(
                            (
                                f"{node} states the deployment-level bound {bound:g}",
                                bound,
                                f"state {node}'s bound as at most {factor_bound:g}",
                            )
                        )
                    found.extend(self._scaled_thresholds(node, attempts, factor_bound))
                for binding in s.node_bindings.get(node, ()) if kind == "solution" else ():
                    text = s.expressions[binding.id].text or ""
                    for function, t in deployment_thresholds(text):
                        if t > factor_bound + _TOLERANCE:
                            found.append(
                                (
                                    f"{node}'s criterion bounds {function}(…) by {t:g}",
                                    t,
                                    f"bound it by {factor_bound:g}",
                                )
                            )
            for text, value, tighten in found:
                product = math.prod(value if f == fid else float(b) for f, b in stated.items())
                within = "within" if product <= float(rules.threshold) else "above"
                out.append(
                    Flag(
                        "threshold_unlinked",
                        ERROR,
                        i,
                        None,
                        fid,
                        f"{i}: factor {fid} multiplies the bound {factor_bound:g} ({goal}), but "
                        f"{text}, looser than {factor_bound:g}: evidence meeting it would not "
                        f"show the factor's bound. Either {tighten}, or state the factor as "
                        f"{value:.4g} (the product of the factor bounds would be {product:.4g}, "
                        f"{within} the threshold {rules.threshold!r}).",
                    )
                )
        return out

    def _scaled_thresholds(
        self, node: str, attempts: int, factor_bound: float
    ) -> list[tuple[str, float, str]]:
        """The per-attempt thresholds `node` rests on, summed and scaled to its attempts, when
        that is looser than the factor's bound."""
        s = self._structure
        thresholds: dict[Any, tuple[str, float]] = {}
        for use in per_attempt_uses(s.rested_bounds.get(node, frozenset()), s.bindings):
            claimed = s.expressions[use.binding].bound
            if claimed is not None:
                thresholds[use.binding] = (use.solution, claimed[0])
        if not thresholds:
            return []
        total = min(1.0, math.fsum(t for _, t in thresholds.values()))
        scaled = at_least_once(total, attempts)
        if scaled <= factor_bound + _TOLERANCE:
            return []
        counts: dict[str, int] = {}
        for solution, t in sorted(thresholds.values()):
            key = f"{solution} {t:g}"
            counts[key] = counts.get(key, 0) + 1
        listed = joined([f"{k} (×{c})" if c > 1 else k for k, c in counts.items()])
        needed = rate_needed(factor_bound, attempts)
        return [
            (
                f"{node}'s per-attempt thresholds ({listed}; Σt = {total:.3g}) allow "
                f"1 − (1 − {total:.3g})^{attempts:,} = {scaled:.4g} over its {attempts:,} "
                f"attempts",
                scaled,
                f"tighten them to a total of at most {needed:.3g} per attempt",
            )
        ]

    def _below(self, goal: str) -> list[str]:
        """`goal` and every node on a supported_by path below it."""
        children = self._structure.children
        seen, stack, out = {goal}, [goal], []
        while stack:
            node = stack.pop()
            out.append(node)
            for child in children.get(node, ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return sorted(out, key=self._structure.rank.__getitem__)
