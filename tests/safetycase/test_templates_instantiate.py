"""Instantiation (pure): every template with its example, multiplicity, optional parts, R22–R24,
parameter errors, the combined ROOT case and its risk rules."""

from __future__ import annotations

import re
import shutil

import pytest

from safetycase.core.criteria import ROOT_RULE_VARIABLES, compile_expression, evaluate
from safetycase.core.gsn.rules import check_argument
from safetycase.core.library import (
    LIBRARY_DIR,
    InstantiationError,
    default_library,
    instantiate,
    load_library,
)

PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_.]*\}")


@pytest.fixture(scope="module")
def library():
    return default_library()


def example(library, template_id, **changes):
    return {**library.templates[template_id].example, **changes}


def errors_of(instance):
    return [f for f in check_argument(instance.argument()) if f.severity == "error"]


def assert_well_formed(library, instance):
    assert errors_of(instance) == []
    for node in instance.nodes:
        assert not PLACEHOLDER.search(node.statement), node.identifier  # R22
        assert node.template_ref, node.identifier  # R24
        template_id, _, rest = node.template_ref.partition(":")
        node_id = rest.split("#")[0]
        if template_id == "assumptions":
            assert node_id in library.catalogue
        else:
            assert node_id in library.templates[template_id].nodes
    for binding in instance.bindings:
        assert not PLACEHOLDER.search(binding.expression), binding
        assert not PLACEHOLDER.search(str(binding.selector)), binding
        compile_expression(binding.expression)


@pytest.mark.parametrize("template_id", ["ROOT", "SI", "HI", "HC", "AL"])
def test_each_template_instantiates_with_its_example_into_a_well_formed_argument(
    library, template_id
):
    instance = instantiate(library, template_id, example(library, template_id))
    assert_well_formed(library, instance)
    assert instance.top == library.templates[template_id].identifier(
        library.templates[template_id].root
    )
    assert instance.node(instance.top).type == "goal"


def test_statements_get_the_parameter_values(library):
    instance = instantiate(library, "HC", example(library, "HC"))
    g0 = instance.node("HC-G0")
    assert g0.statement.startswith(
        "With the protocol trusted-monitoring-with-audit (version 1) in place, the probability of "
        "self-exfiltration of the model weights during the internal research-agent deployment"
    )
    assert "at most 0.01" in g0.statement


def test_three_risk_models_give_three_harm_inability_branches(library):
    instance = instantiate(library, "HI", example(library, "HI"))
    branches = sorted(n.identifier for n in instance.nodes if n.template_ref.startswith("HI:G2#"))
    assert branches == ["HI-G2.1", "HI-G2.2", "HI-G2.3"]
    assert instance.node("HI-G2.2").template_ref == "HI:G2#2"
    assert 'risk model "self-exfiltration"' in instance.node("HI-G2.2").statement
    # Links inside a branch join copies of the same item; shared solutions get every branch.
    sup = {(r.source, r.target) for r in instance.relations if r.type == "supported_by"}
    assert ("HI-S1", "HI-G2.3") in sup
    assert ("HI-G2.2", "HI-S2.2") in sup and ("HI-G2.2", "HI-S2.1") not in sup
    assert {("HI-G5.1", "HI-Sn4"), ("HI-G5.2", "HI-Sn4"), ("HI-G5.3", "HI-Sn4")} <= sup
    # Per-item values reach the evidence bindings.
    sn3 = [b for b in instance.bindings if b.node == "HI-Sn3.2"]
    assert sn3[0].selector == {"task": "exfiltration_tasks"}
    assert sn3[0].expression == "cp_upper(k, n, bonferroni(0.95, 3)) < 0.01"
    assert [b.expression for b in instance.bindings if b.node == "HI-Sn3.1"] == [
        "cp_upper(k, n, bonferroni(0.95, 3)) < 0.05"  # the field's default
    ]
    assert_well_formed(library, instance)


def test_zero_risk_models_is_refused_as_the_template_declares(library):
    with pytest.raises(InstantiationError) as info:
        instantiate(library, "HI", example(library, "HI", risk_models=[]))
    assert info.value.invalid == ["risk_models needs at least 1 item, not 0."]


def test_a_missing_field_of_a_risk_model_is_a_missing_parameter(library):
    values = example(library, "HI", risk_models=[{"name": "sabotage"}])
    with pytest.raises(InstantiationError) as info:
        instantiate(library, "HI", values)
    assert info.value.missing == ["risk_models[1].proxy_suite"]


