"""End to end through a real Celery worker on the configured broker (Redis in CI): a harness
posts a log, the worker ingests it, and the case that binds the task is re-assessed."""

from __future__ import annotations

import json
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from safetycase.celery import app
from safetycase.models import Assessment
from tests.safetycase.conftest import generic_run

pytestmark = [pytest.mark.requires_broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker(django_db_blocker):
    with django_db_blocker.unblock():
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            yield


def test_a_posted_failing_run_turns_the_case_red(
    bound_case, celery_worker, api_client_for, uploader
):
    document = generic_run("worker-fail", 9, 300)
    response = api_client_for(uploader).post(
        "/api/v1/runs/",
        {"file": SimpleUploadedFile("fail.json", json.dumps(document).encode())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    deadline = time.monotonic() + 60
    assessment = None
    while time.monotonic() < deadline:
        assessment = Assessment.objects.filter(case=bound_case, trigger="run_ingested").first()
        if assessment is not None:
            break
        time.sleep(0.1)
    assert assessment is not None, "the worker never re-assessed the case"
    assert assessment.trigger_detail == f"run {run_id} ingested"
    assert assessment.statuses["Sn1"] == "defeated"
    assert assessment.overall_status == "defeated"
    assert any(f["type"] == "criterion_failed" and f["run"] == run_id for f in assessment.flags)
