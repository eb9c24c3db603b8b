"""Ten simultaneous uploads with one eval id and different bytes: one run, no 5xx, no files
left over (PostgreSQL, where the unique constraint decides the race)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from evidence.models import EvaluationRun, LogFile

from .conftest import generic_run, post_log

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_uploads_of_one_eval_id_return_the_winner_s_run(
    api_client_for, uploader, django_capture_on_commit_callbacks
):
    from safetycase.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False  # only the race is under test, not ingestion
    clients = [api_client_for(uploader) for _ in range(10)]
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def upload(index: int) -> None:
        document = generic_run("raced-eval-id", index, 100)  # different bytes each time
        content = json.dumps(document).encode()
        try:
            barrier.wait()
            answers[index] = post_log(clients[index], content)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(clients))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        app.conf.task_always_eager = previous
    statuses = sorted(answer.status_code for answer in answers)
    assert all(code < 500 for code in statuses), [a.content for a in answers]
    # Different bytes with one eval id: each upload that gets in supersedes the one before it
    # (a re-scored log); one run stays current, and every answer names a run of that eval id.
    runs = EvaluationRun.objects.filter(eval_id="raced-eval-id")
    current = runs.filter(superseded_at__isnull=True)
    assert current.count() == 1
    assert {a.json()["id"] for a in answers if a.status_code in (200, 202)} <= set(
        runs.values_list("pk", flat=True)
    )
    # Every stored file has its row: the losers of a race left none behind.
    root = Path(settings.MEDIA_ROOT) / "logs"
    files = sorted(p.name for p in root.rglob("*") if p.is_file())
    assert files == sorted(Path(f.file.name).name for f in LogFile.objects.all())
