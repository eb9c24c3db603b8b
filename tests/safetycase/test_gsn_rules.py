"""GSN well-formedness rules R1–R16 on plain Arguments (no database).

Every expectation below is derived from the rule definitions (reference §2 and the semantics
recorded in `safetycase/core/gsn/rules.py`), not copied from the checker's output.
"""

from __future__ import annotations

import random

import pytest

from safetycase.core.gsn.model import Argument, Element, Finding, Relation
from safetycase.core.gsn.rules import check_argument, type_from_identifier

# --------------------------------------------------------------------------------------------
# Builders


def goal(identifier: str, *, undeveloped: bool = False, module: str = "") -> Element:
    return Element(identifier, "goal", f"Claim {identifier} holds", undeveloped, module)


def strategy(identifier: str, *, module: str = "") -> Element:
    return Element(identifier, "strategy", f"Argue over {identifier}", module=module)


def solution(identifier: str, *, module: str = "") -> Element:
    return Element(identifier, "solution", f"Evidence {identifier}", module=module)


def context(identifier: str, *, module: str = "") -> Element:
    return Element(identifier, "context", f"Context {identifier}", module=module)


def assumption(identifier: str, *, module: str = "") -> Element:
    return Element(identifier, "assumption", f"Assume {identifier}", module=module)


def justification(identifier: str, *, module: str = "") -> Element:
    return Element(identifier, "justification", f"Because {identifier}", module=module)


def counter_goal(identifier: str) -> Element:
    return Element(identifier, "counter_goal", f"Counter-claim {identifier}")


def counter_solution(identifier: str) -> Element:
    return Element(identifier, "counter_solution", f"Counter-evidence {identifier}")


def sup(source: str, *targets: str) -> list[Relation]:
    return [Relation(source, target, "supported_by") for target in targets]


def ctx(source: str, *targets: str) -> list[Relation]:
    return [Relation(source, target, "in_context_of") for target in targets]


def challenge(source: str, target: str, other_end: str = "") -> list[Relation]:
    return [Relation(source, target, "challenges", other_end)]


def arg(elements: list[Element], *relation_lists: list[Relation], modules=None) -> Argument:
    relations = [r for rels in relation_lists for r in rels]
    return Argument(elements=elements, relations=relations, modules=modules or {})


def base_elements() -> list[Element]:
    return [
        goal("G1"),
        context("C1"),
        assumption("A1"),
        strategy("S1"),
        justification("J1"),
        goal("G2"),
        goal("G3"),
        solution("Sn1"),
        solution("Sn2"),
    ]


def base_relations() -> list[Relation]:
    return [
        *ctx("G1", "C1", "A1"),
        *sup("G1", "S1"),
        *ctx("S1", "J1"),
        *sup("S1", "G2", "G3"),
        *sup("G2", "Sn1"),
        *sup("G3", "Sn2"),
    ]


def base(*extra_elements: Element, extra: list[Relation] = ()) -> Argument:
    """G1 (C1, A1) → S1 (J1) → G2 → Sn1, G3 → Sn2: well-formed, even in strict mode."""
    return arg([*base_elements(), *extra_elements], base_relations(), list(extra))


def by_rule(argument: Argument, rule: str, *, strict: bool = False) -> list[Finding]:
    return [f for f in check_argument(argument, strict=strict) if f.rule == rule]


def errors(argument: Argument) -> list[Finding]:
    return [f for f in check_argument(argument) if f.severity == "error"]


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


# --------------------------------------------------------------------------------------------
# Hand translations of gsn2x example sets (/work/shared/fixtures/gsn2x/)


def modular_arguments(with_sub2: bool) -> Argument:
    """modular/index + sub1 + sub3 (and optionally the inconsistent sub2)."""
    elements = [
        goal("G1", module="Main"),
        strategy("S1", module="Main"),
        goal("G2", undeveloped=True, module="Main"),
        justification("J1", module="Main"),
        goal("G3", module="Sub1"),
        assumption("A1", module="Sub1"),
        context("C2", module="Sub3"),
        solution("Sn1", module="Sub3"),
    ]
    relations = [
        *sup("G1", "S1"),
        *ctx("G1", "A1"),
        *sup("S1", "G2", "G3"),
        *ctx("G2", "J1"),
        *ctx("G3", "J1", "C2"),
        *sup("G3", "Sn1"),
    ]
    modules = {
        "Main": {"name": "Main", "uses": ["sub1.gsn.yaml", "sub3.gsn.yaml"]},
        "Sub1": {"name": "Sub1"},
        "Sub3": {"name": "Sub3"},
    }
    if with_sub2:
        elements += [goal("G1", module="Sub2"), solution("Sn1", module="Sub2")]
        relations += sup("G1", "Sn1")
        modules["Sub2"] = {"name": "Sub2"}
    return Argument(elements=elements, relations=relations, modules=modules)


