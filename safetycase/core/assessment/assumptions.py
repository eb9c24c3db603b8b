"""Assumptions: their checks (on their own evidence or on the runs of the solutions in their
scope), attestations and how the nodes in their scope see them."""

from __future__ import annotations

import heapq
import math
from typing import Any

from safetycase.core.assessment.facts import (
    AT_RISK,
    ATTESTATION_NOTICE_SECONDS,
    DEFEATED,
    ERROR,
    FOREVER,
    POLICY_POOLED,
    SUPPORTED,
    WARNING,
    AttestationFacts,
    BindingFacts,
    Flag,
    RunFacts,
    flag_sort_key,
)
from safetycase.core.assessment.guards import PreparedExpression
from safetycase.core.assessment.ledger import WITHDRAWN
from safetycase.core.assessment.paired import paired_note
from safetycase.core.assessment.runs import RunStatistic, run_text, statistic_for
from safetycase.core.assessment.state import (
    ASSUMPTION_HOLDS,
    AssumptionView,
    CheckResults,
    Outcome,
    ScopeTargets,
)
from safetycase.core.assessment.wording import day_text, joined, plural, quoted
from safetycase.core.keys import id_key, timestamp


class AssumptionChecks:
    """The engine's assumption checks (mixed into `AssessmentEngine`)."""

    __slots__ = ()

    def _assumption(
        self, a: str, attestations: tuple[AttestationFacts, ...], now_ts: float
    ) -> Outcome:
        s = self._structure
        node = s.nodes[a]
        checks = s.node_bindings.get(a, [])
        flags: list[Flag] = []
        valid_from, valid_to = now_ts, FOREVER
        violated: list[tuple[BindingFacts, list[tuple[RunFacts, RunStatistic]]]] = []
        unverified: list[str] = []
        held = 0
        # For the view from the nodes in scope: what concerns them all, and the runs on which
        # an empty-selector check is false or cannot be evaluated (which concern only the nodes
        # above those runs).
        own_violated = broadly_unverified = False
        failing_keys: set[Any] = set()
        errored_keys: set[Any] = set()
        for binding in checks:
            expression = s.expressions[binding.id]
            text = expression.text
            if expression.compiled is None:
                flags.append(
                    Flag(
                        "criterion_error",
                        WARNING,
                        a,
                        None,
                        "",
                        f"{a}: the check {quoted(text)} cannot be used: {expression.error}",
                    )
                )
                unverified.append(f"its check {quoted(text)} does not compile")
                broadly_unverified = True
                continue
            if binding.selector:
                selection = self._bindings.get(binding.id)
                if selection is None:  # pragma: no cover - computed before assumptions
                    selection = self._ledger_check(binding, expression, self._case, now_ts)
                valid_to = min(valid_to, selection.valid_to)
                flags.extend(selection.flags)
                if not selection.checked:
                    unverified.append(f"for its check {quoted(text)} {selection.reason}")
                    broadly_unverified = True
                    continue
                # Every eligible run must pass: a later passing run does not hide a failing one.
                results = CheckResults()
                for run, stat in selection.checked:
                    # A paired run is checked once per run of the other condition it pairs with.
                    key = (run.id, stat.key, str(run.paired_with))
                    results.record(key, run, stat, self._evaluate_on(expression, run, stat, now_ts))
            else:
                store = self._scope.get(a)
                if store is None or not store.targets:
                    self._check_results.pop(binding.id, None)
                    unverified.append(
                        f"its check {quoted(text)} has no evidence run to check: no solution "
                        "in its scope has an eligible run"
                    )
                    broadly_unverified = True
                    continue
                results = self._scope_check(binding.id, expression, store, now_ts)
                failing_keys.update(results.failing)
                errored_keys.update(results.errored)
            if expression.uses_age:
                valid_to = min(valid_to, now_ts)
            failing = results.sorted_failing()
            errored = results.sorted_errored()
            if binding.selector and (failing or errored):
                own_violated = own_violated or bool(failing)
                broadly_unverified = broadly_unverified or not failing
            if failing:
                violated.append((binding, failing))
            elif errored:
                run, _, problem = errored[0]
                more = (
                    f" (and on {plural(len(errored) - 1, 'other run')})" if len(errored) > 1 else ""
                )
                flags.append(
                    Flag(
                        "criterion_error",
                        WARNING,
                        a,
                        run.id,
                        "",
                        f"{a}: the check could not be evaluated on run {run.id}: {problem}{more}.",
                    )
                )
                unverified.append(
                    f"its check {quoted(text)} could not be evaluated on run {run.id}"
                )
            else:
                held += 1

        # Attestations.
        valid_att: list[AttestationFacts] = []
        expired: list[AttestationFacts] = []
        for att in attestations:
            created = timestamp(att.created_at) if att.created_at is not None else -math.inf
            expires = timestamp(att.expires_at) if att.expires_at is not None else math.inf
            if created > now_ts:
                valid_to = min(valid_to, math.nextafter(created, -math.inf))
                continue
            if now_ts < expires:
                valid_att.append(att)
                valid_to = min(valid_to, math.nextafter(expires, -math.inf))
            else:
                expired.append(att)
        if valid_att:
            # Warn ahead of expiry, while the assumption still holds.
            last_expiry = max(
                timestamp(x.expires_at) if x.expires_at is not None else math.inf for x in valid_att
            )
            if last_expiry - now_ts <= ATTESTATION_NOTICE_SECONDS:
                latest = max(valid_att, key=lambda x: (timestamp(x.expires_at), id_key(x.id)))
                flags.append(
                    Flag(
                        "attestation_expiring",
                        WARNING,
                        a,
                        None,
                        "",
                        f"{a}: the attestation by {latest.by} expires on "
                        f"{day_text(last_expiry)}; a reviewer needs to attest it again before "
                        "then.",
                    )
                )
            elif last_expiry != math.inf:
                notice = last_expiry - ATTESTATION_NOTICE_SECONDS
                valid_to = min(valid_to, math.nextafter(notice, -math.inf))
        if expired and not valid_att:
            latest = max(expired, key=lambda x: (timestamp(x.expires_at), id_key(x.id)))
            flags.append(
                Flag(
                    "attestation_expired",
                    WARNING,
                    a,
                    None,
                    "",
                    f"{a}: the attestation by {latest.by} expired on "
                    f"{day_text(timestamp(latest.expires_at))}; a reviewer needs to attest it "
                    "again.",
                )
            )

        requires = bool((node.attributes or {}).get("requires_attestation"))
        if violated:
            status = DEFEATED
            for binding, failing in violated:
                run, stat = failing[0]
                others = [str(r.id) for r, _ in failing[1:]]
                more = (
                    f" and on {plural(len(others), 'other run')} ({joined(others, 4)})"
                    if others
                    else ""
                )
                flags.append(
                    Flag(
                        "assumption_violated",
                        ERROR,
                        a,
                        run.id,
                        node.catalogue_id,
                        f"{a} does not hold: its check "
                        f"{quoted(s.expressions[binding.id].text)} is "
                        f"false on {run_text(run, stat)}{self._paired_text(run)}{more}.",
                    )
                )
            binding, failing = violated[0]
            reason = (
                f"{a} is violated: its check {quoted(s.expressions[binding.id].text)} is false on "
                f"{run_text(*failing[0])}."
            )
        elif valid_att:
            status = SUPPORTED
            att = valid_att[0]
            until = (
                f"until {day_text(timestamp(att.expires_at))}"
                if att.expires_at is not None
                else "without expiry"
            )
            reason = f"{a} holds: {att.by} attested it ({until})."
        elif requires or unverified or not checks or held < len(checks):
            status = AT_RISK
            if requires:
                why = "it requires a reviewer's attestation and has no valid one"
                if expired:
                    why += " (the last one expired)"
            elif unverified:
                why = unverified[0]
            else:
                why = "it has no checks and no attestation"
            flags.append(
                Flag(
                    "assumption_unverified",
                    WARNING,
                    a,
                    None,
                    node.catalogue_id,
                    f"{a} is unverified: {why}.",
                )
            )
            reason = f"{a} is at risk: it is unverified because {why}."
        else:
            status = SUPPORTED
            reason = (
                f"{a} holds: {plural(held, 'check')} {'is' if held == 1 else 'are'} true on "
                "every run they apply to."
            )
        view = ASSUMPTION_HOLDS
        if status != SUPPORTED:
            if own_violated:
                residual = DEFEATED
            elif valid_att:
                residual = SUPPORTED
                errored_keys = set()  # a reviewer's word outweighs a check that cannot be read
            elif requires or broadly_unverified or not checks:
                residual = AT_RISK
            else:
                residual = SUPPORTED
            view = AssumptionView(
                own_violated,
                residual,
                self._nodes_above(a, failing_keys) if not own_violated else {},
                self._nodes_above(a, errored_keys - failing_keys) if not own_violated else {},
            )
        store = self._scope.get(a)
        if store is not None:
            store.pending.clear()
        return Outcome(
            status,
            reason,
            tuple(sorted(set(flags), key=flag_sort_key)),
            valid_from=valid_from,
            valid_to=valid_to,
            view=view,
        )

    @staticmethod
    def _paired_text(run: RunFacts) -> str:
        note = paired_note(run)
        return f" {note}" if note else ""

    def _nodes_above(self, a: str, keys: set[Any]) -> dict[str, frozenset[Any]]:
        """The goals and strategies in `a`'s scope above the solutions whose evidence runs are
        `keys`, each with the ids of those runs. Walks up from the (usually few) runs, children
        first, so each node passes on all the runs below it once."""
        if not keys:
            return {}
        s = self._structure
        scope, parents, position = s.scope, s.parents, s.position
        solutions_of = self._scope[a].solutions_of
        found: dict[str, set[Any]] = {}
        for key in keys:
            run_id = key[0]
            for sol in solutions_of.get(key, ()):
                for p in parents.get(sol, ()):
                    mine = found.get(p)
                    if mine is None:
                        if a in scope.get(p, ()):
                            found[p] = {run_id}
                    else:
                        mine.add(run_id)
        heap = [(position[p], p) for p in found]
        heapq.heapify(heap)
        queued = set(found)
        while heap:
            _, node = heapq.heappop(heap)
            queued.discard(node)
            run_ids = found[node]
            for p in parents.get(node, ()):
                mine = found.get(p)
                if mine is None:
                    if a not in scope.get(p, ()):
                        continue
                    found[p] = set(run_ids)
                elif run_ids <= mine:
                    continue
                else:
                    mine |= run_ids
                # (A node on a supported_by cycle can be reached again with more runs.)
                if p not in queued:
                    queued.add(p)
                    heapq.heappush(heap, (position[p], p))
        return {node: frozenset(ids) for node, ids in found.items()}

    def _solution_targets(self, sol: str) -> tuple[tuple[Any, RunFacts, RunStatistic], ...]:
        """The evidence runs of a solution, as (key, run, statistic) for scope checks."""
        out = []
        for binding in self._structure.node_bindings.get(sol, ()):
            outcome = self._bindings.get(binding.id)
            if outcome is None or outcome.run is None:
                continue
            # A criterion that bounds the rate from above makes the run evidence for that
            # bound: checks over the scope read it as `claim` (A06 checks each run against
            # its own criterion's bound), so it is part of the target.
            claim = self._structure.expressions[binding.id].bound
            for run, stat in self._counted_runs(binding, outcome):
                key = (run.id, stat.key)
                out.append(((*key, claim) if claim else key, run, stat))
        return tuple(out)

    def _counted_runs(
        self, binding: BindingFacts, outcome: Outcome
    ) -> list[tuple[RunFacts, RunStatistic]]:
        """The runs a criterion's verdict counts, for the checks over its scope: every run of
        its ledger that a reviewer did not withdraw — a later passing run must not hide from
        A06 an earlier one that breaks the bound — or, under `pooled`, the pools it judged."""
        if binding.policy == POLICY_POOLED or not outcome.evidence:
            return [(outcome.run, outcome.stat)]
        counted = []
        for entry in outcome.evidence:
            run = self._runs.get(entry.run)
            if entry.role != WITHDRAWN and run is not None:
                counted.append((run, statistic_for(run, binding.selector or {})))
        return counted or [(outcome.run, outcome.stat)]

    def _scope_evaluation(
        self, expression: PreparedExpression, key: Any, run: RunFacts, stat: RunStatistic, now_ts
    ) -> tuple[bool, Any]:
        claim = key[2] if len(key) > 2 else None
        return self._evaluate_on(expression, run, stat, now_ts, claim=claim)

    def _scope_check(
        self, bid: Any, expression: PreparedExpression, store: ScopeTargets, now_ts: float
    ) -> CheckResults:
        """Results of an empty-selector check over the scope's runs, updated for the runs that
        changed since the last time (all of them when the expression uses age_days and time
        moved on)."""
        results = self._check_results.get(bid)
        if results is None or (expression.uses_age and results.now != now_ts):
            results = CheckResults()
            for key, (run, stat) in store.targets.items():
                results.record(
                    key, run, stat, self._scope_evaluation(expression, key, run, stat, now_ts)
                )
        else:
            for key in store.pending:
                target = store.targets.get(key)
                if target is None:
                    results.forget(key)
                else:
                    run, stat = target
                    results.record(
                        key, run, stat, self._scope_evaluation(expression, key, run, stat, now_ts)
                    )
            for key in [*results.failing, *results.errored]:
                if key not in store.targets:  # defensive: only runs still in scope count
                    results.forget(key)
        results.now = now_ts
        self._check_results[bid] = results
        return results
