"""The evidence ledger of a criterion binding: every eligible run inside the freshness window is
the binding's evidence, not only the newest, and the binding's `policy` says how the runs
combine.

* `all` (the default): the criterion must hold on each run. The solution takes the worst
  outcome over the runs (each judged as a lone run would be, with every statistical guard).
* `pooled`: runs of the same task, task version, model and model version are one sample: their
  k and n (and errored samples) are summed, and the criterion is judged on the sums (the other
  variables — metrics, metadata, age — are the newest run's). Each pool must hold.
* `latest`: only the newest run decides; allowed only with a written justification (the
  binding service refuses it without one; a binding that has none anyway is a
  `criterion_error`).

Whatever the policy, a failing run (or pool) that another run (or pool) meets the criterion
against raises `contradicting_evidence` (error), naming both: under `all` and `pooled` the
failure stands (the solution is defeated), under `latest` a supported solution becomes at risk,
so a later run can never silently hide an earlier failure. A reviewer resolves it by
withdrawing a run with a reason: a withdrawn run stays in the ledger (role `withdrawn`, with an
`evidence_withdrawn` info flag saying who and why) but no longer counts.

Why `all` is the safe default: every run added can only keep or worsen the status, so
re-running an evaluation until one run passes (repeated looks) gains nothing; pooling or
taking the latest run both let the number of looks inflate the chance of a pass
(docs/evidence-ledger.md).

Criterion edits made after a run that failed the old criterion was evidence arrive as
`criterion_changes` and raise `criterion_changed_after_evidence` (warning) until a reviewer
acknowledges them; they do not change the status.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from safetycase.core.assessment.facts import (
    AT_RISK,
    ERROR,
    FOREVER,
    INFO,
    POLICIES,
    POLICY_ALL,
    POLICY_LATEST,
    POLICY_POOLED,
    SUCCESS,
    SUPPORTED,
    WARNING,
    BindingFacts,
    CaseFacts,
    Flag,
    LedgerEntry,
    RunFacts,
    flag_sort_key,
    worst_status,
)
from safetycase.core.assessment.guards import PreparedExpression
from safetycase.core.assessment.paired import (
    paired_note,
    paired_selector,
    sample_keys,
    with_pairing,
)
from safetycase.core.assessment.runs import (
    model_matches,
    run_text,
    selector_matches,
    statistic_for,
)
from safetycase.core.assessment.state import Outcome, RunSelection
from safetycase.core.assessment.wording import joined, quoted, task_text
from safetycase.core.keys import timestamp

DAY = 86400.0

DECISIVE = "decisive"
OUTWEIGHED = "outweighed"
SUPERSEDED = "superseded"
WITHDRAWN = "withdrawn"


class LedgerChecks:
    """The engine's ledger of criterion bindings (mixed into `AssessmentEngine`): it selects
    every eligible run, judges each with `SolutionChecks._criterion` and combines the verdicts
    by the binding's policy."""

    __slots__ = ()

    def _eligible_runs(
        self, binding: BindingFacts, case: CaseFacts, now_ts: float
    ) -> tuple[RunSelection, list[tuple[RunFacts, float]]]:
        """Every eligible run, newest first, with the time it stops being fresh, and the
        selection a binding without an eligible run reports on (mismatched, stale and
        unsuccessful runs)."""
        selector = binding.selector or {}
        freshness = binding.freshness_days
        mismatched: list[RunFacts] = []
        stale: list[tuple[RunFacts, float | None]] = []
        unsuccessful: list[RunFacts] = []
        eligible: list[tuple[RunFacts, float]] = []
        for run in self._candidates(selector):
            if not selector_matches(selector, run):
                continue
            if not model_matches(selector, run, case):
                mismatched.append(run)
                continue
            if run.log_status != SUCCESS:
                unsuccessful.append(run)
                continue
            if freshness is None:
                eligible.append((run, FOREVER))
                continue
            if run.finished_at is None:
                stale.append((run, None))
                continue
            finished = timestamp(run.finished_at)
            fresh_until = finished + freshness * DAY
            if now_ts > fresh_until:
                stale.append((run, (now_ts - finished) / DAY))
                continue
            eligible.append((run, fresh_until))
        valid_to = now_ts if any(age is not None for _, age in stale) else FOREVER
        return RunSelection(None, mismatched, stale, unsuccessful, valid_to), eligible

    def _ledger_check(
        self, binding: BindingFacts, expression: PreparedExpression, case: CaseFacts, now_ts: float
    ) -> Outcome:
        """An assumption check with a selector: every eligible run it selects, newest first
        (`Outcome.checked`), each of which must pass — as under a criterion's policy `all`, a
        later passing run cannot hide a failing one — and its ledger. A run a reviewer withdrew
        stays in the ledger marked withdrawn and is not checked. A check with an empty selector
        is evaluated by the assumption on its scope's runs (`AssumptionChecks._scope_check`)."""
        if expression.compiled is None or not (binding.selector or {}):
            return Outcome(AT_RISK, "", (), valid_from=-math.inf, valid_to=math.inf)
        node, selector = binding.node, binding.selector
        sel, eligible = self._eligible_runs(binding, case, now_ts)
        partner = None
        control = paired_selector(selector)
        if control is not None and eligible:
            control_binding = dataclasses.replace(binding, selector=control)
            other = self._select(control_binding, case, now_ts)
            if other.run is None:
                flags, details = self._no_evidence_flags(node, control_binding, other, case)
                return Outcome(
                    AT_RISK,
                    f"there is no eligible run of {task_text(control)} to pair with run "
                    f"{eligible[0][0].id}{details}",
                    tuple(flags),
                    valid_from=now_ts,
                    valid_to=min(sel.valid_to, other.valid_to, *(u for _, u in eligible)),
                )
            # Each run carries its `paired` table with the latest run of the other condition.
            eligible = self._paired_runs(binding, control, case, now_ts, eligible)
            partner = other.run
        withdrawn = dict(binding.withdrawn)
        valid_to = sel.valid_to
        for _, until in eligible:
            valid_to = min(valid_to, until)  # each run leaving the window may change the verdict
        if expression.uses_age:
            valid_to = now_ts
        checked, entries, notes = [], [], []
        for run, _ in eligible:
            stat = statistic_for(run, selector)
            if run.id in withdrawn:
                where = f"the evidence of its check {quoted(expression.text)}"
                entry, note = self._withdrawn(node, expression, run, stat, withdrawn, now_ts, where)
                entries.append(entry)
                notes.append(note)
                continue
            checked.append((run, stat))
        if not checked:
            flags, details = self._no_evidence_flags(node, binding, sel, case)
            return Outcome(
                AT_RISK,
                f"there is no eligible run of {task_text(selector)}{details}",
                tuple(sorted({*flags, *notes}, key=flag_sort_key)),
                valid_from=now_ts,
                valid_to=valid_to,
                evidence=tuple(entries),
            )
        holds = [self._holds(expression, run, stat, now_ts) for run, stat in checked]
        any_false = any(h is False for h in holds)
        for (run, stat), held in zip(checked, holds, strict=True):
            role = OUTWEIGHED if any_false and held is not False else DECISIVE
            entries.append(LedgerEntry(run.id, stat.k, stat.n, held, role, paired_note(run)))
        run, stat = checked[0]
        return Outcome(
            SUPPORTED,
            "",
            tuple(sorted(notes, key=flag_sort_key)),
            run=run,
            stat=stat,
            valid_from=now_ts,
            valid_to=valid_to,
            evidence=tuple(entries),
            checked=tuple(checked),
            paired=partner,
        )

    def _withdrawn(
        self, node, expression, run: RunFacts, stat, withdrawn: dict, now_ts: float, where: str
    ) -> tuple[LedgerEntry, Flag]:
        """A run a reviewer withdrew: its ledger entry (with its verdict, still shown) and the
        `evidence_withdrawn` note saying who and why."""
        reason = withdrawn[run.id]
        entry = LedgerEntry(
            run.id, stat.k, stat.n, self._holds(expression, run, stat, now_ts), WITHDRAWN, reason
        )
        message = f"{node}: {run_text(run, stat)} is withdrawn from {where} ({reason})."
        return entry, Flag("evidence_withdrawn", INFO, node, run.id, "", message)

    def _paired_runs(
        self,
        binding: BindingFacts,
        control: dict[str, Any],
        case: CaseFacts,
        now_ts: float,
        eligible: list[tuple[RunFacts, float]],
    ) -> list[tuple[RunFacts, float]]:
        """Each eligible run of condition a paired with every eligible run of condition b
        that holds the same samples — each pair is judged, so a newer run of b never hides an
        earlier pair that fails — or, when none does, with the newest run of b, whose pairing
        then says why the samples differ (paired.py). A pair stays valid while both runs are
        fresh."""
        selector = binding.selector or {}
        sel, partners = self._eligible_runs(
            dataclasses.replace(binding, selector=control), case, now_ts
        )
        missing = f"there is no eligible run of {task_text(control)} to pair with"
        keys = {id(p): sample_keys(p) for p, _ in partners}
        out = []
        for run, until in eligible:
            scorer = statistic_for(run, selector).key
            mine = sample_keys(run)
            matching = [(p, u) for p, u in partners if mine is not None and keys[id(p)] == mine]
            chosen = matching or partners[:1]
            if not chosen:
                out.append((with_pairing(run, None, selector, scorer, missing), sel.valid_to))
            for partner, partner_until in chosen:
                paired = with_pairing(run, partner, selector, scorer, missing)
                out.append((paired, min(until, partner_until)))
        return out

    def _ledger_criterion(
        self, binding: BindingFacts, expression: PreparedExpression, case: CaseFacts, now_ts: float
    ) -> Outcome:
        node = binding.node
        if expression.compiled is None:
            return self._criterion(binding, expression, case, now_ts)
        policy = binding.policy or POLICY_ALL
        if policy not in POLICIES or (
            policy == POLICY_LATEST and not binding.policy_justification.strip()
        ):
            problem = (
                f"its evidence policy {policy!r} is not one of {joined(list(POLICIES))}"
                if policy not in POLICIES
                else "its evidence policy 'latest' has no written justification"
            )
            return Outcome(
                AT_RISK,
                f"{node} is at risk: {problem}.",
                (Flag("criterion_error", WARNING, node, None, "", f"{node}: {problem}."),),
            )

        selector = binding.selector or {}
        control = paired_selector(selector)
        if control is not None and policy == POLICY_POOLED:
            problem = (
                "its criterion pairs each run with the other condition's run sample by sample, "
                "which pooled runs cannot be; use the policy 'all'"
            )
            return Outcome(
                AT_RISK,
                f"{node} is at risk: {problem}.",
                (Flag("criterion_error", WARNING, node, None, "", f"{node}: {problem}."),),
            )
        withdrawn = dict(binding.withdrawn)
        sel, eligible = self._eligible_runs(binding, case, now_ts)
        if control is not None:
            eligible = self._paired_runs(binding, control, case, now_ts, eligible)
        active = [(run, until) for run, until in eligible if run.id not in withdrawn]
        notes: list[Flag] = self._change_flags(binding)
        entries_withdrawn: list[LedgerEntry] = []
        valid_to = FOREVER
        for run, until in eligible:
            if run.id not in withdrawn:
                continue
            valid_to = min(valid_to, until)
            stat = statistic_for(run, selector)
            entry, note = self._withdrawn(
                node, expression, run, stat, withdrawn, now_ts, "its evidence"
            )
            entries_withdrawn.append(entry)
            notes.append(note)

        if not active:
            outcome = self._criterion(
                binding,
                expression,
                case,
                now_ts,
                RunSelection(None, sel.mismatched, sel.stale, sel.unsuccessful, sel.valid_to),
            )
            return self._with_ledger(outcome, notes, tuple(entries_withdrawn), valid_to)

        if policy == POLICY_POOLED:
            judged = self._pools(binding, expression, case, now_ts, active)
        else:
            judged = [
                (
                    (run,),
                    self._criterion(
                        binding, expression, case, now_ts, RunSelection(run, [], [], [], until)
                    ),
                )
                for run, until in active
            ]
        # Each judged unit (a run, or a pool of runs) with the criterion's value on it.
        verdicts = [
            (runs, outcome, self._holds(expression, outcome.run, outcome.stat, now_ts))
            for runs, outcome in judged
        ]

        if policy == POLICY_LATEST:
            deciding = [verdicts[0]]
        else:
            worst = worst_status(outcome.status for _, outcome, _ in verdicts)
            deciding = [v for v in verdicts if v[1].status == worst]
        # A paired run is one verdict per run of the other condition: (run, partner) decides.
        decided_by = {(run.id, run.paired_with) for runs, _, _ in deciding for run in runs}
        status = deciding[0][1].status if policy == POLICY_LATEST else worst
        if len(verdicts) == 1:
            reason = verdicts[0][1].reason
        elif status == SUPPORTED:
            units = joined([self._unit_text(runs, outcome) for runs, outcome, _ in verdicts])
            reason = (
                f"{node} is supported: {units} each meet the criterion {quoted(expression.text)}."
            )
        else:
            reason = deciding[0][1].reason

        flags: set[Flag] = set(notes)
        for _, outcome, _ in deciding if policy == POLICY_LATEST else verdicts:
            flags.update(outcome.flags)
        contradicting = self._contradictions(node, expression, policy, verdicts)
        flags.update(contradicting)
        if contradicting and policy == POLICY_LATEST and status == SUPPORTED:
            status = AT_RISK
            reason = (
                f"{node} is at risk: {self._unit_text(*verdicts[0][:2])} meets the criterion, "
                f"but an earlier run in its evidence does not (policy 'latest': "
                f"{binding.policy_justification.strip()})."
            )

        entries: list[LedgerEntry] = []
        for runs, outcome, _ in verdicts:
            valid_to = min(valid_to, outcome.valid_to)
            for run in runs:
                stat = statistic_for(run, selector) if len(runs) > 1 else outcome.stat
                holds = self._holds(expression, run, stat, now_ts)
                if (run.id, run.paired_with) in decided_by:
                    role = DECISIVE
                elif policy == POLICY_LATEST:
                    role = SUPERSEDED
                else:
                    role = OUTWEIGHED
                entries.append(LedgerEntry(run.id, stat.k, stat.n, holds, role, paired_note(run)))
        newest = verdicts[0][0][0]
        return Outcome(
            status,
            reason,
            tuple(sorted(flags, key=flag_sort_key)),
            run=newest,
            stat=statistic_for(newest, selector),
            valid_from=now_ts,
            valid_to=valid_to,
            evidence=(*entries, *entries_withdrawn),
        )

    # -- helpers --------------------------------------------------------------------------

    def _holds(self, expression: PreparedExpression, run: RunFacts, stat, now_ts: float):
        ok, value = self._evaluate_on(expression, run, stat, now_ts)
        return value if ok and isinstance(value, bool) else None

    def _pools(
        self,
        binding: BindingFacts,
        expression: PreparedExpression,
        case: CaseFacts,
        now_ts: float,
        active: list[tuple[RunFacts, float]],
    ) -> list[tuple[tuple[RunFacts, ...], Outcome]]:
        """One verdict per pool of runs of the same task, task version, model and model
        version, newest pool first; a pool's counts are the sums of its runs'."""
        pools: dict[tuple[str, str, str, str], list[tuple[RunFacts, float]]] = {}
        for run, until in active:
            key = (run.task, str(run.task_version), run.model, str(run.model_version))
            pools.setdefault(key, []).append((run, until))
        judged = []
        for members in pools.values():
            runs = tuple(run for run, _ in members)
            until = min(u for _, u in members)
            if len(runs) == 1:
                pooled = runs[0]
            else:
                pooled = pooled_run(runs)
            outcome = self._criterion(
                binding, expression, case, now_ts, RunSelection(pooled, [], [], [], until)
            )
            if len(runs) > 1:
                outcome = _reworded(outcome, pooled, runs)
            judged.append((runs, outcome))
        return judged

    @staticmethod
    def _unit_text(runs: Sequence[RunFacts], outcome: Outcome) -> str:
        if len(runs) == 1:
            return run_text(runs[0], outcome.stat)
        return _pool_text(runs, outcome.stat)

    def _contradictions(
        self,
        node: str,
        expression: PreparedExpression,
        policy: str,
        verdicts: list[tuple[tuple[RunFacts, ...], Outcome, bool | None]],
    ) -> list[Flag]:
        """A flag per failing run (or pool) that a run (or pool) meeting the criterion would
        otherwise outvote, naming the newest such run (or pool)."""
        passing = [(runs, outcome) for runs, outcome, holds in verdicts if holds is True]
        if not passing:
            return []
        flags = []
        for index, (runs, outcome, holds) in enumerate(verdicts):
            if holds is not False:
                continue
            if policy == POLICY_LATEST and index == 0:
                continue  # the deciding run fails: nothing hides it
            other_runs, other = passing[0]
            standing = (
                "the newest run decides (policy 'latest'), so the solution cannot be supported"
                if policy == POLICY_LATEST
                else f"with policy {policy!r} the failure stands"
            )
            flags.append(
                Flag(
                    "contradicting_evidence",
                    ERROR,
                    node,
                    runs[0].id,
                    "",
                    f"{node}: {self._unit_text(runs, outcome)} does not meet the criterion "
                    f"{quoted(expression.text)}, but {self._unit_text(other_runs, other)} does; "
                    f"{standing} until a reviewer withdraws one of them with a reason.",
                )
            )
        return flags

    @staticmethod
    def _with_ledger(
        outcome: Outcome, notes: list[Flag], evidence: tuple[LedgerEntry, ...], valid_to: float
    ) -> Outcome:
        if not notes and not evidence:
            return outcome
        return dataclasses.replace(
            outcome,
            flags=tuple(sorted({*outcome.flags, *notes}, key=flag_sort_key)),
            evidence=evidence,
            valid_to=min(outcome.valid_to, valid_to),
        )

    @staticmethod
    def _change_flags(binding: BindingFacts) -> list[Flag]:
        node = binding.node
        return [
            Flag(
                "criterion_changed_after_evidence",
                WARNING,
                node,
                run,
                "",
                f"{node}: the criterion was changed from {quoted(old)} to {quoted(new)} after "
                f"run {run}, which did not meet the old one, was evidence; a reviewer has not "
                "acknowledged the change yet.",
            )
            for old, new, run in binding.criterion_changes
        ]


