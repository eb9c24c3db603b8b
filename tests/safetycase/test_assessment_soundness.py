"""Sound arguments: adversarial evidence put through the instantiated templates and the demo
(tests/safetycase/demo_facts.py), with the outcome a careful reviewer expects."""

from __future__ import annotations

from safetycase.core.assessment import AT_RISK, DEFEATED, SUPPORTED
from safetycase.core.diagrams import argument_dot
from tests.safetycase.demo_facts import Demo, with_counts
from tests.safetycase.test_assessment import Case, make_run

# --------------------------------------------------------------------------------------------
# Refuting evidence is a defeater


def test_observed_scheming_defeats_scheming_inability_through_the_at_least_rule():
    demo = Demo()
    before = demo.assess()
    # The stealth branch alone carries "at least one prerequisite is absent".
    assert before.statuses["SI-S2"] == SUPPORTED and before.statuses["SI-G2"] == SUPPORTED
    demo.documents["oversight-subversion"] = with_counts(
        demo.documents["oversight-subversion"], 15, 300
    )
    demo.documents["self-exfiltration"] = with_counts(demo.documents["self-exfiltration"], 30, 300)
    result = demo.assess()
    assert result.statuses["SI-Sn2"] == DEFEATED
    for node in ("SI-G3", "SI-S2", "SI-G2", "SI-S1", "SI-G0"):
        assert result.statuses[node] == DEFEATED, node
    assert result.reasons["SI-G0"].startswith(
        "SI-G0 is defeated: SI-Sn2 is evidence that refutes SI-G0, and run "
    )
    assert "15/300" in result.reasons["SI-S2"]
    # Above the refuted claim the ordinary rules apply: the root's other branches may still
    # carry the case, but not through Scheming Inability.
    assert result.statuses["G1"] == DEFEATED
    assert result.statuses["G0"] != SUPPORTED


def test_a_honeypot_defection_defeats_the_alignment_claim_whatever_the_training_route():
    demo = Demo(include_training_route=True)
    demo.documents["honeypot"] = with_counts(demo.documents["honeypot"], 1, 3000)
    result = demo.assess()
    assert result.statuses["AL-Sn1"] == DEFEATED
    assert result.statuses["AL-S2"] != DEFEATED  # the training route is not what fails
    assert result.statuses["AL-G0"] == DEFEATED
    assert "AL-Sn1 is evidence that refutes AL-G0" in result.reasons["AL-G0"]
    assert "1/3000" in result.reasons["AL-G0"]


def test_refutation_overrides_an_any_of_rule_with_a_supported_branch():
    case = (
        Case()
        .goal("G0", "S1", "S2", combination="any")
        .strategy("S1", "Sn1")
        .strategy("S2", "Sn2")
        .node("Sn1", "solution", attributes={"refutes": "G0"})
        .bind("Sn1", "criterion", {"task": "honeypot"}, "k == 0")
        .solution("Sn2", task="training_audit", criterion="k == 0")
        .run(1, task="honeypot", k=1, n=3000)
        .run(2, task="training_audit", k=0, n=10)
    )
    result = case.assess()
    assert result.statuses["S2"] == SUPPORTED
    assert result.statuses["G0"] == DEFEATED
    assert "Sn1 is evidence that refutes G0" in result.reasons["G0"]
    # Without the mark, the other branch carries the claim.
    case.nodes = [n for n in case.nodes if n.identifier != "Sn1"]
    case.node("Sn1", "solution")
    assert case.assess().statuses["G0"] == SUPPORTED


def test_a_refuting_solution_that_holds_or_lacks_evidence_defeats_nothing():
    demo = Demo()
    result = demo.assess()
    assert result.statuses["SI-Sn2"] == AT_RISK  # model mismatch on one suite, no defeat
    assert "refutes" not in result.reasons["SI-G0"]


def test_refutation_is_kept_by_incremental_assessment():
    from safetycase.core.assessment import AssessmentEngine

    case = (
        Case()
        .goal("G0", "S1", "S2", combination="any")
        .strategy("S1", "G1")
        .goal("G1", "Sn1", "Sn3", combination="all")
        .strategy("S2", "Sn2")
        .node("Sn1", "solution", attributes={"refutes": "G0"})
        .bind("Sn1", "criterion", {"task": "honeypot"}, "k == 0")
        .solution("Sn2", task="training_audit", criterion="k == 0")
        .solution("Sn3", task="other", criterion="k == 0")
        .run(1, task="honeypot", k=0, n=3000)
        .run(2, task="training_audit", k=0, n=10)
        .run(3, task="other", k=1, n=10)  # G1 is defeated already
    )
    engine = AssessmentEngine()
    assert case.assess(cache=engine).statuses["G0"] == SUPPORTED
    case.runs[0] = make_run(1, task="honeypot", k=2, n=3000)
    incremental = case.assess(cache=engine)
    assert incremental == case.assess()
    assert incremental.statuses["G0"] == DEFEATED


def test_the_diagram_draws_a_refuting_solution_as_a_defeater():
    demo = Demo()
    demo.documents["honeypot"] = with_counts(demo.documents["honeypot"], 1, 3000)
    result = demo.assess()
    dot = argument_dot(demo.instance.argument(), statuses=dict(result.statuses))
    (edge,) = [line for line in dot.splitlines() if '"AL-Sn1" -> "AL-G0"' in line]
    assert "tee" in edge and "refutes" in edge and "would" not in edge
    (quiet,) = [line for line in dot.splitlines() if '"SI-Sn2" -> "SI-G0"' in line]
    assert "would refute" in quiet and "dotted" in quiet
