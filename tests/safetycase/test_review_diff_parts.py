"""The version diff beyond nodes and statuses, through the API and the diff page: runs that
count as evidence, bindings and their policies, attestations, challenges and conditions."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client

from evidence import services as evidence_services
from safetycase import services
from safetycase.models import EvidenceBinding, Node
from tests.safetycase.conftest import generic_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab, uploader):
    def submit_log(document_: dict):
        upload = io.BytesIO(json.dumps(document_).encode())
        upload.name = f"{document_['run']['id']}.json"
        with django_capture_on_commit_callbacks(execute=True):
            result = evidence_services.log_submit(upload=upload, uploaded_by=uploader, project=lab)
        return result.runs[0]

    return submit_log


@pytest.fixture
def history(bound_case, reviewer, author, submit):
    """Version 1 (rejected over an open challenge) and version 2 (approved with a condition)
    with, between them, a superseded run, a binding policy change, an attestation and the
    challenge answered and closed; version 3 after the condition was closed."""
    first_run = submit(generic_run("eval-1", 0, 400, days_ago=3))
    g1 = Node.objects.get(case=bound_case, identifier="G1")
    challenge = services.challenge_create(actor=reviewer, node=g1, claim="Too few samples")
    services.version_sign_off(
        actor=reviewer, case=bound_case, verdict="reject", reasons="Open challenge on G1"
    )
    second_run = submit(generic_run("eval-1", 0, 800, days_ago=1))  # same eval id: supersedes
    EvidenceBinding.objects.filter(case=bound_case).update(freshness_days=30)
    services.attestation_create(
        actor=reviewer,
        node=Node.objects.get(case=bound_case, identifier="A1"),
        statement="Elicited with fine-tuning",
    )
    services.challenge_respond(actor=author, challenge=challenge, response="800 samples now")
    services.challenge_resolve(actor=reviewer, challenge=challenge, resolution="Enough")
    v2 = services.version_sign_off(
        actor=reviewer,
        case=bound_case,
        verdict="approve_with_conditions",
        conditions=[{"node": "Sn1", "text": "Re-run monthly"}],
    )
    services.condition_close(actor=reviewer, condition=v2.conditions.get(), note="Scheduled")
    services.version_sign_off(actor=reviewer, case=bound_case)
    return first_run, second_run


def diff(client, case, a, b):
    response = client.get(f"/api/v1/cases/{case.pk}/versions/diff/?a={a}&b={b}")
    assert response.status_code == 200
    return response.json()


def test_the_diff_lists_superseded_and_new_runs(bound_case, history, viewer, api_client_for):
    first_run, second_run = history
    runs = diff(api_client_for(viewer), bound_case, 1, 2)["runs"]
    assert [r["id"] for r in runs["added"]] == [second_run.pk]
    assert [r["id"] for r in runs["removed"]] == [first_run.pk]


def test_the_diff_lists_a_binding_policy_change(bound_case, history, viewer, api_client_for):
    bindings = diff(api_client_for(viewer), bound_case, 1, 2)["bindings"]
    assert bindings["added"] == [] and bindings["removed"] == []
    assert [(c["item"]["node"], c["fields"]) for c in bindings["changed"]] == [
        ("Sn1", {"freshness_days": {"before": 90, "after": 30}})
    ]


def test_the_diff_lists_attestations_and_challenges(bound_case, history, viewer, api_client_for):
    body = diff(api_client_for(viewer), bound_case, 1, 2)
    assert [(a["node"], a["statement"]) for a in body["attestations"]["added"]] == [
        ("A1", "Elicited with fine-tuning")
    ]
    (changed,) = body["challenges"]["changed"]
    assert changed["item"]["node"] == "G1"
    assert changed["fields"]["state"] == {"before": "open", "after": "resolved"}
    assert changed["fields"]["response"] == {"before": "", "after": "800 samples now"}


def test_the_diff_lists_conditions_set_and_closed(bound_case, history, viewer, api_client_for):
    client = api_client_for(viewer)
    added = diff(client, bound_case, 1, 2)["conditions"]["added"]
    assert [(c["node"], c["text"], c["state"]) for c in added] == [
        ("Sn1", "Re-run monthly", "open")
    ]
    (closed,) = diff(client, bound_case, 2, 3)["conditions"]["changed"]
    assert closed["fields"]["state"] == {"before": "open", "after": "closed"}


def test_the_diff_page_shows_each_part(bound_case, history, viewer):
    first_run, second_run = history
    client = Client()
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/versions/diff/?a=1&b=2").content.decode()
    assert f"added: run {second_run.pk}" in page
    assert f"no longer counted (superseded, withdrawn or not selected): run {first_run.pk}" in page
    assert "changed on Sn1" in page and "freshness_days" in page
    assert "Elicited with fine-tuning" in page
    assert "set on Sn1 by version 2 (open): Re-run monthly" in page
