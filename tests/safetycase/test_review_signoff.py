"""Structured sign-off through the API and the sign-off page: verdicts, conditions pinned to
nodes, reasons, and approval refused while GSN rule errors or open challenges exist."""

from __future__ import annotations

import pytest
from django.test import Client

from safetycase import services
from safetycase.models import Condition, Version

pytestmark = pytest.mark.django_db


def sign_off(client, case, **body):
    return client.post(f"/api/v1/cases/{case.pk}/versions/", body, format="json")


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_approve_is_refused_while_a_challenge_is_open(case, reviewer, api_client_for):
    services.challenge_create(
        actor=reviewer, node=case.nodes.get(identifier="G2"), claim="Not elicited"
    )
    bob = api_client_for(reviewer)
    conditions = {"approve": [], "approve_with_conditions": [{"node": "G2", "text": "Elicit"}]}
    for verdict, pinned in conditions.items():
        response = sign_off(bob, case, verdict=verdict, conditions=pinned)
        assert response.status_code == 409, verdict
        assert "1 open challenge(s) on G2" in response.json()["detail"]
    # The page says so before anyone submits.
    page = page_client(reviewer).get(f"/cases/{case.pk}/versions/sign-off/").content.decode()
    assert "cannot be approved while it has open challenges" in page and "Not elicited" in page
    rejected = sign_off(bob, case, verdict="reject", reasons="Sabotage was not elicited")
    assert rejected.status_code == 201
    assert rejected.json()["open_items"]["open_challenges"][0]["node"] == "G2"
    assert Version.objects.get().verdict == "reject"


def test_approve_is_refused_while_the_argument_has_a_rule_error(case, reviewer, api_client_for):
    services.link_create_do(case=case, source="G2", target="G1", type="supported_by")  # a cycle
    response = sign_off(api_client_for(reviewer), case, verdict="approve")
    assert response.status_code == 409
    assert "GSN rule error(s)" in response.json()["detail"] and "R9" in response.json()["detail"]
    assert not Version.objects.exists()


def test_reject_needs_reasons_and_verdicts_are_checked(case, reviewer, api_client_for):
    bob = api_client_for(reviewer)
    no_reasons = sign_off(bob, case, verdict="reject")
    assert no_reasons.status_code == 400 and "needs the reasons" in no_reasons.json()["detail"]
    unknown = sign_off(bob, case, verdict="rubber-stamp")
    assert unknown.status_code == 400
    no_conditions = sign_off(bob, case, verdict="approve_with_conditions")
    assert no_conditions.status_code == 400
    assert "at least one condition" in no_conditions.json()["detail"]
    elsewhere = sign_off(
        bob,
        case,
        verdict="approve_with_conditions",
        conditions=[{"node": "NOPE", "text": "Fix it"}],
    )
    assert elsewhere.status_code == 400 and "NOPE" in elsewhere.json()["detail"]
    stray = sign_off(bob, case, verdict="approve", conditions=[{"node": "G2", "text": "x"}])
    assert stray.status_code == 400
    assert not Version.objects.exists()


def test_conditions_are_signed_shown_on_their_node_and_closed_by_a_reviewer(
    case, reviewer, author, api_client_for
):
    created = sign_off(
        api_client_for(reviewer),
        case,
        verdict="approve_with_conditions",
        conditions=[{"node": "G3", "text": "Develop G3 before external deployment"}],
        note="Conditional",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["verdict"] == "approve_with_conditions"
    assert [(c["node"], c["text"], c["state"]) for c in body["conditions"]] == [
        ("G3", "Develop G3 before external deployment", "open")
    ]
    node_page = page_client(author).get(f"/cases/{case.pk}/nodes/G3/").content.decode()
    assert "Develop G3 before external deployment" in node_page
    assert "Conditions of sign-off" in node_page
    # The next sign-off lists it as open; an author cannot close it, a reviewer can.
    condition = Condition.objects.get()
    close = f"/cases/{case.pk}/conditions/{condition.pk}/close/"
    assert page_client(author).post(close, {"note": "done"}).status_code == 403
    page = page_client(reviewer).get(f"/cases/{case.pk}/versions/sign-off/").content.decode()
    assert "Develop G3 before external deployment" in page
    assert page_client(reviewer).post(close, {"note": "G3 developed"}).status_code == 302
    condition.refresh_from_db()
    assert (condition.state, condition.closed_by) == ("closed", reviewer)


def test_the_page_signs_a_verdict_with_conditions(case, reviewer):
    client = page_client(reviewer)
    response = client.post(
        f"/cases/{case.pk}/versions/sign-off/",
        {
            "verdict": "approve_with_conditions",
            "condition_node": ["G2", "", ""],
            "condition_text": ["Re-run with fine-tuning", "", ""],
            "confirm": "yes",
        },
    )
    assert response.status_code == 302
    version = Version.objects.get()
    assert [(c.node_identifier, c.text) for c in version.conditions.all()] == [
        ("G2", "Re-run with fine-tuning")
    ]
    detail = client.get(f"/cases/{case.pk}/versions/1/").content.decode()
    assert "approve with conditions" in detail and "Re-run with fine-tuning" in detail
    # A refused verdict keeps the page and says why.
    again = client.post(
        f"/cases/{case.pk}/versions/sign-off/", {"verdict": "reject", "confirm": "yes"}
    )
    assert again.status_code == 200 and "needs the reasons" in again.content.decode()


def test_the_pdf_carries_the_verdict_conditions_hash_signature_and_key_id(case, reviewer):
    from tests.safetycase.test_export_pdf import pdf_text, squeeze

    version = services.version_sign_off(
        actor=reviewer,
        case=case,
        verdict="approve_with_conditions",
        conditions=[{"node": "G3", "text": "Develop G3 before external deployment"}],
    )
    text = squeeze(pdf_text(services.version_export_pdf(version=version).content))
    block = text[text.rindex("Signatures") :]
    assert squeeze("approve with conditions") in block
    assert squeeze("G3: Develop G3 before external deployment") in block
    assert version.content_hash in block and version.key_id in block
    assert version.server_signature[:32] in block