def template_arguments(*, foreign_undeveloped: bool = True, develops=None) -> Argument:
    """template/template + template/instance: instance's G2 develops template's G1."""
    return Argument(
        elements=[
            goal("G0", module="template"),
            goal("G1", undeveloped=foreign_undeveloped, module="template"),
            goal("G4", module="template"),
            solution("Sn42", module="template"),
            goal("G2", module="instance"),
            solution("Sn1", module="instance"),
        ],
        relations=[*sup("G0", "G1", "G4"), *sup("G4", "Sn42"), *sup("G2", "Sn1")],
        modules={
            "template": {"name": "template", "brief": "Template for an assurance case"},
            "instance": {
                "name": "instance",
                "brief": "Extending instance",
                "extends": [
                    {"module": "template", "develops": develops or {"G1": ["G2"]}},
                ],
            },
        },
    )


def dialectic_second() -> Argument:
    """dialectic/second: counter-goals and counter-solutions, one challenging a relationship."""
    empty = {"statement": ""}
    elements = [
        Element("G1", "goal", **empty),
        Element("C1", "context", **empty),
        Element("S1", "strategy", **empty),
        Element("G2", "goal", "A defeated goal"),
        Element("Sn1", "solution", **empty),
        Element("CG1", "counter_goal", "A counter argument"),
        Element("CCSn1", "counter_solution", **empty),
        Element("CG2", "counter_goal", "Another counter argument"),
        Element("CSn1", "counter_solution", "A counter evidence"),
        Element("G3", "goal", **empty),
        Element("CSn2", "counter_solution", "Another counter evidence"),
        Element("CCG1", "counter_goal", **empty),
        Element("CCSn2", "counter_solution", **empty),
        Element("G5", "goal", **empty),
        Element("Sn2", "solution", **empty),
        Element("G6", "goal", **empty),
        Element("Sn3", "solution", **empty),
        Element("CG3", "counter_goal", **empty),
        Element("CSn3", "counter_solution", **empty),
        Element("G4", "goal", **empty),
        Element("S2", "strategy", **empty),
        Element("G7", "goal", **empty),
        Element("G9", "goal", **empty),
        Element("Sn4", "solution", **empty),
        Element("G8", "goal", **empty),
        Element("Sn5", "solution", **empty),
        Element("CG4", "counter_goal", **empty),
        Element("CSn4", "counter_solution", **empty),
        Element("CCSn3", "counter_solution", **empty),
    ]
    relations = [
        *sup("G1", "S1"),
        *ctx("G1", "C1"),
        *sup("S1", "G2", "G3", "G4"),
        *sup("G2", "Sn1"),
        *sup("CG1", "CG2"),
        *challenge("CG1", "G2"),
        *challenge("CCSn1", "G2", "CG1"),
        *sup("CG2", "CSn1"),
        *sup("G3", "G5", "G6"),
        *challenge("CSn2", "G5"),
        *sup("CCG1", "CCSn2"),
        *challenge("CCG1", "CSn2"),
        *sup("G5", "Sn2"),
        *sup("G6", "Sn3"),
        *challenge("CG3", "Sn3"),
        *sup("CG3", "CSn3"),
        *sup("G4", "S2"),
        *sup("S2", "G7", "G8"),
        *sup("G7", "G9"),
        *sup("G9", "Sn4"),
        *sup("G8", "Sn5"),
        *challenge("CG4", "S2"),
        *sup("CG4", "CSn4"),
        *challenge("CCSn3", "CG3"),
    ]
    return Argument(elements=elements, relations=relations)


def test_it_accepts_the_gsn2x_modular_example_without_errors():
    assert errors(modular_arguments(with_sub2=False)) == []


def test_it_reports_exactly_the_two_duplicates_when_sub2_joins_the_modular_example():
    found = errors(modular_arguments(with_sub2=True))
    assert [(f.rule, f.node) for f in found] == [("R1", "G1"), ("R1", "Sn1")]


def test_it_accepts_the_gsn2x_template_example_without_errors_or_extra_roots():
    found = check_argument(template_arguments())
    # Every element has a statement, G1 is undeveloped, G2 develops G1: nothing to report.
    assert found == []


