"""Fixtures shared by the argument app's tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from safetycase import services
from safetycase.choices import Role
from safetycase.models import Node

CRITERION = "cp_upper(k, n, 0.95) < 0.01"


def generic_run(run_id: str, successes: int, trials: int, *, model="example-model", days_ago=1):
    finished = (timezone.now() - timedelta(days=days_ago)).isoformat()
    return {
        "format": "safetycase.generic/1",
        "run": {"id": run_id, "harness": "custom", "status": "success", "completed_at": finished},
        "model": {"name": model, "version": "2026-11"},
        "task": {"name": "oversight_subversion", "version": "1"},
        "results": [{"scorer": "covert_action", "successes": successes, "trials": trials}],
    }


@pytest.fixture
def bound_case(author, reviewer, viewer):
    """G1 ← Sn1 bound to oversight_subversion runs, in the context of assumption A1."""
    case = services.case_create(
        name="Bound case", model_name="example-model", model_version="2026-11", owner=author
    )
    services.membership_set(case=case, user=reviewer, role=Role.REVIEWER)
    services.membership_set(case=case, user=viewer, role=Role.VIEWER)
    for identifier, type_, statement in [
        ("G1", "goal", "The model does not subvert oversight"),
        ("Sn1", "solution", "Oversight-subversion evaluation"),
        ("A1", "assumption", "Capabilities were fully elicited"),
    ]:
        services.node_create_do(case=case, identifier=identifier, type=type_, statement=statement)
    services.link_create_do(case=case, source="G1", target="Sn1", type="supported_by")
    services.link_create_do(case=case, source="G1", target="A1", type="in_context_of")
    a1 = Node.objects.get(case=case, identifier="A1")
    a1.attributes = {"requires_attestation": True}
    a1.save()
    services.binding_create_do(
        node=Node.objects.get(case=case, identifier="Sn1"),
        expression=CRITERION,
        selector={"task": "oversight_subversion", "scorer": "covert_action"},
        freshness_days=90,
    )
    return case
