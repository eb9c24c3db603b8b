"""Property-based tests of the assessment (hypothesis): monotonicity, determinism, input-order
independence, and that the incremental cache always gives what a fresh assessment gives.

Generated cases use only criteria and checks that are monotone in k (they can only get worse
as k grows), so a run with k = n fails every criterion and check it is read by.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis caches what it learns under .hypothesis/ in the working directory; keep the
# checkout clean.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "safetycase-hypothesis")

from safetycase.core.assessment import (  # noqa: E402
    AT_RISK,
    DEFEATED,
    SUPPORTED,
    UNDEVELOPED,
    AssessmentEngine,
    AttestationFacts,
    BindingFacts,
    CaseFacts,
    NodeFacts,
    RunFacts,
    assess,
)
from safetycase.core.gsn.model import Relation  # noqa: E402

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CASE = CaseFacts("m", "v1")
TASKS = ["t0", "t1", "t2", "t3"]
# Monotone in k: true for small k, false for k = n when n > 5.
EXPRESSIONS = ["rate <= 0.2", "k <= 5", "cp_upper(k, n, 0.95) <= 0.3", "k == 0"]
RANK = {DEFEATED: 0, AT_RISK: 1, UNDEVELOPED: 1, SUPPORTED: 2}

# ASSESSMENT_PROPERTY_EXAMPLES=2000 searches harder; no example database is written.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("ASSESSMENT_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def runs_strategy(draw, first_id=1, max_runs=8):
    runs = []
    for offset in range(draw(st.integers(0, max_runs))):
        n = draw(st.integers(20, 60))
        runs.append(
            RunFacts(
                first_id + offset,
                task=draw(st.sampled_from(TASKS)),
                model=draw(st.sampled_from(["m", "m", "m", "other"])),
                model_version="v1",
                status=draw(st.sampled_from(["ingested"] * 5 + ["queued"])),
                log_status=draw(st.sampled_from(["success"] * 4 + ["error"])),
                finished_at=NOW - timedelta(days=draw(st.integers(0, 60))),
                statistics={"s": (draw(st.integers(0, n)), n)},
                sample_count=n,
            )
        )
    return runs


# Time-dependent expressions for the cache test (not monotone in k, so not used above).
TIMED_EXPRESSIONS = [*EXPRESSIONS, "age_days <= 20.0", "age_days < 5.0 || k == 0"]


@st.composite
def cases(draw, expressions=EXPRESSIONS):
    """(nodes, relations, bindings, runs, attestations) of a random acyclic argument."""
    goals = [f"G{i}" for i in range(draw(st.integers(1, 5)))]
    strategies = [f"S{i}" for i in range(draw(st.integers(0, 3)))]
    solutions = [f"Sn{i}" for i in range(draw(st.integers(1, 6)))]
    assumptions = [f"A{i}" for i in range(draw(st.integers(0, 3)))]
    argued = draw(st.permutations(goals + strategies))
    nodes, relations, bindings, attestations = [], [], [], []
    combinations = ["all", "all", "any", "at_least:1", "at_least:2", "at_least:3"]
    for position, identifier in enumerate(argued):
        type_ = "goal" if identifier.startswith("G") else "strategy"
        later = list(argued[position + 1 :]) + solutions
        children = draw(st.lists(st.sampled_from(later), max_size=3, unique=True)) if later else []
        for child in children:
            relations.append(Relation(identifier, child, "supported_by"))
        # Some goals claim a deployment-level bound over their per-attempt bounds (scale.py).
        scale = (
            {"deployment_scale": {"attempts": draw(st.sampled_from([1, 5, 50])), "bound": 0.5}}
            if type_ == "goal" and draw(st.integers(0, 3)) == 0
            else {}
        )
        nodes.append(
            NodeFacts(
                identifier,
                type_,
                f"{identifier} holds",
                undeveloped=not children and draw(st.booleans()),
                combination=draw(st.sampled_from(combinations)),
                attributes=scale,
            )
        )
    bid = 0
    for identifier in solutions:
        nodes.append(NodeFacts(identifier, "solution", f"Evidence {identifier}"))
        for _ in range(draw(st.integers(0, 2))):
            bid += 1
            bindings.append(
                BindingFacts(
                    bid,
                    identifier,
                    "criterion",
                    {"task": draw(st.sampled_from(TASKS))},
                    draw(st.sampled_from([None, 2, 30])),
                    draw(st.sampled_from(expressions)),
                )
            )
    for identifier in assumptions:
        requires = draw(st.booleans())
        nodes.append(
            NodeFacts(
                identifier,
                "assumption",
                f"Assumption {identifier}",
                attributes={"requires_attestation": requires},
            )
        )
        for holder in draw(st.lists(st.sampled_from(argued), max_size=2, unique=True)):
            relations.append(Relation(holder, identifier, "in_context_of"))
        for _ in range(draw(st.integers(0, 2))):
            bid += 1
            selector = draw(st.sampled_from([{}, {"task": "t0"}, {"task": "t3"}]))
            bindings.append(
                BindingFacts(
                    bid,
                    identifier,
                    "check",
                    selector,
                    draw(st.sampled_from([None, 10])),
                    draw(st.sampled_from(expressions)),
                )
            )
        for index in range(draw(st.integers(0, 1))):
            attestations.append(
                AttestationFacts(
                    f"{identifier}-{index}",
                    identifier,
                    "reviewer",
                    expires_at=NOW + timedelta(days=draw(st.sampled_from([-5, 5]))),
                )
            )
    runs = draw(runs_strategy())
    return nodes, relations, bindings, runs, attestations


def assessed(nodes, relations, bindings, runs, attestations, now=NOW, cache=None):
    return assess(CASE, nodes, relations, bindings, runs, attestations, now, cache=cache)


@PROPERTY_SETTINGS
@given(case=cases(), task=st.sampled_from(TASKS), n=st.integers(20, 60))
def test_adding_a_failing_run_never_turns_a_node_greener(case, task, n):
    nodes, relations, bindings, runs, attestations = case
    before = assessed(nodes, relations, bindings, runs, attestations)
    failing = RunFacts(
        10_000,
        task=task,
        model="m",
        model_version="v1",
        finished_at=NOW,  # the newest run: it becomes the evidence of its task
        statistics={"s": (n, n)},
        sample_count=n,
    )
    after = assessed(nodes, relations, bindings, [*runs, failing], attestations)
    assert set(after.statuses) == set(before.statuses)
    for node, status in after.statuses.items():
        assert RANK[status] <= RANK[before.statuses[node]], (node, before.statuses[node], status)


@PROPERTY_SETTINGS
@given(case=cases())
def test_removing_an_assumption_violation_never_turns_a_node_redder(case):
    nodes, relations, bindings, runs, attestations = case
    before = assessed(nodes, relations, bindings, runs, attestations)
    violated = {
        a for a, status in before.statuses.items() if a.startswith("A") and status == DEFEATED
    }
    if not violated:
        return
    target = sorted(violated)[0]
    # The violated assumption's checks now hold on every run they read.
    repaired = [
        BindingFacts(b.id, b.node, b.kind, b.selector, b.freshness_days, "true")
        if b.node == target
        else b
        for b in bindings
    ]
    after = assessed(nodes, relations, repaired, runs, attestations)
    assert after.statuses[target] != DEFEATED
    for node, status in after.statuses.items():
        assert RANK[status] >= RANK[before.statuses[node]], (node, before.statuses[node], status)


@PROPERTY_SETTINGS
@given(case=cases(), data=st.data())
def test_result_is_deterministic_and_independent_of_input_order(case, data):
    nodes, relations, bindings, runs, attestations = case
    first = assessed(nodes, relations, bindings, runs, attestations)
    assert assessed(nodes, relations, bindings, runs, attestations) == first
    shuffled = [data.draw(st.permutations(items)) for items in case]
    assert assessed(*shuffled) == first


@PROPERTY_SETTINGS
@given(
    case=cases(expressions=TIMED_EXPRESSIONS),
    steps=st.lists(st.integers(0, 5), min_size=1, max_size=8),
    data=st.data(),
)
def test_incremental_assessment_equals_a_fresh_one(case, steps, data):
    nodes, relations, bindings, runs, attestations = case
    runs, attestations = list(runs), list(attestations)
    cache = AssessmentEngine()
    now = NOW
    assert assessed(nodes, relations, bindings, runs, attestations, now, cache) == assessed(
        nodes, relations, bindings, runs, attestations, now
    )
    next_id = 1_000
    for step in steps:
        if step == 0:  # a run arrives
            runs += data.draw(runs_strategy(first_id=next_id, max_runs=2))
            next_id += 10
        elif step == 1 and runs:  # a run disappears
            runs.pop(data.draw(st.integers(0, len(runs) - 1)))
        elif step == 2:  # time passes (across freshness windows and expiries)
            now += timedelta(days=data.draw(st.sampled_from([0.5, 1, 3, 5, 10, 40])))
        elif step == 3:  # a reviewer attests an assumption
            targets = [n.identifier for n in nodes if n.type == "assumption"]
            if targets:
                attestations.append(
                    AttestationFacts(
                        f"new-{len(attestations)}",
                        data.draw(st.sampled_from(targets)),
                        "reviewer",
                        expires_at=now + timedelta(days=data.draw(st.sampled_from([1, 20]))),
                        created_at=now,
                    )
                )
        elif step == 4:  # the argument is edited
            nodes = [*nodes, NodeFacts(f"G{len(nodes) + 100}", "goal", "New claim")]
        elif runs:  # a run is stored again with other content under the same id
            index = data.draw(st.integers(0, len(runs) - 1))
            old = runs[index]
            (replacement,) = data.draw(runs_strategy(first_id=0, max_runs=1).filter(len))
            runs[index] = dataclasses.replace(replacement, id=old.id)
        incremental = assessed(nodes, relations, bindings, runs, attestations, now, cache)
        assert incremental == assessed(nodes, relations, bindings, runs, attestations, now)


@PROPERTY_SETTINGS
@given(case=cases(), task=st.sampled_from(TASKS), n=st.integers(20, 60))
def test_a_later_passing_run_never_clears_a_defeated_solution_or_violated_assumption(case, task, n):
    # Evidence is never hidden: a failure seen on an eligible run stays, whatever run follows
    # (goals may still be rescued by another branch, so only the evidence nodes are compared).
    nodes, relations, bindings, runs, attestations = case
    before = assessed(nodes, relations, bindings, runs, attestations)
    passing = RunFacts(
        10_000,
        task=task,
        model="m",
        model_version="v1",
        finished_at=NOW,
        statistics={"s": (0, n)},
        sample_count=n,
    )
    after = assessed(nodes, relations, bindings, [*runs, passing], attestations)
    evidence_nodes = {n.identifier for n in nodes if n.type in ("solution", "assumption")}
    for node in evidence_nodes & set(before.statuses):
        if before.statuses[node] == DEFEATED:
            assert after.statuses[node] == DEFEATED, (node, before.reasons[node])


@st.composite
def scaled_cases(draw):
    """A goal with a deployment scale over one to three bounded suites, and two attempt counts."""
    suites = draw(st.integers(1, 3))
    rule = draw(st.sampled_from(["all", "any"]))
    bound = draw(st.sampled_from([0.001, 0.01, 0.1, 0.5]))
    nodes = [NodeFacts("Top", "goal", "top", combination="all")]
    relations = [Relation("Top", "G0", "supported_by")]
    bindings, runs = [], []
    for index in range(suites):
        sol = f"Sn{index}"
        nodes.append(NodeFacts(sol, "solution", sol))
        relations.append(Relation("G0", sol, "supported_by"))
        level = draw(st.sampled_from(["0.95", "0.99", "bonferroni(0.95, 3)"]))
        t = draw(st.sampled_from([0.01, 0.05, 0.3]))
        bindings.append(
            BindingFacts(
                index + 1,
                sol,
                "criterion",
                {"task": f"t{index}"},
                None,
                f"cp_upper(k, n, {level}) <= {t}",
            )
        )
        n = draw(st.integers(1, 5000))
        runs.append(
            RunFacts(
                index + 1,
                task=f"t{index}",
                model="m",
                model_version="v1",
                finished_at=NOW - timedelta(days=1),
                statistics={"s": (draw(st.integers(0, min(n, 3))), n)},
            )
        )
    fewer = draw(st.integers(1, 10**6))
    more = fewer + draw(st.integers(0, 10**6))
    return nodes, relations, bindings, runs, rule, bound, fewer, more


@PROPERTY_SETTINGS
@given(scaled_cases())
def test_more_attempts_never_make_a_node_greener(drawn):
    nodes, relations, bindings, runs, rule, bound, fewer, more = drawn

    def statuses(attempts):
        goal = NodeFacts(
            "G0",
            "goal",
            "scaled",
            combination=rule,
            attributes={"deployment_scale": {"attempts": attempts, "bound": bound}},
        )
        return assess(CASE, [*nodes, goal], relations, bindings, runs, [], NOW).statuses

    before, after = statuses(fewer), statuses(more)
    for node, status in after.items():
        assert RANK[status] <= RANK[before[node]], (node, fewer, more, before[node], status)