def test_it_accepts_the_gsn2x_dialectic_example_without_errors():
    argument = dialectic_second()
    assert errors(argument) == []
    # Challengers are never roots, so G1 is the only root and nothing is an orphan.
    assert by_rule(argument, "R10") == []
    assert by_rule(argument, "R11") == []


# --------------------------------------------------------------------------------------------
# Whole-argument behaviour


def test_it_accepts_the_base_argument_without_findings_even_in_strict_mode():
    assert check_argument(base()) == []
    assert check_argument(base(), strict=True) == []


def medium_argument() -> Argument:
    """Three modules, an away goal used as context, shared evidence and a challenger."""
    elements = [
        goal("G-Top", module="main"),
        context("C1", module="main"),
        assumption("A1", module="main"),
        strategy("S1", module="main"),
        justification("J1", module="main"),
        goal("G1", module="main"),
        goal("G2", module="main"),
        goal("G3", undeveloped=True, module="main"),
        strategy("S2", module="main"),
        goal("G4", module="main"),
        goal("G5", module="main"),
        solution("Sn1", module="main"),
        solution("Sn2", module="main"),
        solution("Sn3", module="evidence"),
        goal("G10", module="elicitation"),
        strategy("S10", module="elicitation"),
        goal("G11", module="elicitation"),
        goal("G12", module="elicitation"),
        solution("Sn10", module="elicitation"),
        solution("Sn11", module="elicitation"),
        counter_goal("CG1"),
        counter_solution("CSn1"),
    ]
    relations = [
        *ctx("G-Top", "C1", "A1"),
        *sup("G-Top", "S1"),
        *ctx("S1", "J1"),
        *sup("S1", "G1", "G2", "G3"),
        *sup("G1", "S2"),
        *sup("S2", "G4", "G5"),
        *sup("G4", "Sn1", "Sn3"),
        *sup("G5", "Sn2", "Sn3"),
        *ctx("G2", "G10"),  # away goal of another module used as context
        *sup("G2", "S10"),
        *sup("S10", "G11", "G12"),
        *sup("G11", "Sn10"),
        *sup("G12", "Sn11"),
        *sup("G10", "Sn10"),
        *challenge("CG1", "Sn3"),
        *sup("CG1", "CSn1"),
    ]
    modules = {
        "main": {"name": "main", "uses": ["evidence.gsn.yaml", "elicitation.gsn.yaml"]},
        "evidence": {"name": "evidence"},
        "elicitation": {"name": "elicitation"},
    }
    return Argument(elements=elements, relations=relations, modules=modules)


def test_it_accepts_a_well_formed_medium_argument_without_findings():
    assert check_argument(medium_argument()) == []
    assert check_argument(medium_argument(), strict=True) == []


def test_it_handles_a_ten_thousand_deep_supported_by_chain():
    depth = 10_000
    elements = [goal(f"G{i}") for i in range(depth)] + [solution("Sn1")]
    relations = [r for i in range(depth - 1) for r in sup(f"G{i}", f"G{i + 1}")]
    relations += sup(f"G{depth - 1}", "Sn1")
    # A plain goal chain ending in evidence breaks no rule outside strict mode.
    assert check_argument(arg(elements, relations)) == []


def test_it_reports_a_ten_thousand_long_cycle_once_without_crashing():
    depth = 10_000
    elements = [goal("G-Top"), *(goal(f"G{i}") for i in range(depth)), solution("Sn1")]
    relations = [
        *sup("G-Top", "G0", "Sn1"),
        *(r for i in range(depth) for r in sup(f"G{i}", f"G{(i + 1) % depth}")),
    ]
    cycle = only(by_rule(arg(elements, relations), "R9"))
    assert cycle.node == "G0"
    assert "G0 → G1" in cycle.message and "G9999 → G0" in cycle.message


def generated_argument(size: int = 1_000) -> Argument:
    """A realistic tree: top goal → strategies → goals, each with evidence and some context."""
    elements = [goal("G0"), context("C0")]
    relations = [*ctx("G0", "C0")]
    count = 2
    i = 0
    while count < size:
        s, a = f"S{i}", f"A{i}"
        elements += [strategy(s), assumption(a)]
        relations += sup("G0", s) + ctx(s, a)
        for j in range(3):
            g, sn1, sn2 = f"G{i}.{j}", f"Sn{i}.{j}a", f"Sn{i}.{j}b"
            elements += [goal(g), solution(sn1), solution(sn2)]
            relations += sup(s, g) + sup(g, sn1, sn2)
        count += 11
        i += 1
    return arg(elements, relations)