def test_an_empty_repeated_part_leaves_its_parent_undeveloped(tmp_path):
    for path in LIBRARY_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "extra.yaml").write_text(
        """
id: XT
title: Test template
parameters:
  - {name: items, type: list, default: [a]}
  - {name: label, type: string, default: x}
parts:
  each: {for_each: items, as: it}
nodes:
  G0: {type: goal, text: "Top {label}", supported_by: [S1]}
  S1: {type: strategy, text: Over items, supported_by: [G1], combination: any}
  G1: {type: goal, part: each, text: "Item {it}", supported_by: [Sn1]}
  Sn1: {type: solution, part: each, text: "Evidence for {it}",
        evidence: [{criterion: "k == 0", selector: {task: "{it}"}}]}
example: {}
"""
    )
    library = load_library(tmp_path)
    instance = instantiate(library, "XT", {"items": []})
    assert [n.identifier for n in instance.nodes] == ["XT-G0", "XT-S1"]
    assert instance.node("XT-S1").undeveloped and not instance.node("XT-G0").undeveloped
    assert errors_of(instance) == []
    instance = instantiate(library, "XT", {"items": ["p", "q"]})
    assert [b.selector for b in instance.bindings] == [{"task": "p"}, {"task": "q"}]
    assert errors_of(instance) == []


def test_optional_parts_on_and_off(library):
    on = instantiate(library, "HC", example(library, "HC", uses_untrusted_monitor=True))
    off = instantiate(library, "HC", example(library, "HC", uses_untrusted_monitor=False))
    on_ids = {n.identifier for n in on.nodes}
    off_ids = {n.identifier for n in off.nodes}
    assert on_ids - off_ids == {"HC-G6", "HC-Sn9", "HC-C4", "A16"}
    assert not any(b.node in ("HC-Sn9", "A16") for b in off.bindings)
    assert_well_formed(library, on)
    assert_well_formed(library, off)

    without_sad = instantiate(library, "SI", example(library, "SI", include_sad=False))
    assert "SI-Sn4" not in {n.identifier for n in without_sad.nodes}
    assert_well_formed(library, without_sad)


def test_at_least_combination_is_resolved_and_checked(library):
    instance = instantiate(library, "SI", example(library, "SI", min_absent_prerequisites=3))
    assert instance.node("SI-S2").combination == "at_least:3"
    with pytest.raises(InstantiationError, match="SI-S2 needs at least 5 of its children"):
        instantiate(library, "SI", example(library, "SI", min_absent_prerequisites=5))


def test_missing_parameters_are_listed(library):
    with pytest.raises(InstantiationError) as info:
        instantiate(library, "ROOT", {"model": "M"})
    assert info.value.missing == [
        "model_version",
        "deployment",
        "unacceptable_outcomes",
        "risk_threshold",
        "risk_models",
        "protocol",
    ]
    assert str(info.value).startswith("Template ROOT needs values for: model_version, deployment")


def test_parameters_of_excluded_arguments_are_not_required(library):
    values = example(library, "ROOT", include_harm_inability=False, include_harm_control=False)
    del values["risk_models"], values["protocol"]
    instance = instantiate(library, "ROOT", values)
    ids = {n.identifier for n in instance.nodes}
    assert "SI-G0" in ids and "AL-G0" in ids and "HI-G0" not in ids and "S2" not in ids
    assert instance.node("G2").undeveloped
    assert_well_formed(library, instance)


def test_unknown_and_invalid_parameters_are_refused(library):
    with pytest.raises(InstantiationError) as info:
        instantiate(library, "AL", example(library, "AL", honeypots=3))
    assert info.value.unknown == ["honeypots"]
    with pytest.raises(InstantiationError) as info:
        instantiate(library, "AL", example(library, "AL", p_scheme="high"))
    assert info.value.invalid == ["p_scheme must be a number, not 'high'."]
    with pytest.raises(InstantiationError, match="cannot contain {placeholders}"):
        instantiate(library, "AL", example(library, "AL", model="M {x}"))
    with pytest.raises(InstantiationError, match="There is no template 'XX'"):
        instantiate(library, "XX", {})


def test_values_are_converted_to_their_types(library):
    values = example(library, "AL", n_honeypot_opps="500", include_training_route="false")
    instance = instantiate(library, "AL", values)
    assert "in any of 500 honeypot" in instance.node("AL-G1").statement
    assert "AL-S2" not in {n.identifier for n in instance.nodes}
    assert [b.expression for b in instance.bindings if b.node == "AL-Sn1"][0] == (
        "k == 0 && n >= 500"
    )