def pooled_run(runs: Sequence[RunFacts]) -> RunFacts:
    """The newest of `runs` with k and n of every statistic they all have summed, and their
    errored and total samples summed."""
    newest = runs[0]
    names = set(newest.statistics or {})
    for run in runs[1:]:
        names &= set(run.statistics or {})
    statistics = {
        name: (
            sum(int(run.statistics[name][0]) for run in runs),
            sum(int(run.statistics[name][1]) for run in runs),
        )
        for name in sorted(names)
    }
    return dataclasses.replace(
        newest,
        statistics=statistics,
        error_count=sum(int(run.error_count or 0) for run in runs),
        sample_count=sum(int(run.sample_count or 0) for run in runs),
        samples=None,
    )


def _pool_text(runs: Sequence[RunFacts], stat: Any) -> str:
    ids = joined([str(run.id) for run in runs])
    if stat is not None and stat.k is not None:
        return f"runs {ids} pooled (k/n = {stat.k}/{stat.n})"
    return f"runs {ids} pooled"


def _reworded(outcome: Outcome, pooled: RunFacts, runs: Sequence[RunFacts]) -> Outcome:
    """The pool's outcome worded as the pool rather than as its newest run."""
    single = run_text(pooled, outcome.stat)
    pool = _pool_text(runs, outcome.stat)

    def reword(text: str) -> str:
        return text.replace(single, pool)

    return dataclasses.replace(
        outcome,
        reason=reword(outcome.reason),
        flags=tuple(dataclasses.replace(f, message=reword(f.message)) for f in outcome.flags),
    )
