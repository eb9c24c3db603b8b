"""Redis unavailable while a log is posted: the upload is still accepted and stored, the run
stays queued, and the sweeper enqueues it once the broker is back. No log is lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from evidence import services
from evidence.models import EvaluationRun, LogFile
from safetycase.celery import app

pytestmark = pytest.mark.django_db

LOG = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "arith-success.json"


def _reset_connections() -> None:
    # Celery caches broker connections and producers; drop our references (without closing
    # kombu's shared pools) so the URL change applies.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    previous = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    _reset_connections()
    yield
    app.conf.task_always_eager, app.conf.broker_url = previous
    _reset_connections()


def test_an_upload_is_kept_queued_when_the_broker_is_down_and_swept_later(
    broker_down, api_client_for, uploader, django_capture_on_commit_callbacks, eager_celery, caplog
):
    app.conf.task_always_eager = False  # eager_celery turned it on; the broker is down now
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(uploader).post(
            "/api/v1/runs/",
            {"file": SimpleUploadedFile(LOG.name, LOG.read_bytes())},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    # The job could not be published: the broker refused the connection.
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