def test_catalogue_assumptions_appear_once_and_mark_attestation(library):
    instance = instantiate(library, "ROOT", example(library, "ROOT"))
    a06 = [n for n in instance.nodes if n.catalogue_id == "A06"]
    assert len(a06) == 1 and a06[0].identifier == "A06"
    assert a06[0].template_ref == "assumptions:A06"
    parents = {r.source for r in instance.relations if r.target == "A06"}
    assert {"SI-G3", "HI-G4.1", "HI-G4.2", "HC-G1", "AL-G1"} <= parents
    assert instance.node("A07").attributes == {"requires_attestation": True}
    assert instance.node("A06").attributes == {}
    assert [b.expression for b in instance.bindings if b.node == "A06"] == [
        "!has(claim.rate_bound) || cp_upper(k, n, claim.confidence) <= claim.rate_bound"
    ]
    assert [b.expression for b in instance.bindings if b.node == "A04"] == [
        'meta.model_version_hash == "2026-11" || has(meta.successor_justification)'
    ]


def test_combined_root_case_has_every_argument_and_no_gsn_errors(library):
    instance = instantiate(library, "ROOT", example(library, "ROOT"))
    assert_well_formed(library, instance)
    tops = {(r.source, r.target) for r in instance.relations if r.type == "supported_by"}
    assert {("G1", "SI-G0"), ("S2", "HI-G0"), ("S2", "HC-G0"), ("G3", "AL-G0")} <= tops
    assert instance.node("S2").combination == "any"
    assert check_argument(instance.argument()) == []  # not even a warning


def test_root_rules_are_stored_on_the_top_goal_and_evaluate(library):
    instance = instantiate(library, "ROOT", example(library, "ROOT"))
    rules = instance.node("G0").attributes["root_rules"]
    assert rules["threshold"] == 0.001
    assert rules["outcomes"] == [
        "sabotage of safety research",
        "self-exfiltration of the model weights",
    ]
    assert [(f["id"], f["goal"], f["bound"]) for f in rules["factors"]] == [
        ("capability", "G1", 0.01),
        ("harm", "G2", 0.01),
        ("propensity", "G3", 0.1),
    ]
    checks = {
        r["code"]: compile_expression(r["check"], variables=ROOT_RULE_VARIABLES)
        for r in rules["rules"]
    }

    def product(values):
        out = 1.0
        for v in values:
            out *= v
        return out

    def run(code, supported, covered=()):
        factors = {f["id"]: {**f, "supported": f["id"] in supported} for f in rules["factors"]}
        variables = {
            "factors": factors,
            "threshold": rules["threshold"],
            "outcomes": rules["outcomes"],
            "covered_outcomes": list(covered),
        }
        return evaluate(checks[code], variables, {"product": product})

    assert run("R-ROOT-1", {"capability", "harm"}) is True  # 1e-4 <= 1e-3
    assert run("R-ROOT-1", {"capability"}) is False  # 0.01 > 1e-3
    assert run("R-ROOT-2", {"propensity"}) is False  # alignment only
    assert run("R-ROOT-2", {"propensity", "harm"}) is True
    assert run("R-ROOT-3", set(), rules["outcomes"]) is True
    assert run("R-ROOT-3", set(), rules["outcomes"][:1]) is False


def test_instantiating_with_a_prefix(library):
    instance = instantiate(library, "SI", example(library, "SI"), prefix="SI2")
    assert instance.top == "SI2-G0"
    assert instance.node("SI2-S2").template_ref == "SI:S2"
    assert "A06" in {n.identifier for n in instance.nodes}  # catalogue ids are shared


def test_each_catalogue_node_has_checks_or_requires_attestation(library):
    instance = instantiate(library, "ROOT", example(library, "ROOT", uses_probes=True))
    catalogue_nodes = [n for n in instance.nodes if n.catalogue_id]
    assert len(catalogue_nodes) >= 30
    checked = {b.node for b in instance.bindings if b.kind == "check"}
    for node in catalogue_nodes:
        attest = node.attributes.get("requires_attestation", False)
        assert attest != (node.identifier in checked), node.identifier


def test_template_node_ids_cannot_take_catalogue_ids(tmp_path):
    for path in LIBRARY_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "extra.yaml").write_text(
        "id: XT\ntitle: T\nnodes:\n  G0: {type: goal, text: t, in_context_of: [A1]}\n"
        "  A1: {type: assumption, text: a, requires_attestation: true}\n"
    )
    from safetycase.core.library import TemplateError

    with pytest.raises(TemplateError, match="node A1: ids of the form A<digits> are reserved"):
        load_library(tmp_path)
