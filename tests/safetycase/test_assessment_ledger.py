"""The evidence ledger in the pure assessment (core/assessment/ledger.py): every eligible run
is a criterion's evidence, combined by the binding's policy; contradicting evidence, withdrawn
runs and criteria changed after failing evidence are flagged; and (hypothesis) a failing run
added to any ledger, under any policy, never makes a node greener."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence import statistics
from safetycase.core.assessment import (
    AT_RISK,
    DEFEATED,
    SUPPORTED,
    AssessmentEngine,
    BindingFacts,
    LedgerEntry,
    RunFacts,
)
from tests.safetycase.test_assessment import NOW, Case, flags, make_run, one_solution_case
from tests.safetycase.test_assessment_properties import (
    PROPERTY_SETTINGS,
    RANK,
    TASKS,
    assessed,
    cases,
    runs_strategy,
)

BOUND = "cp_upper(k, n, 0.95) < 0.01"


def with_policy(case, policy="all", justification="", **fields):
    case.bindings = [
        dataclasses.replace(b, policy=policy, policy_justification=justification, **fields)
        for b in case.bindings
    ]
    return case


def ledger(result, binding=1):
    return result.evidence[binding]


# --------------------------------------------------------------------------------------------
# Policy all


def test_all_requires_each_run_and_names_both_sides_of_a_contradiction():
    case = one_solution_case(criterion=BOUND).run(1, k=4, days=5).run(2, k=0, days=1)
    result = case.assess()
    assert result.statuses["Sn1"] == DEFEATED and result.statuses["G1"] == DEFEATED
    (flag,) = flags(result, "contradicting_evidence")
    assert flag.severity == "error" and flag.run == 1
    assert "run 1 (k/n = 4/300)" in flag.message and "run 2 (k/n = 0/300)" in flag.message
    assert ledger(result) == (
        LedgerEntry(2, 0, 300, True, "outweighed"),
        LedgerEntry(1, 4, 300, False, "decisive"),
    )


def test_all_runs_holding_are_each_decisive_and_the_reason_names_them():
    result = one_solution_case(criterion=BOUND).run(1, days=5).run(2, days=1).assess()
    assert result.statuses["Sn1"] == SUPPORTED
    assert "run 2 (k/n = 0/300) and run 1 (k/n = 0/300) each meet" in result.reasons["Sn1"]
    assert {e.role for e in ledger(result)} == {"decisive"}
    assert flags(result, "contradicting_evidence") == []


def test_runs_outside_the_freshness_window_are_not_in_the_ledger():
    case = one_solution_case(criterion=BOUND, freshness_days=30)
    result = case.run(1, k=4, days=40).run(2, k=0, days=1).assess()
    assert result.statuses["Sn1"] == SUPPORTED
    assert [e.run for e in ledger(result)] == [2]


# --------------------------------------------------------------------------------------------
# Withdrawals


def test_a_withdrawn_run_stays_visible_but_no_longer_counts():
    case = one_solution_case(criterion=BOUND).run(1, k=4, days=5).run(2, k=0, days=1)
    with_policy(case, withdrawn=((1, "by rita: grader bug"),))
    result = case.assess()
    assert result.statuses["Sn1"] == SUPPORTED
    assert flags(result, "contradicting_evidence") == []
    (note,) = flags(result, "evidence_withdrawn")
    assert note.severity == "info" and note.run == 1 and "by rita: grader bug" in note.message
    assert LedgerEntry(1, 4, 300, False, "withdrawn", "by rita: grader bug") in ledger(result)


def test_withdrawing_every_run_leaves_no_evidence():
    case = one_solution_case(criterion=BOUND).run(1, k=0)
    with_policy(case, withdrawn=((1, "by rita: wrong model snapshot"),))
    result = case.assess()
    assert result.statuses["Sn1"] == AT_RISK
    assert {f.type for f in flags(result, node="Sn1")} >= {"missing_evidence", "evidence_withdrawn"}
    assert [e.role for e in ledger(result)] == ["withdrawn"]


# --------------------------------------------------------------------------------------------
# Policies pooled and latest


def test_pooled_sums_k_and_n_per_task_and_model_version():
    assert statistics.cp_upper(0, 150, 0.95) > 0.01 > statistics.cp_upper(0, 300, 0.95)
    case = one_solution_case(criterion=BOUND).run(1, n=150, days=3).run(2, n=150, days=1)
    # all: neither 0/150 alone shows it; no event in too few samples is at risk, not defeated
    assert case.assess().statuses["Sn1"] == AT_RISK
    result = with_policy(case, "pooled").assess()
    assert result.statuses["Sn1"] == SUPPORTED
    assert "runs 2 and 1 pooled (k/n = 0/300)" in result.reasons["Sn1"]
    assert {(e.run, e.holds, e.role) for e in ledger(result)} == {
        (1, False, "decisive"),
        (2, False, "decisive"),
    }


def test_pooled_keeps_task_versions_apart_and_a_failing_pool_contradicts_a_passing_one():
    case = one_solution_case(criterion=BOUND)
    case.run(1, k=3, n=300, days=4, task_version="1").run(2, k=0, n=300, days=1, task_version="2")
    result = with_policy(case, "pooled").assess()
    assert result.statuses["Sn1"] == DEFEATED
    (flag,) = flags(result, "contradicting_evidence")
    assert flag.run == 1 and "run 2 (k/n = 0/300)" in flag.message


def test_a_failing_pool_is_worded_as_the_pool():
    case = one_solution_case(criterion=BOUND).run(1, k=2, days=3).run(2, k=2, days=1)
    result = with_policy(case, "pooled").assess()
    assert result.statuses["Sn1"] == DEFEATED
    (failed,) = flags(result, "criterion_failed")
    assert "runs 2 and 1 pooled (k/n = 4/600)" in failed.message


def test_latest_lets_the_newest_decide_but_an_earlier_failure_keeps_it_at_risk():
    case = one_solution_case(criterion=BOUND).run(1, k=4, days=5).run(2, k=0, days=1)
    result = with_policy(case, "latest", "v1 of the grader miscounted").assess()
    assert result.statuses["Sn1"] == AT_RISK
    assert "v1 of the grader miscounted" in result.reasons["Sn1"]
    (flag,) = flags(result, "contradicting_evidence")
    assert flag.run == 1
    assert {(e.run, e.role) for e in ledger(result)} == {(2, "decisive"), (1, "superseded")}
    newest_fails = one_solution_case(criterion=BOUND).run(1, k=0, days=5).run(2, k=4, days=1)
    result = with_policy(newest_fails, "latest", "grader fixed").assess()
    assert result.statuses["Sn1"] == DEFEATED
    assert flags(result, "contradicting_evidence") == []


def test_latest_without_a_justification_or_an_unknown_policy_is_a_criterion_error():
    for policy, justification in (("latest", " "), ("majority", "")):
        case = one_solution_case(criterion=BOUND).run(1, k=0)
        result = with_policy(case, policy, justification).assess()
        assert result.statuses["Sn1"] == AT_RISK
        (flag,) = flags(result, "criterion_error")
        assert "policy" in flag.message


# --------------------------------------------------------------------------------------------
# Pre-registration


def test_a_criterion_changed_after_failing_evidence_is_a_warning_naming_both_and_the_run():
    case = one_solution_case(criterion="cp_upper(k, n, 0.95) < 0.05").run(7, k=4)
    with_policy(case, criterion_changes=((BOUND, "cp_upper(k, n, 0.95) < 0.05", 7),))
    result = case.assess()
    assert result.statuses["Sn1"] == SUPPORTED
    (flag,) = flags(result, "criterion_changed_after_evidence")
    assert flag.severity == "warning" and flag.run == 7
    assert repr(BOUND) in flag.message and "'cp_upper(k, n, 0.95) < 0.05'" in flag.message


# --------------------------------------------------------------------------------------------
# The engine's memo: a pool shares its newest run's id


def test_the_memo_tells_a_pool_from_its_newest_run():
    case = one_solution_case(criterion=BOUND).run(1, n=150, days=3).run(2, n=150, days=1)
    engine = AssessmentEngine()
    assert case.assess(cache=engine).statuses["Sn1"] == AT_RISK  # 0 of 150 is too few
    with_policy(case, "pooled")
    assert case.assess(cache=engine) == case.assess()
    case.runs.append(make_run(3, k=1, n=150, days=0.5))
    assert case.assess(cache=engine) == case.assess()
    assert case.assess(cache=engine).statuses["Sn1"] == DEFEATED  # 1 of 450: bound 1.05%


# --------------------------------------------------------------------------------------------
# Properties


@st.composite
def policed_cases(draw):
    """A random case whose criteria get random policies and withdrawn runs."""
    nodes, relations, bindings, runs, attestations = draw(cases())
    run_ids = [r.id for r in runs]
    policed = []
    for b in bindings:
        if b.kind == "criterion":
            policy = draw(st.sampled_from(["all", "pooled", "latest"]))
            withdrawn = (
                draw(st.lists(st.sampled_from(run_ids), unique=True, max_size=2))
                if (run_ids)
                else []
            )
            b = dataclasses.replace(
                b,
                policy=policy,
                policy_justification="because" if policy == "latest" else "",
                withdrawn=tuple((rid, "by rita: reason") for rid in sorted(withdrawn)),
            )
        policed.append(b)
    versions = [
        dataclasses.replace(r, task_version=draw(st.sampled_from(["1", "1", "2"]))) for r in runs
    ]
    return nodes, relations, policed, versions, attestations


@PROPERTY_SETTINGS
@given(
    case=policed_cases(),
    task=st.sampled_from(TASKS),
    n=st.integers(20, 60),
    days=st.integers(0, 60),
    version=st.sampled_from(["1", "2"]),
)
def test_adding_a_failing_run_never_turns_a_defeated_or_at_risk_node_supported(
    case, task, n, days, version
):
    nodes, relations, bindings, runs, attestations = case
    before = assessed(nodes, relations, bindings, runs, attestations)
    failing = RunFacts(
        10_000,
        task=task,
        task_version=version,
        model="m",
        model_version="v1",
        finished_at=NOW - timedelta(days=days),  # newest, or older than the runs before it
        statistics={"s": (n, n)},
        sample_count=n,
    )
    after = assessed(nodes, relations, bindings, [*runs, failing], attestations)
    for node, status in after.statuses.items():
        assert RANK[status] <= RANK[before.statuses[node]], (node, before.statuses[node], status)
        if before.statuses[node] in (DEFEATED, AT_RISK):
            assert status != SUPPORTED


@PROPERTY_SETTINGS
@given(
    case=policed_cases(), steps=st.lists(st.integers(0, 2), min_size=1, max_size=6), data=st.data()
)
def test_incremental_assessment_with_ledgers_equals_a_fresh_one(case, steps, data):
    nodes, relations, bindings, runs, attestations = case
    runs = list(runs)
    cache = AssessmentEngine()
    now = NOW
    next_id = 1_000
    assert assessed(nodes, relations, bindings, runs, attestations, now, cache) == assessed(
        nodes, relations, bindings, runs, attestations, now
    )
    for step in steps:
        if step == 0:
            runs += data.draw(runs_strategy(first_id=next_id, max_runs=2))
            next_id += 10
        elif step == 1 and runs:
            runs.pop(data.draw(st.integers(0, len(runs) - 1)))
        else:
            now += timedelta(days=data.draw(st.sampled_from([1, 5, 40])))
        incremental = assessed(nodes, relations, bindings, runs, attestations, now, cache)
        assert incremental == assessed(nodes, relations, bindings, runs, attestations, now)


def test_binding_facts_default_to_policy_all():
    assert BindingFacts(1, "Sn1", "criterion").policy == "all"


def test_a_pass_cut_short_leaves_no_half_updated_engine(monkeypatch):
    # An exception inside a pass (here: the first criterion evaluated) must not leave the
    # engine's indexes half built for the next, incremental pass.
    case = Case().goal("G1", "Sn1").solution("Sn1", criterion=BOUND).assumption("A1", "G1")
    case.bind("A1", "check", {}, "n >= 100").run(1, k=0)
    engine = AssessmentEngine()
    calls = {"n": 0}
    original = AssessmentEngine._ledger_criterion

    def failing_once(self, *args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("interrupted")
        return original(self, *args)

    monkeypatch.setattr(AssessmentEngine, "_ledger_criterion", failing_once)
    with pytest.raises(RuntimeError):
        case.assess(cache=engine)
    case.runs.append(make_run(2, k=0, days=0.5))
    assert case.assess(cache=engine) == case.assess()
