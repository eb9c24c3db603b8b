"""The optimistic-concurrency check of node_update / binding_update (expected_updated_at)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from safetycase import services
from safetycase.errors import Conflict
from safetycase.models import EvidenceBinding, Node

pytestmark = pytest.mark.django_db


def test_node_update_with_the_current_stamp_saves(case, author):
    g3 = Node.objects.get(case=case, identifier="G3")
    services.node_update(actor=author, node=g3, expected_updated_at=g3.updated_at, statement="Mine")
    assert Node.objects.get(pk=g3.pk).statement == "Mine"


def test_two_authors_editing_the_same_node_second_is_refused(case, author):
    opened_by_a = Node.objects.get(case=case, identifier="G3")
    opened_by_b = Node.objects.get(case=case, identifier="G3")
    stamp = opened_by_a.updated_at.isoformat()  # both forms carry the same stamp
    services.node_update(actor=author, node=opened_by_a, expected_updated_at=stamp, statement="A")
    with pytest.raises(Conflict) as refused:
        services.node_update(
            actor=author, node=opened_by_b, expected_updated_at=stamp, statement="B"
        )
    assert refused.value.message == (
        "G3 was changed by someone else since you opened this form; reload to see their change."
    )
    assert Node.objects.get(pk=opened_by_a.pk).statement == "A"


def test_without_a_stamp_the_update_is_unconditional(case, author):
    g3 = Node.objects.get(case=case, identifier="G3")
    services.node_update(actor=author, node=g3, statement="Forced")
    assert Node.objects.get(pk=g3.pk).statement == "Forced"


def test_binding_update_refuses_a_stale_stamp(bound_case, author):
    binding = EvidenceBinding.objects.get(case=bound_case)
    stale = binding.updated_at - timedelta(seconds=1)
    with pytest.raises(Conflict, match="changed by someone else"):
        services.binding_update(
            actor=author, binding=binding, expected_updated_at=stale, description="x"
        )
    assert EvidenceBinding.objects.get(pk=binding.pk).description == ""
    services.binding_update(
        actor=author, binding=binding, expected_updated_at=binding.updated_at, description="y"
    )
    assert EvidenceBinding.objects.get(pk=binding.pk).description == "y"