def test_it_finds_nothing_in_a_well_formed_thousand_node_argument():
    # Speed is measured in bench/, not asserted here.
    argument = generated_argument()
    assert len(argument.elements) >= 1_000
    assert check_argument(argument) == []
    assert check_argument(argument, strict=True) == []


def messy_argument() -> Argument:
    return arg(
        [
            goal("G1"),
            goal("G10"),
            goal("G2"),
            Element("X1", "claim", "x"),
            context("C1"),
            solution("Sn1"),
            Element("Sn2", "goal", ""),
            strategy("S1"),
        ],
        sup("G1", "G2", "G10", "S1", "Sn9"),
        sup("S1", "Sn1"),
        sup("G2", "C1"),
        sup("G10", "Sn2"),
        ctx("Sn1", "C1"),
    )


def test_it_returns_findings_sorted_errors_first_then_rule_then_node():
    found = check_argument(messy_argument())
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key=["error", "warning"].index)
    for severity in ("error", "warning"):
        rules = [int(f.rule[1:]) for f in found if f.severity == severity]
        assert rules == sorted(rules)
    # Natural node order within a rule: G2 before G10 (both goals without evidence under R15).
    r15 = [f.node for f in found if f.rule == "R15"]
    assert r15.index("G2") < r15.index("G10")


def test_it_returns_the_same_findings_whatever_the_input_order():
    argument = messy_argument()
    expected = check_argument(argument)
    rng = random.Random(7)
    for _ in range(5):
        elements, relations = list(argument.elements), list(argument.relations)
        rng.shuffle(elements)
        rng.shuffle(relations)
        assert check_argument(arg(elements, relations)) == expected


# --------------------------------------------------------------------------------------------
# R1 identifiers


def test_it_reports_an_identifier_defined_in_two_modules_naming_both():
    argument = base(goal("G2", module="other"))
    finding = only(by_rule(argument, "R1"))
    assert (finding.severity, finding.node) == ("error", "G2")
    assert "G2 is defined 2 times" in finding.message
    assert "other" in finding.message


def test_it_reports_an_empty_identifier():
    argument = base(Element("", "solution", "Evidence without a name"))
    finding = only(by_rule(argument, "R1"))
    assert (finding.severity, finding.node) == ("error", None)
    assert "no identifier" in finding.message


def test_it_accepts_distinct_identifiers_across_modules():
    assert by_rule(modular_arguments(with_sub2=False), "R1") == []


# --------------------------------------------------------------------------------------------
# R2 types


def test_it_reports_an_unknown_type():
    argument = base(Element("X1", "claim", "Some claim"), extra=sup("G2", "X1"))
    finding = only(by_rule(argument, "R2"))
    assert (finding.severity, finding.node) == ("error", "X1")
    assert "unknown type 'claim'" in finding.message


def test_it_warns_when_the_identifier_prefix_contradicts_the_type():
    argument = base(Element("Sn3", "goal", "A claim", undeveloped=True), extra=sup("S1", "Sn3"))
    finding = only(by_rule(argument, "R2"))
    assert (finding.severity, finding.node) == ("warning", "Sn3")
    assert "'Sn'" in finding.message and "solution" in finding.message


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("G1", "goal"),
        ("G-Top", "goal"),
        ("G", "goal"),
        ("Sn2a", "solution"),
        ("A02", "assumption"),
        ("C_A_certain_context", "context"),
        ("CG1", "counter_goal"),
        ("CSn1", "counter_solution"),
        ("S1.2", "strategy"),
        ("J_1", "justification"),
        ("SI-G2", None),
        ("CCSn1", None),
        ("CCG1", None),
        ("Goal1", None),
        ("Snow", None),
        ("g1", None),
    ],
)
def test_it_infers_a_type_only_from_a_prefix_followed_by_a_separator(identifier, expected):
    inferred = type_from_identifier(identifier)
    assert (inferred[1] if inferred else None) == expected


@pytest.mark.parametrize(
    ("identifier", "type_"),
    [("SI-G2", "goal"), ("CCSn1", "counter_goal"), ("Goal1", "strategy"), ("G-Top", "goal")],
)
def test_it_accepts_identifiers_whose_prefix_infers_nothing_or_agrees(identifier, type_):
    argument = arg([Element(identifier, type_, "Statement")])
    assert by_rule(argument, "R2") == []


# --------------------------------------------------------------------------------------------
# R3 statements


