"""An open challenge puts its node at risk on the case page and counts in the header."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from safetycase import services
from safetycase.models import Node

pytestmark = pytest.mark.django_db


def header(html: str) -> dict[str, str]:
    block = html[html.index('<dl class="summary">') : html.index("</dl>")]
    return {
        dt: re.sub(r"<[^>]+>|[✓✗!]", "", dd).strip()
        for dt, dd in re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", block, re.S)
    }


def warnings(counts: dict[str, str]) -> int:
    found = re.search(r"(\d+) warning", counts["Flags"])
    return int(found.group(1)) if found else 0


def test_a_challenge_on_a_supported_node_counts_it_at_risk(bound_case, reviewer, viewer):
    services.case_assess(case=bound_case, trigger="manual")
    a1 = Node.objects.get(case=bound_case, identifier="A1")
    services.attestation_create(actor=reviewer, node=a1, statement="Elicited")
    services.case_assess(case=bound_case, trigger="manual")
    client = Client()
    client.force_login(viewer)
    before = header(client.get(f"/cases/{bound_case.pk}/").content.decode())
    assert before["Open challenges"] == "0"
    services.challenge_create(actor=reviewer, node=a1, claim="Elicitation skipped fine-tuning")
    page = client.get(f"/cases/{bound_case.pk}/").content.decode()
    after = header(page)
    assert after["Open challenges"] == "1"
    assert int(after["At risk"]) == int(before["At risk"]) + 1
    assert int(after["Supported"]) == int(before["Supported"]) - 1
    assert warnings(after) == warnings(before) + 1
    panel = client.get(f"/cases/{bound_case.pk}/?node=A1").content.decode()
    assert "A1 is at risk: 1 open challenge(s) dispute it" in panel
    assert "Elicitation skipped fine-tuning" in panel
