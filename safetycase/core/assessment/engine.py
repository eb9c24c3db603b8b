"""The assessment engine: one pass over a case that re-derives only what changed since the
last pass (see the package docstring), and `assess`, the entry point."""

from __future__ import annotations

import gc
import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from safetycase.core import criteria
from safetycase.core.assessment.assumptions import AssumptionChecks
from safetycase.core.assessment.facts import (
    ASSUMPTION,
    DAY_SECONDS,
    INGESTED,
    SOLUTION,
    AssessmentResult,
    AttestationFacts,
    BindingFacts,
    CaseFacts,
    Flag,
    NodeFacts,
    RunFacts,
    flag_sort_key,
)
from safetycase.core.assessment.guards import PreparedExpression, evaluate_safely, expression_shape
from safetycase.core.assessment.ledger import LedgerChecks
from safetycase.core.assessment.propagation import Propagation
from safetycase.core.assessment.runs import (
    RunStatistic,
    claim_variable,
    run_cel_variables,
    run_sort_key,
    with_counts,
)
from safetycase.core.assessment.scale import ScaleChecks
from safetycase.core.assessment.solutions import SolutionChecks
from safetycase.core.assessment.soundness import SoundnessChecks
from safetycase.core.assessment.state import (
    CheckResults,
    NodeState,
    Outcome,
    RunSelection,
    ScopeTargets,
)
from safetycase.core.assessment.structure import CaseStructure
from safetycase.core.criteria import ROOT_RULE_VARIABLES
from safetycase.core.gsn.model import Relation
from safetycase.core.keys import id_key, natural_key, timestamp


def assess(
    case: CaseFacts,
    nodes: Iterable[NodeFacts],
    relations: Iterable[Relation],
    bindings: Iterable[BindingFacts],
    runs: Iterable[RunFacts],
    attestations: Iterable[AttestationFacts],
    now: datetime,
    *,
    cache: AssessmentEngine | None = None,
) -> AssessmentResult:
    """Assess a case: a status and reason per node and the flags, deterministic and
    independent of input order. Pass the same `cache` on later calls for the same case to
    re-assess incrementally; the result equals a fresh assessment."""
    engine = cache if cache is not None else AssessmentEngine()
    # The pass allocates many small objects that form no cycles; pausing the cyclic garbage
    # collector meanwhile saves about 40% of a large assessment's time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = engine._assess(
            case,
            tuple(nodes),
            tuple(relations),
            tuple(bindings),
            tuple(runs),
            tuple(attestations),
            now,
        )
    except BaseException:
        # A pass cut short leaves the engine's indexes half updated: the next pass starts over.
        engine._structure = None
        engine._structure_key = None
        raise
    else:
        return result
    finally:
        if collecting:
            gc.enable()


# --------------------------------------------------------------------------------------------


