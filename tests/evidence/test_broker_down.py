"""Redis unavailable while a log is posted: the upload is still accepted and stored, the run
stays queued, and the sweeper enqueues it once the broker is back. No log is lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from kombu.exceptions import OperationalError

from evidence import services
from evidence.models import EvaluationRun, LogFile
from evidence.tasks import ingest_run
from safetycase.celery import app

pytestmark = pytest.mark.django_db

LOG = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "arith-success.json"


def refuse(*args, **kwargs):
    """What publishing does when Redis is unreachable (kombu raises OperationalError)."""
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_an_upload_is_kept_queued_when_the_broker_is_down_and_swept_later(
    api_client_for, uploader, django_capture_on_commit_callbacks, eager_celery, caplog, monkeypatch
):
    app.conf.task_always_eager = False
    with monkeypatch.context() as broker_down:
        broker_down.setattr(ingest_run, "delay", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client_for(uploader).post(
                "/api/v1/runs/",
                {"file": SimpleUploadedFile(LOG.name, LOG.read_bytes())},
                format="multipart",
            )
    assert response.status_code == 202, response.content
    # The job could not be published; the failure was logged, not raised at the harness.
    assert any("on_commit" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    run = EvaluationRun.objects.get()
    assert run.status == "queued"
    assert LogFile.objects.get().file.size == LOG.stat().st_size

    # The broker is back (in-process here); the sweeper picks up runs queued for a while.
    app.conf.task_always_eager = True
    EvaluationRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.runs_requeue() == [run.pk]
    run.refresh_from_db()
    assert run.status == "ingested"
    assert services.runs_requeue() == []
