"""Attestations from the node panel: statement, evidence reference and an expiry that defaults
to the project's setting; attestations about to expire are flagged 14 days ahead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from safetycase import services
from safetycase.models import Attestation, Node

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_attestation_without_a_date_expires_after_the_projects_days(
    bound_case, reviewer, api_client_for
):
    project = bound_case.project
    project.attestation_expiry_days = 30
    project.save()
    created = api_client_for(reviewer).post(
        f"/api/v1/cases/{bound_case.pk}/attestations/",
        {"node": "A1", "statement": "Elicited", "evidence_reference": "report ES-2"},
        format="json",
    )
    assert created.status_code == 201
    attestation = Attestation.objects.get()
    left = attestation.expires_at - timezone.now()
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    assert created.json()["evidence_reference"] == "report ES-2"


def test_a_reviewer_attests_from_the_node_panel(bound_case, reviewer, author):
    page = f"/cases/{bound_case.pk}/nodes/A1/"
    html = page_client(reviewer).get(page).content.decode()
    default = (timezone.now() + timedelta(days=180)).date().isoformat()
    assert f'name="expires_on" value="{default}"' in html
    assert f'action="/cases/{bound_case.pk}/nodes/A1/attestations/"' in html
    # Authors see the attestations but get no form; their post is refused.
    assert "/nodes/A1/attestations/" not in page_client(author).get(page).content.decode()
    refused = page_client(author).post(f"{page}attestations/", {"statement": "x"})
    assert refused.status_code == 403
    day = (timezone.now() + timedelta(days=10)).date().isoformat()
    response = page_client(reviewer).post(
        f"{page}attestations/",
        {"statement": "Fine-tuned elicitation", "evidence_reference": "ES-2", "expires_on": day},
    )
    assert response.status_code == 302
    attestation = Attestation.objects.get()
    assert attestation.expires_at.date().isoformat() == day
    html = page_client(author).get(page).content.decode()
    assert "Fine-tuned elicitation" in html and f"expires soon: {day}" in html


def test_a_bad_or_past_date_is_refused_with_a_sentence(bound_case, reviewer):
    page = f"/cases/{bound_case.pk}/nodes/A1/"
    for value, sentence in [("next week", "is not a date"), ("2020-01-01", "in the future")]:
        response = page_client(reviewer).post(
            f"{page}attestations/", {"statement": "x", "expires_on": value}, follow=True
        )
        assert sentence in response.content.decode(), value
    assert not Attestation.objects.exists()


def test_an_attestation_about_to_expire_is_flagged_14_days_ahead(bound_case, reviewer):
    a1 = Node.objects.get(case=bound_case, identifier="A1")
    services.attestation_create(
        actor=reviewer,
        node=a1,
        statement="Elicited",
        expires_at=timezone.now() + timedelta(days=20),
    )
    assessment = services.case_assess(case=bound_case, trigger="manual")
    assert "attestation_expiring" not in {f["type"] for f in assessment.flags}
    # A week later (13 days left) the same, incrementally re-assessed case flags it.
    later = timezone.now() + timedelta(days=7)
    assessment = services.case_assess(case=bound_case, trigger="manual", now=later)
    expiring = [f for f in assessment.flags if f["type"] == "attestation_expiring"]
    assert [(f["node"], f["severity"]) for f in expiring] == [("A1", "warning")]
    assert assessment.statuses["A1"] == "supported"  # still holds until it expires
    gone = services.case_assess(case=bound_case, trigger="manual", now=later + timedelta(days=14))
    types = {f["type"] for f in gone.flags}
    assert "attestation_expired" in types and "attestation_expiring" not in types