@pytest.mark.parametrize("statement", ["", "   \n"])
def test_it_warns_about_an_empty_statement(statement):
    argument = base(Element("G4", "goal", statement, undeveloped=True), extra=sup("S1", "G4"))
    finding = only(by_rule(argument, "R3"))
    assert (finding.severity, finding.node) == ("warning", "G4")
    assert "no statement" in finding.message


def test_it_accepts_elements_with_statements():
    assert by_rule(base(), "R3") == []


# --------------------------------------------------------------------------------------------
# R4 permitted supported_by / challenges


def test_it_reports_a_goal_supported_by_a_context():
    argument = base(extra=sup("G2", "C1"))
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("error", "G2")
    assert "G2 (goal) is supported by C1 (context)" in finding.message
    assert "in_context_of" in finding.message


def test_it_warns_about_a_strategy_supported_by_a_strategy_citing_the_standard():
    # gsn2x accepts it (V04), so it is a warning, not an error.
    argument = base(strategy("S2"), goal("G4", undeveloped=True), extra=sup("S1", "S2"))
    argument.relations += sup("S2", "G4", "G2")
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("warning", "S1")
    assert "supported directly by strategy S2" in finding.message
    assert "GSN Community Standard" in finding.message


def test_it_warns_about_a_strategy_supported_directly_by_a_solution():
    argument = base(solution("Sn3"), extra=sup("S1", "Sn3"))
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("warning", "S1")
    assert "insert a sub-goal between S1 and Sn3" in finding.message


def test_it_applies_the_same_type_rules_to_targets_in_another_module():
    argument = base(solution("Sn7", module="evidence"), extra=sup("S1", "Sn7"))
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("warning", "S1")


def test_it_reports_a_counter_goal_supported_by_a_solution():
    argument = base(
        counter_goal("CG1"), solution("Sn3"), extra=challenge("CG1", "Sn1") + sup("CG1", "Sn3")
    )
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("error", "CG1")
    assert "counter-goal can only be supported by counter-goals or counter-solutions" in (
        finding.message
    )


def test_it_reports_a_challenge_from_an_element_that_is_not_a_counter_element():
    argument = base(extra=challenge("G3", "Sn1"))
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("error", "G3")
    assert "only counter-goals and counter-solutions may challenge" in finding.message


def test_it_reports_an_unknown_relation_type():
    argument = base(extra=[Relation("G2", "G3", "refines")])
    finding = only(by_rule(argument, "R4"))
    assert (finding.severity, finding.node) == ("error", "G2")
    assert "'refines'" in finding.message


def test_it_accepts_every_permitted_supported_by_and_challenge():
    argument = base(
        goal("G4", undeveloped=True),
        counter_goal("CG1"),
        counter_goal("CG2"),
        counter_solution("CSn1"),
        counter_solution("CSn2"),
        extra=[
            *sup("G3", "G4"),
            *challenge("CG1", "G2"),
            *sup("CG1", "CG2", "CSn1"),
            *sup("CG2", "CSn2"),
            *challenge("CSn2", "G3", "Sn2"),
        ],
    )
    assert by_rule(argument, "R4") == []


# --------------------------------------------------------------------------------------------
# R5 permitted in_context_of


def test_it_reports_a_goal_in_the_context_of_a_solution():
    argument = base(extra=ctx("G2", "Sn2"))
    finding = only(by_rule(argument, "R5"))
    assert (finding.severity, finding.node) == ("error", "G2")
    assert "G2 is in the context of Sn2 (solution)" in finding.message


def test_it_reports_a_counter_goal_with_context():
    argument = base(
        counter_goal("CG1"),
        counter_solution("CSn1"),
        extra=challenge("CG1", "G2") + sup("CG1", "CSn1") + ctx("CG1", "C1"),
    )
    finding = only(by_rule(argument, "R5"))
    assert (finding.severity, finding.node) == ("error", "CG1")
    assert "only goals and strategies have context" in finding.message


def test_it_reports_a_goal_of_the_same_module_used_as_context():
    argument = base(extra=ctx("G2", "G3"))
    finding = only(by_rule(argument, "R5"))
    assert (finding.severity, finding.node) == ("error", "G2")


def test_it_reports_a_goal_used_as_context_when_a_module_is_missing():
    argument = base(goal("G9", module="other"), extra=ctx("G2", "G9") + sup("G9", "Sn1"))
    assert only(by_rule(argument, "R5")).node == "G2"


def test_it_accepts_an_away_goal_of_another_module_as_context():
    assert by_rule(medium_argument(), "R5") == []


