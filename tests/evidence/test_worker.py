"""Ingestion through a real Celery worker on the configured broker (Redis in CI).

Runs only when CELERY_BROKER_URL is set; CI's second pass sets it, and there a missing Redis
fails these tests instead of skipping them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvaluationRun
from safetycase.celery import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

pytestmark = [pytest.mark.requires_broker, pytest.mark.django_db(transaction=True)]

FIXTURE_LOGS = [
    ("inspect/arith-success.eval", "ingested", "success"),
    ("inspect/arith-success.json", "ingested", "success"),
    ("inspect/arith-sample-errors.eval", "ingested", "success"),
    ("inspect/arith-error.eval", "ingested", "error"),
    ("inspect/arith-cancelled.eval", "ingested", "cancelled"),
]


@pytest.fixture(scope="module")
def celery_worker(django_db_blocker):
    # No result backend is configured (results are never read), so no ping round trip.
    with django_db_blocker.unblock():
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            yield


def wait_for(run_id: int, timeout: float = 60.0) -> EvaluationRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = EvaluationRun.objects.get(pk=run_id)
        if run.status in ("ingested", "failed"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout} s")


@pytest.mark.parametrize(("relative", "status", "log_status"), FIXTURE_LOGS)
def test_a_posted_log_is_ingested_by_the_worker(
    celery_worker, api_client_for, uploader, relative, status, log_status
):
    path = FIXTURES / relative
    response = api_client_for(uploader).post(
        "/api/v1/runs/",
        {"file": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run = wait_for(response.json()["id"])
    assert run.status == status, run.error
    assert run.log_status == log_status
    assert run.sample_count > 0
    assert run.samples.count() == run.sample_count


def test_a_broken_log_fails_in_the_worker_with_a_reason_and_no_rows_and_the_worker_goes_on(
    celery_worker, api_client_for, uploader
):
    """The header reads fine but a sample member is cut short: only the worker finds out."""
    import io
    import zipfile

    from evidence.parsers.base import Limits
    from evidence.parsers.inspect_eval import EvalArchive

    source = FIXTURES / "inspect" / "arith-success.eval"
    archive = EvalArchive(source, Limits())
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as original, open(source, "rb") as handle:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as broken:
            for info in original.infolist():
                data = archive.read(handle, info)  # zstd members: zipfile cannot inflate them
                if info.filename.startswith("samples/") and "_epoch_2" in info.filename:
                    data = data[: len(data) // 2]  # truncated JSON
                broken.writestr(info.filename, data)
    response = api_client_for(uploader).post(
        "/api/v1/runs/",
        {"file": SimpleUploadedFile("broken.eval", buffer.getvalue())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run = wait_for(response.json()["id"])
    assert run.status == "failed"
    assert run.error
    assert run.samples.count() == 0
    assert run.statistics.count() == 0

    # The worker keeps serving: the next (good) log is ingested by the same worker.
    good = FIXTURES / "inspect" / "arith-sample-errors.eval"
    after = api_client_for(uploader).post(
        "/api/v1/runs/",
        {"file": SimpleUploadedFile(good.name, good.read_bytes())},
        format="multipart",
    )
    assert after.status_code == 202, after.content
    assert wait_for(after.json()["id"]).status == "ingested"
