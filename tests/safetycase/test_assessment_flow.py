"""Assessment stored with its trigger and changes: new evidence, attestations, the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from safetycase import services
from safetycase.models import Assessment, Node
from tests.safetycase.conftest import generic_run

pytestmark = pytest.mark.django_db


def post_run(client, document, capture):
    upload = SimpleUploadedFile(f"{document['run']['id']}.json", json.dumps(document).encode())
    with capture(execute=True):
        response = client.post("/api/v1/runs/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_new_evidence_reassesses_the_cases_that_bind_it(
    bound_case, api_client_for, uploader, viewer, eager_celery, django_capture_on_commit_callbacks
):
    harness = api_client_for(uploader)
    passing = post_run(
        harness, generic_run("run-pass", 0, 400, days_ago=5), django_capture_on_commit_callbacks
    )
    latest = Assessment.objects.filter(case=bound_case).latest()
    assert latest.trigger == "run_ingested"
    assert latest.trigger_detail == f"run {passing} ingested"
    assert latest.statuses["Sn1"] == "supported"
    # A1 waits for a reviewer's attestation, so G1 is supported only at risk.
    assert latest.statuses["G1"] == "at_risk"

    failing = post_run(
        harness, generic_run("run-fail", 12, 400, days_ago=1), django_capture_on_commit_callbacks
    )
    latest = Assessment.objects.filter(case=bound_case).latest()
    assert latest.statuses["Sn1"] == "defeated"
    assert latest.statuses["G1"] == "defeated"
    failed = [f for f in latest.flags if f["type"] == "criterion_failed"]
    assert failed and failed[0]["run"] == failing and failed[0]["node"] == "Sn1"
    assert {"identifier": "Sn1", "before": "supported", "after": "defeated"} in latest.changes[
        "nodes"
    ]
    assert any(f["type"] == "criterion_failed" for f in latest.changes["flags_added"])

    body = api_client_for(viewer).get(f"/api/v1/cases/{bound_case.pk}/assessment/").json()
    assert body["overall_status"] == "defeated"
    assert {"identifier": "Sn1", "status": "defeated"}.items() <= next(
        n for n in body["nodes"] if n["identifier"] == "Sn1"
    ).items()


def test_a_run_of_another_model_does_not_count(
    bound_case, api_client_for, uploader, eager_celery, django_capture_on_commit_callbacks
):
    post_run(
        api_client_for(uploader),
        generic_run("other-model", 0, 400, model="another-model"),
        django_capture_on_commit_callbacks,
    )
    # The run selects no binding of this case (model differs), so nothing re-assessed it.
    assert not Assessment.objects.filter(case=bound_case, trigger="run_ingested").exists()
    assessment = services.case_assess(case=bound_case, trigger="manual")
    assert assessment.statuses["Sn1"] == "at_risk"
    assert {f["type"] for f in assessment.flags if f["node"] == "Sn1"} >= {"missing_evidence"}


def test_a_reviewer_attests_an_assumption_and_the_case_is_reassessed(
    bound_case, api_client_for, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    services.case_assess(case=bound_case, trigger="manual")
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(reviewer).post(
            f"/api/v1/cases/{bound_case.pk}/attestations/",
            {
                "node": "A1",
                "statement": "Elicitation followed the lab's protocol",
                "expires_at": expires,
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    latest = Assessment.objects.filter(case=bound_case).latest()
    assert latest.trigger == "attestation"
    assert latest.statuses["A1"] == "supported"
    assert not [f for f in latest.flags if f["node"] == "A1"]


def test_an_expired_attestation_is_flagged(bound_case, reviewer):
    services.attestation_create(
        actor=reviewer,
        node=Node.objects.get(case=bound_case, identifier="A1"),
        statement="Checked",
        expires_at=timezone.now() + timedelta(days=1),
    )
    later = timezone.now() + timedelta(days=2)
    assessment = services.case_assess(case=bound_case, trigger="scheduled", now=later)
    assert "attestation_expired" in {f["type"] for f in assessment.flags if f["node"] == "A1"}


@pytest.mark.parametrize("persona", ["author", "viewer"])
def test_only_reviewers_attest(bound_case, api_client_for, request, persona):
    response = api_client_for(request.getfixturevalue(persona)).post(
        f"/api/v1/cases/{bound_case.pk}/attestations/",
        {"node": "A1", "statement": "Fine"},
        format="json",
    )
    assert response.status_code == 403


def test_assessment_endpoints_are_404_for_outsiders(bound_case, api_client_for, outsider):
    client = api_client_for(outsider)
    for suffix in ("assessment/", "assessments/", "flags/", "attestations/", "bindings/"):
        assert client.get(f"/api/v1/cases/{bound_case.pk}/{suffix}").status_code == 404, suffix


def test_flags_can_be_filtered(bound_case, api_client_for, viewer):
    services.case_assess(case=bound_case, trigger="manual")
    client = api_client_for(viewer)
    everything = client.get(f"/api/v1/cases/{bound_case.pk}/flags/").json()
    assert {f["type"] for f in everything} >= {"missing_evidence", "assumption_unverified"}
    only = client.get(f"/api/v1/cases/{bound_case.pk}/flags/", {"type": "missing_evidence"}).json()
    assert only and {f["type"] for f in only} == {"missing_evidence"}
    warnings = client.get(f"/api/v1/cases/{bound_case.pk}/flags/", {"severity": "warning"}).json()
    assert all(f["severity"] == "warning" for f in warnings)


def test_history_lists_assessments_with_their_changes(bound_case, api_client_for, viewer):
    services.case_assess(case=bound_case, trigger="manual")
    services.case_assess(case=bound_case, trigger="scheduled")
    history = api_client_for(viewer).get(f"/api/v1/cases/{bound_case.pk}/assessments/").json()
    assert [a["trigger"] for a in history["results"]] == ["scheduled", "manual"]
    assert history["results"][0]["changes"] == {"nodes": [], "flags_added": [], "flags_cleared": []}
    assert history["results"][1]["changes"]["nodes"]  # the first assessment sets every status


def test_authors_edit_bindings_with_validation(bound_case, api_client_for, author, reviewer):
    client = api_client_for(author)
    url = f"/api/v1/cases/{bound_case.pk}/bindings/"
    response = client.post(
        url, {"node": "Sn1", "expression": "cp_uper(k, n) < 0.01"}, format="json"
    )
    assert response.status_code == 400
    assert "cp_uper" in response.json()["detail"]
    response = client.post(
        url,
        {"node": "Sn1", "expression": "rate < 0.05", "selector": {"task": "sandbagging"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    binding_id = response.json()["id"]
    response = client.patch(f"{url}{binding_id}/", {"freshness_days": 30}, format="json")
    assert response.status_code == 200 and response.json()["freshness_days"] == 30
    assert api_client_for(reviewer).delete(f"{url}{binding_id}/").status_code == 403
    assert client.delete(f"{url}{binding_id}/").status_code == 204


def test_editing_the_argument_reassesses_the_case(
    bound_case, api_client_for, author, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(author).patch(
            f"/api/v1/cases/{bound_case.pk}/nodes/G1/", {"undeveloped": True}, format="json"
        )
    assert response.status_code == 200
    latest = Assessment.objects.filter(case=bound_case).latest()
    assert latest.trigger == "case_edited"
    assert latest.trigger_detail == "node edited by alice"


def test_a_warm_reassessment_equals_a_cold_one(
    bound_case, api_client_for, uploader, author, eager_celery, django_capture_on_commit_callbacks
):
    """The per-process memo loads only new runs and reloads after edits; its results must
    equal an assessment that starts from nothing."""

    def cold():
        services.forget_assessment_memos()
        return services.case_assess(case=bound_case, trigger="manual")

    services.case_assess(case=bound_case, trigger="manual")  # warm the memo
    post_run(
        api_client_for(uploader),
        generic_run("warm-1", 0, 400, days_ago=2),
        django_capture_on_commit_callbacks,
    )
    warm = Assessment.objects.filter(case=bound_case).latest()
    assert warm.statuses["Sn1"] == "supported"
    assert (warm.statuses, warm.flags) == (cold().statuses, cold().flags)

    services.case_assess(case=bound_case, trigger="manual")  # warm again, then edit
    node = Node.objects.get(case=bound_case, identifier="G1")
    services.node_update(actor=author, node=node, undeveloped=True)
    warm = services.case_assess(case=bound_case, trigger="case_edited")
    assert warm.statuses["G1"] == "undeveloped"
    assert (warm.statuses, warm.flags) == (cold().statuses, cold().flags)


def test_the_daily_job_reassesses_every_case(bound_case, case, eager_celery):
    from safetycase.tasks import assess_all_cases

    assert assess_all_cases() == 2
    for each in (bound_case, case):
        latest = Assessment.objects.filter(case=each).latest()
        assert (latest.trigger, latest.trigger_detail) == ("scheduled", "daily re-assessment")


def test_a_selector_may_name_several_tasks(bound_case, author):
    from evidence.models import EvaluationRun
    from safetycase.models import EvidenceBinding

    binding = EvidenceBinding.objects.get(case=bound_case)
    binding.selector = {"task": ["oversight_subversion", "self_exfiltration"], "scorer": "x"}
    binding.save()
    from safetycase import selectors

    assert selectors.bound_tasks([binding]) == {"oversight_subversion", "self_exfiltration"}
    from evidence.models import LogFile

    project = bound_case.project
    log_file = LogFile.objects.create(
        project=project, name="x.json", size=1, sha256="1" * 64, file="logs/x.json"
    )
    run = EvaluationRun.objects.create(
        project=project,
        log_file=log_file,
        task="self_exfiltration",
        model="example-model",
        model_version="2026-11",
    )
    assert selectors.cases_bound_to_run(run=run) == [bound_case.pk]