# --------------------------------------------------------------------------------------------
# R6 leaves


@pytest.mark.parametrize(
    ("relations", "node", "text"),
    [
        (sup("Sn1", "G3"), "Sn1", "Sn1 is a solution and cannot be supported by G3"),
        (ctx("C1", "A1"), "C1", "C1 is a context and cannot be in the context of A1"),
        (sup("J1", "G3"), "J1", "J1 is a justification and cannot be supported by G3"),
    ],
)
def test_it_reports_outgoing_relations_from_leaves(relations, node, text):
    finding = only(by_rule(base(extra=relations), "R6"))
    assert (finding.severity, finding.node) == ("error", node)
    assert text in finding.message


def test_it_reports_a_counter_solution_supported_by_something():
    argument = base(
        counter_solution("CSn1"),
        counter_goal("CG1"),
        extra=challenge("CSn1", "Sn1") + sup("CSn1", "CG1"),
    )
    finding = only(by_rule(argument, "R6"))
    assert (finding.severity, finding.node) == ("error", "CSn1")


def test_it_accepts_leaves_that_only_challenge():
    argument = base(counter_solution("CSn1"), extra=challenge("CSn1", "Sn1"))
    assert by_rule(argument, "R6") == []


# --------------------------------------------------------------------------------------------
# R7 self-references and duplicates


def test_it_reports_a_self_reference():
    finding = only(by_rule(base(extra=sup("G3", "G3")), "R7"))
    assert (finding.severity, finding.node) == ("error", "G3")
    assert "G3 is supported by G3" in finding.message and "itself" in finding.message


def test_it_reports_a_duplicate_relation_once():
    finding = only(by_rule(base(extra=sup("G2", "Sn1")), "R7"))
    assert (finding.severity, finding.node) == ("error", "G2")
    assert "G2 is supported by Sn1 2 times" in finding.message


def test_it_accepts_challenges_of_an_element_and_of_one_of_its_relationships():
    argument = base(
        counter_solution("CSn1"),
        extra=challenge("CSn1", "G2") + challenge("CSn1", "G2", "Sn1"),
    )
    assert by_rule(argument, "R7") == []


# --------------------------------------------------------------------------------------------
# R8 references


def test_it_reports_a_supported_by_target_that_does_not_exist():
    finding = only(by_rule(base(extra=sup("G3", "Sn9")), "R8"))
    assert (finding.severity, finding.node) == ("error", "G3")
    assert finding.message == "G3 is supported by Sn9, which does not exist."


def test_it_reports_a_relation_from_an_element_that_does_not_exist():
    finding = only(by_rule(base(extra=ctx("G9", "C1")), "R8"))
    assert (finding.severity, finding.node) == ("error", "G9")
    assert "but G9 does not exist" in finding.message


def test_it_reports_a_challenged_relationship_whose_other_end_does_not_exist():
    argument = base(counter_solution("CSn1"), extra=challenge("CSn1", "G2", "CG9"))
    finding = only(by_rule(argument, "R8"))
    assert (finding.severity, finding.node) == ("error", "CSn1")
    assert "G2 -> CG9" in finding.message and "CG9" in finding.message


def test_it_reports_an_extends_naming_a_missing_module():
    argument = template_arguments()
    argument.modules["instance"]["extends"][0]["module"] = "templat"
    finding = only(by_rule(argument, "R8"))
    assert (finding.severity, finding.node) == ("error", None)
    assert "extends module templat, which does not exist" in finding.message


def test_it_reports_a_develops_of_a_missing_foreign_element():
    finding = only(by_rule(template_arguments(develops={"G9": ["G2"]}), "R8"))
    assert (finding.severity, finding.node) == ("error", "G9")
    assert "G9 does not exist" in finding.message


def test_it_reports_a_develops_of_an_element_that_is_not_undeveloped():
    finding = only(by_rule(template_arguments(foreign_undeveloped=False), "R8"))
    assert (finding.severity, finding.node) == ("error", "G1")
    assert "G1 is not marked undeveloped" in finding.message


def test_it_reports_a_develops_naming_the_wrong_module_for_the_foreign_element():
    argument = template_arguments()
    argument.modules["instance"]["extends"][0]["module"] = "instance"
    finding = only(by_rule(argument, "R8"))
    assert (finding.severity, finding.node) == ("error", "G1")
    assert "G1 belongs to module template" in finding.message


