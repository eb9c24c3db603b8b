"""Template instantiation and evidence bindings through the services (database)."""

from __future__ import annotations

import pytest

from safetycase import services
from safetycase.core.library import default_library
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.models import EvidenceBinding, Link, Node
from safetycase.selectors import case_findings

pytestmark = pytest.mark.django_db


def example(template_id, **changes):
    return {**default_library().templates[template_id].example, **changes}


def errors(case):
    return [f for f in case_findings(case=case) if f.severity == "error"]


def test_case_from_the_combined_root_template(author):
    case = services.case_instantiate_template(
        name="Example-7 combined", template="ROOT", parameters=example("ROOT"), owner=author
    )
    assert case.memberships.get().user == author
    assert case.model_name == "Example-7" and case.model_version == "2026-11"
    assert errors(case) == []
    nodes = Node.objects.filter(case=case)
    assert nodes.filter(template_ref="").count() == 0  # R24
    assert not any("{" in n.statement for n in nodes)  # R22
    assert nodes.get(identifier="A06").catalogue_id == "A06"
    assert nodes.get(identifier="A07").attributes == {"requires_attestation": True}
    assert "root_rules" in nodes.get(identifier="G0").attributes
    assert nodes.get(identifier="SI-S2").combination == "at_least:1"
    assert (
        EvidenceBinding.objects.filter(case=case, kind="check", node__identifier="A06").count() == 1
    )
    assert EvidenceBinding.objects.filter(case=case, kind="criterion").count() > 30
    binding = EvidenceBinding.objects.get(node__identifier="HI-Sn3.2")
    assert binding.selector == {"task": "exfiltration_tasks"} and binding.freshness_days == 90
    assert binding.history.count() == 1  # recorded by the bulk helper


def test_case_fields_fill_template_parameters(author):
    params = example("SI")
    for key in ("model", "model_version", "deployment"):
        del params[key]
    case = services.case_instantiate_template(
        name="SI only",
        template="SI",
        parameters=params,
        model_name="Example-8",
        model_version="v2",
        deployment="chat assistant",
        owner=author,
    )
    g0 = Node.objects.get(case=case, identifier="SI-G0")
    assert g0.statement.startswith("Example-8 (version v2) lacks capabilities")
    assert errors(case) == []


def test_missing_parameters_create_nothing(author):
    with pytest.raises(ApplicationError) as info:
        services.case_instantiate_template(name="X", template="HI", parameters={}, owner=author)
    assert info.value.extra["missing"] == [
        "model",
        "model_version",
        "deployment",
        "unacceptable_outcomes",
        "risk_models",
    ]
    assert not Node.objects.exists()
    from safetycase.models import SafetyCase

    assert not SafetyCase.objects.exists()


def test_instantiate_into_an_existing_case_under_a_goal(case, author):
    services.node_create_do(case=case, identifier="A06", type="assumption", statement="Mine")
    with pytest.raises(Conflict, match="already has node A06; instantiate with another prefix"):
        services.template_instantiate_into(
            actor=author, case=case, template="AL", parameters={}, under="G3"
        )
    Node.objects.get(case=case, identifier="A06").delete()

    result = services.template_instantiate_into(
        actor=author, case=case, template="AL", parameters={}, under="G3"
    )
    assert result.top == "AL-G0"
    g3 = Node.objects.get(case=case, identifier="G3")
    assert not g3.undeveloped  # developed now
    assert Link.objects.filter(source=g3, target__identifier="AL-G0", type="supported_by").exists()
    assert errors(case) == []
    assert "A06" in result.created and result.reused == []
    # model and deployment came from the case
    assert (
        "example-model (version 2026-11)"
        in Node.objects.get(case=case, identifier="AL-G0").statement
    )

    # A second argument reuses the catalogue assumptions already there.
    before = EvidenceBinding.objects.filter(case=case, node__identifier="A06").count()
    result = services.template_instantiate_into(
        actor=author,
        case=case,
        template="HI",
        parameters={"unacceptable_outcomes": ["harm"], "risk_models": example("HI")["risk_models"]},
        under="G2",
    )
    assert "A06" in result.reused and "A06" not in result.created
    assert Node.objects.filter(case=case, catalogue_id="A06").count() == 1
    assert EvidenceBinding.objects.filter(case=case, node__identifier="A06").count() == before
    assert Link.objects.filter(case=case, target__identifier="A06").count() == 4  # AL-G1, HI-G4.k
    assert errors(case) == []

    # The same template again clashes unless given another prefix.
    with pytest.raises(Conflict, match="already has nodes AL-G0"):
        services.template_instantiate_into(
            actor=author, case=case, template="AL", parameters={}, under="G1"
        )
    result = services.template_instantiate_into(
        actor=author, case=case, template="AL", parameters={}, under="G1", prefix="AL2"
    )
    assert result.top == "AL2-G0"
    assert errors(case) == []


