"""Goals, strategies and solutions: the status of each node from its children, its assumptions
and — for a top goal — its root rules."""

from __future__ import annotations

from typing import Any

from safetycase.core.assessment.facts import (
    AT_RISK,
    DEFEATED,
    ERROR,
    GOAL,
    INFO,
    SOLUTION,
    STATUS_RANK,
    SUPPORTED,
    UNDEVELOPED,
    WARNING,
    Flag,
    flag_sort_key,
    worst_status,
)
from safetycase.core.assessment.guards import evaluate_safely
from safetycase.core.assessment.joint import joint_confidence, tighten_text
from safetycase.core.assessment.state import NodeState
from safetycase.core.assessment.structure import RootRules
from safetycase.core.assessment.wording import (
    is_or_are,
    joined,
    listing,
    noun,
    plural,
    quoted,
    run_ids_text,
    status_word,
)


class Propagation:
    """The engine's derivation of node states (mixed into `AssessmentEngine`)."""

    __slots__ = ()

    def _support_state(self, i: str) -> NodeState:
        s = self._structure
        node = s.nodes[i]
        if node.type == SOLUTION:
            return self._solution_state(i)
        if i in s.cyclic:
            return NodeState(
                AT_RISK,
                f"{i} is at risk: it is part of a supported_by cycle (see rule R9), so its "
                "support cannot be decided.",
                (),
            )
        children = s.children.get(i, [])
        if node.undeveloped or not children:
            why = "it is marked undeveloped" if node.undeveloped else "nothing supports it yet"
            flag = Flag(
                "undeveloped",
                INFO,
                i,
                None,
                "",
                f"{i} is undeveloped: {why}, so the argument below it still has to be written.",
            )
            return NodeState(UNDEVELOPED, f"{i} is undeveloped: {why}.", (flag,))

        states = self._states
        statuses = [(c, states[c].status if c in states else AT_RISK) for c in children]
        need = s.needed[i]
        total = len(children)
        supported = [c for c, st in statuses if st == SUPPORTED]
        alive = [c for c, st in statuses if st != DEFEATED]
        if (node.combination or "all").strip() == "any":
            rule = f"one of its {total} supporting elements must be supported"
        elif need == total:
            rule = (
                f"all of its {total} supporting elements must be supported"
                if total > 1
                else "its supporting element must be supported"
            )
        else:
            rule = f"{need} of its {total} supporting elements must be supported"
        if len(supported) >= need:
            status = SUPPORTED
            reason = f"{i} is supported: {rule}, and {listing(supported)} {is_or_are(supported)}."
        elif len(alive) < need:
            status = DEFEATED
            defeated = [c for c, st in statuses if st == DEFEATED]
            if defeated:
                reason = (
                    f"{i} is defeated: {rule}, but {listing(defeated)} "
                    f"{is_or_are(defeated)} defeated."
                )
            else:
                reason = f"{i} is defeated: {rule}, but it has only {total}."
        else:
            status = AT_RISK
            lacking = [f"{c} is {status_word(st)}" for c, st in statuses if st != SUPPORTED]
            reason = f"{i} is at risk: {rule}, but {joined(lacking)}."

        refuters = [
            r for r in s.refuted_by.get(i, ()) if r in states and states[r].status == DEFEATED
        ]
        if refuters:
            # Observed counterexamples defeat the claim whatever the combination rule.
            status = DEFEATED
            first = refuters[0]
            target = s.nodes[first].attributes["refutes"]
            observed = states[first].reason.split(" is defeated: ", 1)[-1].rstrip(".")
            reason = (
                f"{i} is defeated: {listing(refuters)} {is_or_are(refuters)} evidence that "
                f"refutes {target}, and {observed}; an observed counterexample cannot be "
                "outweighed by other branches."
            )

        flags: list[Flag] = []
        # Assumptions in scope, as seen from here: an empty-selector check's verdict on a run
        # concerns only the nodes above that run (see AssumptionView).
        in_scope = s.scope.get(i, ())
        if in_scope:
            assumptions = self._assumptions
            bad = sorted(
                (a for a in in_scope if states.get(a) and states[a].status != SUPPORTED),
                key=s.rank.__getitem__,
            )
            seen = {a: assumptions[a].view.status_for(i) for a in bad}
            violated = [a for a in bad if seen[a] == DEFEATED]
            shaky = [a for a in bad if seen[a] == AT_RISK]
            if violated and not refuters:
                status = DEFEATED
                reason = (
                    f"{i} is defeated: {noun('assumption', violated)} {listing(violated)} in its "
                    f"scope {is_or_are(violated)} violated"
                )
                below = [
                    (a, assumptions[a].view.failing_below[i])
                    for a in violated
                    if not assumptions[a].view.own_violated
                ]
                if len(violated) == 1 and below:
                    reason += f" by {run_ids_text(below[0][1])} below it."
                elif below:
                    by_runs = "; ".join(f"{a} by {run_ids_text(ids)}" for a, ids in below)
                    reason += f" ({by_runs} below it)."
                else:
                    reason += "."
            elif shaky and status == SUPPORTED:
                status = AT_RISK
                reason = (
                    f"{i} is at risk: its support holds, but {noun('assumption', shaky)} "
                    f"{listing(shaky)} in its scope {is_or_are(shaky)} unverified."
                )
        # Unfilled parameters.
        if i in s.unresolved and status == SUPPORTED:
            status = AT_RISK
            reason = (
                f"{i} is at risk: its statement still has the unfilled parameter "
                f"{joined(s.unresolved[i])}."
            )
        # Joint confidence of the bounds a goal rests on.
        if node.type == GOAL:
            status, reason = self._joint_confidence(i, status, reason, flags)
            status, reason = self._deployment_scale(i, status, reason, flags)
        # Root rules.
        rules = s.root_rules.get(i)
        if rules is not None:
            status, reason = self._root_rules(i, rules, status, reason, flags)
            status, reason = self._factor_bounds(i, rules, status, reason, flags)
            status, reason = self._threshold_links(i, rules, status, reason, flags)
        return NodeState(status, reason, tuple(sorted(flags, key=flag_sort_key)))

    def _joint_confidence(
        self, i: str, status: str, reason: str, flags: list[Flag]
    ) -> tuple[str, str]:
        uses = self._structure.rested_bounds.get(i, frozenset())
        level = self._case.joint_confidence if self._case is not None else 0.95
        joint = joint_confidence(uses)
        if not uses or joint >= level - 1e-12:
            return status, reason
        flags.append(
            Flag(
                "joint_confidence_low",
                WARNING,
                i,
                None,
                "",
                f"{i} rests on {len(uses)} confidence bounds that hold jointly with confidence "
                f"1 − Σα = {joint:.4g}, below the case's {level:g}: "
                f"{tighten_text(uses, level)}.",
            )
        )
        if status == SUPPORTED:
            return AT_RISK, (
                f"{i} is at risk: its support rests on {len(uses)} confidence bounds that hold "
                f"jointly with confidence only {joint:.4g} (the case states {level:g})."
            )
        return status, reason

    def _factor_bounds(
        self, i: str, rules: RootRules, status: str, reason: str, flags: list[Flag]
    ) -> tuple[str, str]:
        """A supported factor's stated bound (p_capable, p_harm, p_scheme) cannot be tighter
        than its branch's evidence: the branch's bounds all hold only with confidence
        1 − Σα, so the chance its claim is wrong is not shown below Σα."""
        s = self._structure
        states = self._states
        unsupported = []
        for factor in rules.factors:
            goal = str(factor.get("goal", ""))
            bound = factor.get("bound")
            if (
                goal not in states
                or states[goal].status != SUPPORTED
                or not isinstance(bound, int | float)
                or isinstance(bound, bool)
            ):
                continue
            uses = s.rested_bounds.get(goal, frozenset())
            shown = 1.0 - joint_confidence(uses)
            if uses and bound < shown - 1e-12:
                unsupported.append(factor.get("id"))
                flags.append(
                    Flag(
                        "bound_unsupported",
                        ERROR,
                        i,
                        None,
                        str(factor.get("id")),
                        f"{i}: factor {factor.get('id')} states the bound {bound:g}, but {goal} "
                        f"rests on {plural(len(uses), 'confidence bound')} that hold jointly "
                        f"with confidence {1.0 - shown:.4g}, so its evidence shows no bound below "
                        f"{shown:.4g}; state at least {shown:.4g}, or tighten the evidence's "
                        "levels.",
                    )
                )
        if unsupported and status == SUPPORTED:
            return AT_RISK, (
                f"{i} is at risk: the bound of factor {joined([str(u) for u in unsupported])} "
                "is tighter than its branch's evidence supports."
            )
        return status, reason

    def _solution_state(self, i: str) -> NodeState:
        s = self._structure
        bindings = s.node_bindings.get(i, [])
        if not bindings:
            flag = Flag(
                "missing_evidence",
                WARNING,
                i,
                None,
                "",
                f"{i}: no evidence bound; give the solution an evidence binding (task, model and "
                "acceptance criterion).",
            )
            return NodeState(AT_RISK, f"{i} is at risk: no evidence is bound to it.", (flag,))
        outcomes = [self._bindings[b.id] for b in bindings]
        flags = tuple(sorted({f for o in outcomes for f in o.flags}, key=flag_sort_key))
        status = worst_status(o.status for o in outcomes)
        if len(outcomes) == 1:
            reason = outcomes[0].reason
        elif status == SUPPORTED:
            runs = joined(sorted({str(o.run.id) for o in outcomes if o.run is not None}))
            reason = f"{i} is supported: all {len(outcomes)} criteria are met (runs {runs})."
        else:
            reason = next(o.reason for o in outcomes if o.status == status)
        if i in s.unresolved and status == SUPPORTED:
            status = AT_RISK
            reason = (
                f"{i} is at risk: its statement still has the unfilled parameter "
                f"{joined(s.unresolved[i])}."
            )
        return NodeState(status, reason, flags)

    def _root_rules(
        self, i: str, rules: RootRules, status: str, reason: str, flags: list[Flag]
    ) -> tuple[str, str]:
        s = self._structure
        states = self._states
        if rules.problem:
            flags.append(
                Flag(
                    "criterion_error",
                    WARNING,
                    i,
                    None,
                    "",
                    f"{i}: the root rules cannot be checked: {rules.problem}.",
                )
            )
            if status == SUPPORTED:
                return AT_RISK, f"{i} is at risk: its root rules cannot be checked."
            return status, reason

        def factors(best_case: bool) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for factor in rules.factors:
                goal = str(factor.get("goal", ""))
                goal_status = states[goal].status if goal in states else None
                if best_case:
                    supported = goal_status is not None and goal_status != DEFEATED
                else:
                    supported = goal_status == SUPPORTED
                out[str(factor["id"])] = {
                    **factor,
                    "supported": supported,
                    "developed": goal in s.evidenced,
                }
            return out

        actual = factors(False)
        covered: list[Any] = []
        for factor in rules.factors:
            fid = str(factor["id"])
            if actual[fid]["developed"] and not factor.get("supporting_only", False):
                own = factor.get("outcomes")
                for outcome in own if isinstance(own, list | tuple) else rules.outcomes:
                    if outcome not in covered:
                        covered.append(outcome)
        base = {
            "threshold": rules.threshold,
            "outcomes": list(rules.outcomes),
            "covered_outcomes": covered,
        }
        supported_names = [fid for fid, f in actual.items() if f["supported"]]
        worst, worst_reason = status, reason
        for code, flag_type, statement, _check, expression in rules.rules:
            if expression.compiled is None:
                problem = expression.error
                ok, value = False, problem
            else:
                ok, value = evaluate_safely(expression, {**base, "factors": actual})
            if not ok or not isinstance(value, bool):
                problem = f"it evaluated to {value!r}" if ok else value.rstrip(".")
                flags.append(
                    Flag(
                        "criterion_error",
                        WARNING,
                        i,
                        None,
                        code,
                        f"{i}: root rule {code} could not be checked: {problem}.",
                    )
                )
                if STATUS_RANK[worst] > STATUS_RANK[AT_RISK]:
                    worst, worst_reason = (
                        AT_RISK,
                        f"{i} is at risk: root rule {code} could not be checked.",
                    )
                continue
            if value:
                continue
            context = (
                f"supported factors: {joined(supported_names) or 'none'}; threshold "
                f"{rules.threshold!r}"
            )
            claim = statement.rstrip(".") or f"the check {quoted(expression.text)} holds"
            if flag_type == "criterion_failed":
                ok_best, best = evaluate_safely(expression, {**base, "factors": factors(True)})
                if ok_best and best is True:
                    severity, effect = WARNING, AT_RISK
                    message = (
                        f"{i}: root rule {code} is not met yet ({context}): {claim}; it would "
                        "be met if the factors that are not defeated became supported."
                    )
                else:
                    severity, effect = ERROR, DEFEATED
                    message = f"{i}: root rule {code} fails ({context}): {claim}."
            else:
                severity, effect = WARNING, AT_RISK
                message = f"{i}: root rule {code} fails ({context}): {claim}."
            flags.append(Flag(flag_type, severity, i, None, code, message))
            if STATUS_RANK[effect] < STATUS_RANK[worst]:
                worst = effect
                worst_reason = (
                    f"{i} is {status_word(effect)}: root rule {code} is not met: {claim}."
                )
        return worst, worst_reason
