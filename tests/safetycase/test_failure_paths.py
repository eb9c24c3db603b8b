"""'Show the paths from the top goal to failures': the chains that keep the top goal from
being supported, listed and marked like a search."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from safetycase.core.argument_walks import failure_paths
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.models import SafetyCase

ARGUMENT = Argument(
    elements=[
        Element("G1", "goal"),
        Element("S1", "strategy"),
        Element("G2", "goal"),
        Element("G3", "goal"),
        Element("Sn1", "solution"),
        Element("Sn2", "solution"),
        Element("Sn3", "solution"),
        Element("A1", "assumption"),
        Element("C1", "context"),
    ],
    relations=[
        Relation("G1", "S1", "supported_by"),
        Relation("G1", "C1", "in_context_of"),
        Relation("S1", "G2", "supported_by"),
        Relation("S1", "G3", "supported_by"),
        Relation("G2", "Sn1", "supported_by"),
        Relation("G2", "Sn2", "supported_by"),
        Relation("G3", "Sn3", "supported_by"),
        Relation("G3", "A1", "in_context_of"),
    ],
)


def test_the_paths_follow_only_what_is_not_supported():
    statuses = {
        "G1": "defeated",
        "S1": "defeated",
        "G2": "defeated",
        "Sn1": "supported",
        "Sn2": "defeated",
        "G3": "at_risk",
        "Sn3": "supported",
        "A1": "at_risk",
    }
    assert failure_paths(ARGUMENT, statuses) == ["G1", "S1", "G2", "Sn2", "G3", "A1"]


def test_no_paths_when_the_top_goal_is_supported_or_not_assessed():
    assert failure_paths(ARGUMENT, {"G1": "supported", "Sn2": "defeated"}) == []
    assert failure_paths(ARGUMENT, {}) == []


# Committed transactions: the demo's uploads are ingested once their transaction commits.
@pytest.mark.django_db(transaction=True)
def test_the_demo_lists_and_marks_the_paths_to_its_failures(author, reviewer, client, eager_celery):
    from io import StringIO

    call_command(
        "load_demo", "--owner", "alice", "--reviewer", "bob", stdout=StringIO(), stderr=StringIO()
    )
    demo = SafetyCase.objects.get()
    client.force_login(author)
    page = client.get(f"/cases/{demo.pk}/").content.decode()
    assert "Show the paths from the top goal to failures" in page
    shown = client.get(f"/cases/{demo.pk}/?q=path:failures").content.decode()
    assert "on the paths from the top goal to what keeps it from being supported" in shown
    listed = re.findall(
        r'data-node="([^"]+)"', shown.split("data-search-results")[1].split("</ul>")[0]
    )
    statuses = demo.assessments.latest().statuses
    assert listed and listed[0] == "G0"
    assert all(statuses[i] in ("defeated", "at_risk", "undeveloped") for i in listed)
    # The chain from the top goal down through the Scheming Inability argument is listed;
    # nothing that holds is.
    assert {"G0", "S0", "SI-G0", "SI-S1"} <= set(listed)
    supported = {i for i, status in statuses.items() if status == "supported"}
    assert supported and not supported & set(listed)
    assert re.search(r'data-search-hits="\[[^\]]*&quot;G0&quot;', shown)