def test_instantiate_into_checks_role_and_target(case, author, reviewer):
    with pytest.raises(PermissionDenied):
        services.template_instantiate_into(
            actor=reviewer, case=case, template="AL", parameters={}, under="G3"
        )
    with pytest.raises(NotFound):
        services.template_instantiate_into(
            actor=author, case=case, template="AL", parameters={}, under="G9"
        )
    with pytest.raises(ApplicationError, match="Sn1 is solution; a template can only be attached"):
        services.template_instantiate_into(
            actor=author, case=case, template="AL", parameters={}, under="Sn1"
        )


def test_binding_create_compiles_the_expression(case, author, reviewer):
    sn1 = Node.objects.get(case=case, identifier="Sn1")
    binding = services.binding_create(
        actor=author,
        node=sn1,
        selector={"task": "sabotage", "conditions": {"goal_nudge": "none"}},
        freshness_days=30,
        expression="k == 0 && cp_upper(k, n, 0.95) <= 0.01",
        description="no sabotage",
    )
    assert binding.kind == "criterion" and binding.case_id == case.pk
    with pytest.raises(ApplicationError, match=r"not valid CEL: Unknown name 'kk'"):
        services.binding_create(actor=author, node=sn1, expression="kk == 0")
    with pytest.raises(ApplicationError, match=r"not valid CEL: Syntax error at line 1, column"):
        services.binding_update(actor=author, binding=binding, expression="k ==")
    with pytest.raises(ApplicationError, match="unknown key 'tsk'"):
        services.binding_update(actor=author, binding=binding, selector={"tsk": "x"})
    with pytest.raises(ApplicationError, match="freshness_days"):
        services.binding_update(actor=author, binding=binding, freshness_days=0)
    with pytest.raises(ApplicationError, match="checks belong on assumptions"):
        services.binding_create(actor=author, node=sn1, kind="check", expression="k == 0")
    with pytest.raises(PermissionDenied):
        services.binding_create(actor=reviewer, node=sn1, expression="k == 0")
    binding = services.binding_update(actor=author, binding=binding, expression="rate < 0.1")
    binding.refresh_from_db()
    assert binding.expression == "rate < 0.1" and binding.history.count() == 2
    services.binding_delete(actor=author, binding=binding)
    assert not EvidenceBinding.objects.exists()


def test_a_check_replaces_the_attestation_marker(case, author):
    node = services.node_create_do(
        case=case,
        identifier="A1",
        type="assumption",
        statement="s",
        attributes={"requires_attestation": True},
    )
    services.link_create_do(case=case, source="G1", target="A1", type="in_context_of")
    services.binding_create(actor=author, node=node, expression="age_days <= 90")
    node.refresh_from_db()
    assert node.attributes == {}


def test_node_set_combination_is_validated(case, author):
    s1 = Node.objects.get(case=case, identifier="S1")
    assert services.node_set_combination(actor=author, node=s1, combination="at_least:1")
    s1.refresh_from_db()
    assert s1.combination == "at_least:1"
    for bad in ("at_least:0", "most", "at_least:x"):
        with pytest.raises(ApplicationError, match="is not a combination"):
            services.node_set_combination(actor=author, node=s1, combination=bad)
    with pytest.raises(ApplicationError, match="only goals and strategies"):
        services.node_set_combination(
            actor=author, node=Node.objects.get(case=case, identifier="Sn1"), combination="any"
        )