def test_it_reports_a_develops_by_a_missing_local_element():
    findings = by_rule(template_arguments(develops={"G1": ["G2", "G7"]}), "R8")
    finding = only(findings)
    assert (finding.severity, finding.node) == ("error", "G7")
    assert "G7 does not exist" in finding.message


def test_it_accepts_resolved_references_and_extends():
    assert by_rule(template_arguments(), "R8") == []
    assert by_rule(dialectic_second(), "R8") == []


# --------------------------------------------------------------------------------------------
# R9 cycles


def test_it_reports_a_supported_by_cycle_naming_its_path():
    argument = base(goal("G4"), extra=sup("G3", "G4") + sup("G4", "G3"))
    finding = only(by_rule(argument, "R9"))
    assert (finding.severity, finding.node) == ("error", "G3")
    assert "G3 → G4 → G3" in finding.message


def test_it_reports_each_of_two_cycles_once():
    argument = base(
        goal("G4"),
        goal("G5"),
        extra=sup("G2", "G4") + sup("G4", "G2") + sup("G3", "G5") + sup("G5", "G3"),
    )
    found = by_rule(argument, "R9")
    assert [f.node for f in found] == ["G2", "G3"]
    assert "G2 → G4 → G2" in found[0].message and "G3 → G5 → G3" in found[1].message


def test_it_accepts_shared_children_and_contexts_that_are_not_cycles():
    # A diamond: G2 and G3 both supported by Sn1; J1 context of both S1 and G2.
    argument = base(extra=sup("G3", "Sn1") + ctx("G2", "J1"))
    assert by_rule(argument, "R9") == []


# --------------------------------------------------------------------------------------------
# R10 roots


def test_it_reports_an_argument_without_a_root():
    argument = arg(
        [goal("G1"), goal("G2"), solution("Sn1")], sup("G1", "G2", "Sn1"), sup("G2", "G1")
    )
    finding = only(by_rule(argument, "R10"))
    assert (finding.severity, finding.node) == ("error", None)
    assert "no root" in finding.message


def test_it_reports_an_empty_argument_as_having_no_root():
    finding = only(check_argument(Argument()))
    assert (finding.rule, finding.severity, finding.node) == ("R10", "error", None)


def test_it_reports_a_root_that_is_not_a_goal():
    argument = base(strategy("S0"), extra=sup("S0", "G2"))
    found = by_rule(argument, "R10")
    error = only([f for f in found if f.severity == "error"])
    assert error.node == "S0" and "every root must be a goal" in error.message


def test_it_warns_about_more_than_one_root_naming_them():
    argument = base(goal("G0"), solution("Sn0"), extra=sup("G0", "Sn0"))
    finding = only(by_rule(argument, "R10"))
    assert (finding.severity, finding.node) == ("warning", None)
    assert "2 roots (G0 and G1)" in finding.message


def test_it_accepts_challengers_and_develops_targets_as_non_roots():
    assert by_rule(dialectic_second(), "R10") == []
    assert by_rule(template_arguments(), "R10") == []


# --------------------------------------------------------------------------------------------
# R11 reachability


def test_it_reports_elements_unreachable_from_any_root():
    # G4 and G5 support each other; nothing above them reaches them.
    argument = base(goal("G4"), goal("G5"), solution("Sn3"), extra=sup("G4", "G5", "Sn3"))
    argument.relations += sup("G5", "G4")
    found = by_rule(argument, "R11")
    assert [(f.severity, f.node) for f in found] == [
        ("error", "G4"),
        ("error", "G5"),
        ("error", "Sn3"),
    ]
    assert "not reachable from any root" in found[0].message


def test_it_accepts_elements_reachable_only_through_challengers_or_develops():
    assert by_rule(dialectic_second(), "R11") == []
    assert by_rule(template_arguments(), "R11") == []


def test_it_does_not_count_develops_edges_when_the_foreign_element_is_missing():
    argument = template_arguments(develops={"G9": ["G2"]})
    # G2 is then not developing anything: it is a second root, not an orphan.
    assert by_rule(argument, "R11") == []
    assert "G2" in only(by_rule(argument, "R10")).message


# --------------------------------------------------------------------------------------------
# R12 context inheritance


def test_it_warns_about_a_context_repeated_on_a_child():
    finding = only(by_rule(base(extra=ctx("S1", "C1")), "R12"))
    assert (finding.severity, finding.node) == ("warning", "S1")
    assert "S1 is in the context of C1" in finding.message and "from its ancestor G1" in (
        finding.message
    )


