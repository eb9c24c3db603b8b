"""What the engine keeps per binding, assumption and node between passes: outcomes, node states,
run selections, the evidence runs in an assumption's scope and a check's verdicts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from safetycase.core.assessment.facts import (
    AT_RISK,
    DEFEATED,
    SUPPORTED,
    Flag,
    LedgerEntry,
    RunFacts,
)
from safetycase.core.assessment.runs import RunStatistic
from safetycase.core.keys import id_key

# Outcomes of bindings, assumptions and nodes


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str  # a sentence about the node, from this binding's point of view
    flags: tuple[Flag, ...]
    run: RunFacts | None = None  # the evidence run (solutions' criteria)
    stat: RunStatistic | None = None
    valid_from: float = -math.inf
    valid_to: float = math.inf
    view: AssumptionView | None = None  # assumptions: how the nodes in their scope see them
    evidence: tuple[LedgerEntry, ...] = ()  # criteria and checks: every run looked at (ledger.py)
    # Checks with a selector: every eligible run not withdrawn, newest first; each must pass.
    checked: tuple[tuple[RunFacts, RunStatistic], ...] = ()
    # Checks with `paired_with`: the run of condition b, paired sample by sample with `run`.
    paired: RunFacts | None = None

    def same(self, other: Outcome | None) -> bool:
        return (
            other is not None
            and self.status == other.status
            and self.reason == other.reason
            and self.flags == other.flags
            and self.run is other.run
            and len(self.checked) == len(other.checked)
            and all(
                mine[0] is theirs[0]
                for mine, theirs in zip(self.checked, other.checked, strict=True)
            )
            and self.paired is other.paired
        )


@dataclass(frozen=True)
class NodeState:
    status: str | None
    reason: str
    flags: tuple[Flag, ...]


@dataclass
class RunSelection:
    run: RunFacts | None
    mismatched: list[RunFacts]
    stale: list[tuple[RunFacts, float | None]]  # (run, age in days or None without a time)
    unsuccessful: list[RunFacts]
    valid_to: float


class ScopeTargets:
    """The evidence runs of the solutions in an assumption's scope, deduplicated by (run id,
    statistic) and kept up to date solution by solution."""

    __slots__ = ("pending", "per_solution", "refs", "solutions_of", "targets")

    def __init__(self) -> None:
        self.per_solution: dict[str, tuple[tuple[Any, RunFacts, RunStatistic], ...]] = {}
        self.refs: dict[Any, int] = {}
        self.targets: dict[Any, tuple[RunFacts, RunStatistic]] = {}
        # key -> the solutions whose evidence it is: a failing run defeats the goals above them.
        self.solutions_of: dict[Any, set[str]] = {}
        self.pending: set[Any] = set()  # keys changed since the checks last looked

    def set_solution(
        self, sol: str, targets: tuple[tuple[Any, RunFacts, RunStatistic], ...]
    ) -> None:
        old = self.per_solution.get(sol, ())
        if old == targets:
            return
        old_keys = {key for key, _, _ in old}
        new_keys = {key for key, _, _ in targets}
        for key in old_keys - new_keys:
            holders = self.solutions_of[key]
            holders.discard(sol)
            if not holders:
                del self.solutions_of[key]
        for key in new_keys - old_keys:
            self.solutions_of.setdefault(key, set()).add(sol)
        for key, _, _ in old:
            self.refs[key] -= 1
            if not self.refs[key]:
                del self.refs[key]
                del self.targets[key]
                self.pending.add(key)
        for key, run, stat in targets:
            self.refs[key] = self.refs.get(key, 0) + 1
            current = self.targets.get(key)
            if current is None or current[0] is not run:
                self.targets[key] = (run, stat)
                self.pending.add(key)
        if targets:
            self.per_solution[sol] = targets
        else:
            self.per_solution.pop(sol, None)


class CheckResults:
    """One check's verdicts over its runs: which are false and which could not be evaluated."""

    __slots__ = ("errored", "failing", "now")

    def __init__(self) -> None:
        self.failing: dict[Any, tuple[RunFacts, RunStatistic]] = {}
        self.errored: dict[Any, tuple[RunFacts, RunStatistic, str]] = {}
        self.now: float | None = None

    def record(self, key: Any, run: RunFacts, stat: RunStatistic, result: tuple[bool, Any]) -> None:
        ok, value = result
        self.failing.pop(key, None)
        self.errored.pop(key, None)
        if ok and value is True:
            return
        if ok and value is False:
            self.failing[key] = (run, stat)
        else:
            problem = f"it evaluated to {value!r}, not true or false" if ok else value.rstrip(".")
            self.errored[key] = (run, stat, problem)

    def forget(self, key: Any) -> None:
        self.failing.pop(key, None)
        self.errored.pop(key, None)

    def sorted_failing(self) -> list[tuple[RunFacts, RunStatistic]]:
        return [self.failing[k] for k in sorted(self.failing, key=target_sort_key)]

    def sorted_errored(self) -> list[tuple[RunFacts, RunStatistic, str]]:
        return [self.errored[k] for k in sorted(self.errored, key=target_sort_key)]


def target_sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return (id_key(key[0]), key[1], key[2:])


@dataclass(frozen=True)
class AssumptionView:
    """An assumption as the goals and strategies in its scope see it. A check with a selector
    reads the assumption's own evidence, and attestations and unverified checks are about the
    assumption as a whole: they concern every node in its scope (`broad`). A check with an
    empty selector reads the evidence of the solutions in the scope, and its verdict on a run
    concerns only the nodes above that run's solutions."""

    own_violated: bool = False
    # The status apart from the empty-selector checks' verdicts on particular runs.
    residual: str = SUPPORTED
    # node -> ids of the runs at or below it that fail (are errored on) an empty-selector check.
    failing_below: Mapping[str, frozenset[Any]] = field(default_factory=dict)
    errored_below: Mapping[str, frozenset[Any]] = field(default_factory=dict)

    @property
    def broad(self) -> tuple[bool, str]:
        return self.own_violated, self.residual

    def status_for(self, node: str) -> str:
        if self.own_violated or node in self.failing_below:
            return DEFEATED
        if node in self.errored_below:
            return AT_RISK
        return self.residual

    def nodes_changed_from(self, other: AssumptionView) -> set[str]:
        """The nodes that see this view differently from `other` (same `broad`)."""
        changed: set[str] = set()
        for mine, theirs in (
            (self.failing_below, other.failing_below),
            (self.errored_below, other.errored_below),
        ):
            if mine != theirs:
                changed.update(
                    n for n in mine.keys() | theirs.keys() if mine.get(n) != theirs.get(n)
                )
        return changed


ASSUMPTION_HOLDS = AssumptionView()


# --------------------------------------------------------------------------------------------