class AssessmentEngine(
    LedgerChecks, SolutionChecks, SoundnessChecks, AssumptionChecks, ScaleChecks, Propagation
):
    """The assessment of one case, kept between calls so that `assess` re-derives only what
    changed: compiled expressions, evaluations, outcomes, node states and the case structure.
    Keep one per case (not shared between threads); any input change is detected, so a stale
    engine cannot give a wrong result, only a slower one. The checks of solutions, assumptions
    and the derivation of node states are mixed in from their own modules."""

    _MAX_EVALUATIONS = 500_000
    _MAX_EXPRESSIONS = 20_000

    def __init__(self) -> None:
        self._expressions: dict[tuple[str, bool], PreparedExpression] = {}
        self._evaluations: dict[tuple[Any, ...], tuple[RunFacts, Any, tuple[bool, Any]]] = {}
        self._structure: CaseStructure | None = None
        self._structure_key: tuple[Any, ...] | None = None
        self._case: CaseFacts | None = None
        self._now: float | None = None
        self._runs: dict[Any, RunFacts] = {}
        self._task_runs: dict[str, dict[Any, RunFacts]] = defaultdict(dict)
        self._by_task: dict[str, list[RunFacts]] = {}
        self._all_runs: list[RunFacts] | None = None
        self._bindings: dict[Any, Outcome] = {}
        self._assumptions: dict[str, Outcome] = {}
        self._attestations: dict[str, tuple[AttestationFacts, ...]] = {}
        self._states: dict[str, NodeState] = {}
        self._scope: dict[str, ScopeTargets] = {}
        self._check_results: dict[Any, CheckResults] = {}

    # -- expressions ----------------------------------------------------------------------

    def _expression(self, text: str, root: bool = False) -> PreparedExpression:
        key = (text, root)
        found = self._expressions.get(key)
        if found is not None:
            return found
        if len(self._expressions) >= self._MAX_EXPRESSIONS:
            self._expressions.clear()
        try:
            if root:
                compiled = criteria.compile_expression(text, variables=ROOT_RULE_VARIABLES)
            else:
                compiled = criteria.compile_expression(text)
            error = ""
        except criteria.ExpressionError as exc:
            compiled, error = None, str(exc)
        except Exception as exc:  # defensive
            compiled, error = None, f"The expression could not be compiled: {exc}."
        variables = compiled.variables if compiled is not None else frozenset()
        bound, upper = expression_shape(text) if compiled is not None else (None, False)
        found = PreparedExpression(
            text=text,
            compiled=compiled,
            error=error,
            uses_age="age_days" in variables,
            uses_counts=bool(variables & {"k", "n", "rate"}),
            bound=bound,
            upper_claim=upper,
        )
        self._expressions[key] = found
        return found

    def _evaluate_on(
        self,
        expression: PreparedExpression,
        run: RunFacts,
        stat: RunStatistic,
        now_ts: float,
        counts: tuple[int, int] | None = None,
        claim: tuple[float, float] | None = None,
    ) -> tuple[bool, Any]:
        """The expression on a run (with k/n replaced by `counts` for the statistical
        guards, and `claim` — the (rate bound, confidence) of the criterion that made the run
        evidence — for checks over an assumption's scope), memoised by expression, run,
        statistic (its counts too: a pool of runs shares its newest run's id), counts, claim
        and — only when the expression uses it — the run's age; a hit must also be of an equal
        run."""
        # A run of a paired binding carries its `paired` table (paired.py); an equal run is
        # required for a memo hit, so a different pairing is evaluated afresh.
        if (
            run.paired_error
            and expression.compiled is not None
            and "paired" in expression.compiled.variables
        ):
            return False, f"The samples cannot be paired: {run.paired_error}."
        key = (expression.text, run.id, stat.key, stat.k, stat.n, counts, claim)
        age = None
        if expression.uses_age and run.finished_at is not None:
            age = (now_ts - timestamp(run.finished_at)) / DAY_SECONDS
        hit = self._evaluations.get(key)
        if hit is not None and (hit[0] is run or hit[0] == run) and hit[1] == age:
            return hit[2]
        variables = run_cel_variables(run, stat, now_ts)
        if counts is not None:
            variables = with_counts(variables, *counts)
        variables["claim"] = claim_variable(claim)
        result = evaluate_safely(expression, variables)
        if len(self._evaluations) >= self._MAX_EVALUATIONS:
            self._evaluations.clear()
        self._evaluations[key] = (run, age, result)
        return result

    # -- the pass -------------------------------------------------------------------------

    def _assess(
        self,
        case: CaseFacts,
        nodes: tuple[NodeFacts, ...],
        relations: tuple[Relation, ...],
        bindings: tuple[BindingFacts, ...],
        runs: tuple[RunFacts, ...],
        attestations: tuple[AttestationFacts, ...],
        now: datetime,
    ) -> AssessmentResult:
        now_ts = timestamp(now)
        full = False
        key = (nodes, relations, bindings)
        if self._structure is None or self._structure_key != key:
            self._structure = CaseStructure(nodes, relations, bindings, self._expression)
            self._structure_key = key
            full = True
        if case != self._case or self._now is None or now_ts < self._now:
            full = True
        s = self._structure
        self._case = case
        self._now = now_ts

        changed_tasks, any_run_changed = self._update_runs(runs, full)

        # Bindings to (re)compute.
        if full:
            self._bindings.clear()
            self._assumptions.clear()
            self._states.clear()
            dirty = set(s.bindings)
        else:
            dirty = set()
            for task in changed_tasks:
                dirty.update(s.bindings_by_task.get(task, ()))
            if any_run_changed:
                dirty.update(s.bindings_any_task)
            for bid, outcome in self._bindings.items():
                if not outcome.valid_from <= now_ts <= outcome.valid_to:
                    dirty.add(bid)

        dirty_nodes: set[str] = set()
        run_changed_solutions: set[str] = set()
        for bid in dirty:
            binding = s.bindings[bid]
            node = s.nodes.get(binding.node)
            if node is None or node.type not in (SOLUTION, ASSUMPTION):
                continue
            previous = self._bindings.get(bid)
            if node.type == SOLUTION:
                outcome = self._ledger_criterion(binding, s.expressions[bid], case, now_ts)
            else:
                outcome = self._ledger_check(binding, s.expressions[bid], case, now_ts)
            self._bindings[bid] = outcome
            if not outcome.same(previous):
                dirty_nodes.add(binding.node)
                if node.type == SOLUTION and (
                    previous is None
                    or previous.run is not outcome.run
                    or previous.evidence != outcome.evidence
                ):
                    run_changed_solutions.add(binding.node)

        # The evidence runs in each assumption's scope.
        if full:
            self._scope = {a: ScopeTargets() for a in s.scope_solutions}
            self._check_results = {}
            for a, sols in s.scope_solutions.items():
                store = self._scope[a]
                for sol in sols:
                    store.set_solution(sol, self._solution_targets(sol))
        else:
            for sol in run_changed_solutions:
                targets = self._solution_targets(sol)
                for a in s.assumptions_of_solution.get(sol, ()):
                    self._scope[a].set_solution(sol, targets)

        # Assumptions to (re)compute.
        by_node: dict[str, list[AttestationFacts]] = defaultdict(list)
        for att in attestations:
            by_node[att.node].append(att)
        attested = {
            n: tuple(sorted(v, key=lambda a: (id_key(a.id), a.by, timestamp(a.expires_at))))
            for n, v in by_node.items()
        }
        if full:
            dirty_assumptions = set(s.assumption_ids)
        else:
            dirty_assumptions = {a for a in s.assumption_ids if a in dirty_nodes}
            for sol in run_changed_solutions:
                dirty_assumptions.update(s.assumptions_of_solution.get(sol, ()))
            for a in s.assumption_ids:
                if attested.get(a, ()) != self._attestations.get(a, ()):
                    dirty_assumptions.add(a)
                outcome = self._assumptions.get(a)
                if outcome is None or not outcome.valid_from <= now_ts <= outcome.valid_to:
                    dirty_assumptions.add(a)
        self._attestations = attested
        changed_assumptions: list[str] = []
        seen_differently: set[str] = set()  # nodes for which only part of a view changed
        for a in sorted(dirty_assumptions, key=s.rank.__getitem__):
            previous = self._assumptions.get(a)
            outcome = self._assumption(a, attested.get(a, ()), now_ts)
            self._assumptions[a] = outcome
            state = NodeState(outcome.status, outcome.reason, outcome.flags)
            if self._states.get(a) != state:
                self._states[a] = state
            if (
                previous is None
                or previous.status != outcome.status
                or previous.view.broad != outcome.view.broad
            ):
                changed_assumptions.append(a)
            elif previous.view != outcome.view:
                # The same status, but the failing runs moved: only the nodes above the runs
                # that came or went see a change.
                seen_differently |= outcome.view.nodes_changed_from(previous.view)

        # Support nodes, children first; only what can have changed unless this is a full pass.
        if full:
            for node in s.order:
                self._states[node] = self._support_state(node)
        else:
            heap: list[tuple[int, str]] = []
            queued: set[str] = set()

            def push(node: str) -> None:
                if node not in queued:
                    queued.add(node)
                    heapq.heappush(heap, (s.position[node], node))

            for node in dirty_nodes:
                if node in s.position:
                    push(node)
                # A deployment-scale goal reads its solutions' evidence, whatever their status.
                for goal in s.scale_watchers.get(node, ()):
                    push(goal)
            for a in changed_assumptions:
                for node in s.in_scope_of.get(a, ()):
                    push(node)
            for node in seen_differently:
                if node in s.position:
                    push(node)
            while heap:
                _, node = heapq.heappop(heap)
                queued.discard(node)
                previous = self._states.get(node)
                state = self._support_state(node)
                if state != previous:
                    self._states[node] = state
                    if previous is None or previous.status != state.status:
                        for d in s.dependents.get(node, ()):
                            push(d)

        return self._result()

    def _update_runs(self, runs: tuple[RunFacts, ...], full: bool) -> tuple[set[str], bool]:
        current: dict[Any, RunFacts] = {}
        for run in runs:
            if run.status != INGESTED:
                continue
            other = current.get(run.id)
            if other is None or (run_sort_key(run), repr(run)) > (
                run_sort_key(other),
                repr(other),
            ):
                current[run.id] = run
        changed_tasks: set[str] = set()
        if full or not self._runs:
            self._task_runs = defaultdict(dict)
            for run in current.values():
                self._task_runs[run.task][run.id] = run
            changed_tasks = set(self._task_runs)
            self._by_task = {}
        else:
            previous = self._runs
            for rid, run in current.items():
                old = previous.get(rid)
                if old is run:
                    continue
                if old is not None and old == run:
                    continue
                if old is not None:
                    changed_tasks.add(old.task)
                    self._task_runs[old.task].pop(rid, None)
                changed_tasks.add(run.task)
                self._task_runs[run.task][rid] = run
            for rid, old in previous.items():
                if rid not in current:
                    changed_tasks.add(old.task)
                    self._task_runs[old.task].pop(rid, None)
        self._runs = current
        for task in changed_tasks:
            members = self._task_runs.get(task, {})
            self._by_task[task] = sorted(members.values(), key=run_sort_key, reverse=True)
        if changed_tasks or full:
            self._all_runs = None
        return changed_tasks, bool(changed_tasks)

    # -- selection ------------------------------------------------------------------------

    def _candidates(self, selector: Mapping[str, Any]) -> Iterable[RunFacts]:
        task = selector.get("task")
        if task in (None, ""):
            if self._all_runs is None:
                self._all_runs = sorted(self._runs.values(), key=run_sort_key, reverse=True)
            return self._all_runs
        if isinstance(task, list | tuple):
            merged = [r for t in {str(t) for t in task} for r in self._by_task.get(t, ())]
            return sorted(merged, key=run_sort_key, reverse=True)
        return self._by_task.get(str(task), ())

    def _select(self, binding: BindingFacts, case: CaseFacts, now_ts: float) -> RunSelection:
        """The newest eligible run, or none and why (`LedgerChecks._eligible_runs`)."""
        sel, eligible = self._eligible_runs(binding, case, now_ts)
        if not eligible:
            return sel
        run, fresh_until = eligible[0]
        return RunSelection(run, sel.mismatched, sel.stale, sel.unsuccessful, fresh_until)

    # -- output ---------------------------------------------------------------------------

    def _result(self) -> AssessmentResult:
        s = self._structure
        states = self._states
        statuses: dict[str, str] = {}
        reasons: dict[str, str] = {}
        for i in s.status_ids:
            state = states.get(i)
            if state is None or state.status is None:
                continue
            statuses[i] = state.status
            reasons[i] = state.reason
        flags: list[Flag] = []
        static = s.static_flags
        flag_nodes = sorted(set(static) | set(states), key=lambda n: (n != "", natural_key(n)))
        for node in flag_nodes:
            own = states[node].flags if node in states else ()
            extra = static.get(node, ())
            if own and extra:
                flags.extend(sorted((*own, *extra), key=flag_sort_key))
            else:
                flags.extend(own or extra)
        evidence = {
            bid: outcome.evidence
            for bid, outcome in self._bindings.items()
            if outcome.evidence or s.nodes[s.bindings[bid].node].type == SOLUTION
        }
        return AssessmentResult(
            statuses=statuses, reasons=reasons, flags=tuple(flags), evidence=evidence
        )


# --------------------------------------------------------------------------------------------
# Wording helpers