def test_it_warns_about_a_context_repeated_further_down_naming_the_nearest_ancestor():
    argument = base(extra=ctx("G3", "A1") + ctx("S1", "A1"))
    found = by_rule(argument, "R12")
    # Sorted by node: G3 (nearest holder above it is S1), then S1 (inherits A1 from G1).
    assert [(f.node, f.message.split("ancestor ")[1][:2]) for f in found] == [
        ("G3", "S1"),
        ("S1", "G1"),
    ]


def test_it_accepts_the_same_context_on_siblings():
    # J1 moves from S1 down to both of its sub-goals; neither is an ancestor of the other.
    argument = base(extra=ctx("G2", "J1") + ctx("G3", "J1"))
    argument.relations.remove(Relation("S1", "J1", "in_context_of"))
    assert by_rule(argument, "R12") == []


# --------------------------------------------------------------------------------------------
# R13 undeveloped marking


@pytest.mark.parametrize("element", [goal("G4"), strategy("S2")])
def test_it_warns_about_an_unsupported_goal_or_strategy_not_marked_undeveloped(element):
    argument = base(
        element, extra=sup("S1" if element.type == "goal" else "G3", element.identifier)
    )
    finding = only(by_rule(argument, "R13"))
    assert (finding.severity, finding.node) == ("warning", element.identifier)
    assert "mark it undeveloped" in finding.message


def test_it_accepts_an_unsupported_goal_marked_undeveloped():
    argument = base(goal("G4", undeveloped=True), extra=sup("S1", "G4"))
    assert by_rule(argument, "R13") == []


def test_it_accepts_a_goal_developed_through_extends():
    # G1 is undeveloped in its template and developed by G2: nothing to mark.
    assert by_rule(template_arguments(), "R13") == []


# --------------------------------------------------------------------------------------------
# R14 undeveloped with support


def test_it_reports_an_undeveloped_element_with_supported_by_children():
    argument = arg(
        [goal("G1"), goal("G2", undeveloped=True), solution("Sn1")],
        sup("G1", "G2"),
        sup("G2", "Sn1"),
    )
    finding = only(by_rule(argument, "R14"))
    assert (finding.severity, finding.node) == ("error", "G2")
    assert "G2 is marked undeveloped but is supported by Sn1" in finding.message


def test_it_accepts_an_undeveloped_element_developed_only_through_extends():
    assert by_rule(template_arguments(), "R14") == []


# --------------------------------------------------------------------------------------------
# R15 evidence paths and single-child strategies


def test_it_warns_about_a_goal_with_no_path_to_evidence():
    # G3 is supported only by G4, which has no support at all (R13's business).
    argument = arg(
        [goal("G1"), goal("G2"), goal("G3"), goal("G4"), solution("Sn1"), strategy("S1")],
        sup("G1", "S1"),
        sup("S1", "G2", "G3"),
        sup("G2", "Sn1"),
        sup("G3", "G4"),
    )
    finding = only(by_rule(argument, "R15"))
    assert (finding.severity, finding.node) == ("warning", "G3")
    assert "G3 has no path to evidence" in finding.message


def test_it_warns_about_a_strategy_with_a_single_child():
    argument = base()
    argument.relations.remove(Relation("S1", "G3", "supported_by"))
    argument.relations += sup("G2", "G3")
    finding = only(by_rule(argument, "R15"))
    assert (finding.severity, finding.node) == ("warning", "S1")
    assert "only one child, G2" in finding.message and "adds no inference" in finding.message


def test_it_accepts_goals_reaching_solutions_or_undeveloped_elements():
    argument = base(goal("G4", undeveloped=True), extra=sup("G3", "G4"))
    assert by_rule(argument, "R15") == []


def test_it_follows_develops_edges_to_find_evidence():
    # G1 is not undeveloped (an R8 error) but still reaches Sn1 through G2, so no R15.
    assert by_rule(template_arguments(foreign_undeveloped=False), "R15") == []


# --------------------------------------------------------------------------------------------
# R16 strict goal-to-goal


def test_it_warns_about_goal_to_goal_support_in_strict_mode_only():
    argument = base(goal("G4", undeveloped=True), extra=sup("G3", "G4"))
    finding = only(by_rule(argument, "R16", strict=True))
    assert (finding.severity, finding.node) == ("warning", "G3")
    assert "G3 is supported directly by goal G4" in finding.message
    assert by_rule(argument, "R16") == []


def test_it_accepts_goals_separated_by_a_strategy_in_strict_mode():
    assert by_rule(base(), "R16", strict=True) == []
