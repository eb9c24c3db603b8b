"""A worker killed with SIGKILL in the middle of parsing a log: the job is redelivered to
another worker and the run is ingested exactly once (real worker processes on Redis)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from evidence import services
from evidence.models import EvaluationRun, SampleResult

pytestmark = [
    pytest.mark.requires_broker,
    pytest.mark.requires_postgres,  # the worker processes must share the test database
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = 4000


def generic_log_with_samples() -> io.BytesIO:
    document = {
        "format": "safetycase.generic/1",
        "run": {"id": "killed-worker-run", "harness": "custom", "status": "success"},
        "model": {"name": "example-model"},
        "task": {"name": "long_task"},
        "samples": [
            {"id": f"s{i}", "epoch": 1, "scores": {"correct": i % 7 == 0}} for i in range(SAMPLES)
        ],
    }
    upload = io.BytesIO(json.dumps(document).encode())
    upload.name = "long.json"
    return upload


def start_worker() -> subprocess.Popen:
    from django.conf import settings

    db = connection.settings_dict
    env = {
        **os.environ,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # where the upload was stored
        "DJANGO_SETTINGS_MODULE": "safetycase.settings_test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        # Small batches make parsing slow enough to be caught in the middle.
        "EVIDENCE_SAMPLE_BATCH_SIZE": "20",
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "safetycase",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_s_job_is_redelivered_and_ingested_once(
    django_capture_on_commit_callbacks, lab
):
    from safetycase.celery import app

    assert not app.conf.task_always_eager
    with django_capture_on_commit_callbacks(execute=True):
        result = services.log_submit(upload=generic_log_with_samples(), project=lab)
    run_id = result.runs[0].pk

    first = start_worker()
    try:
        wait_until(
            lambda: EvaluationRun.objects.filter(
                pk=run_id, status="parsing", progress__gte=200
            ).exists(),
            60,
            "the first worker to be in the middle of parsing",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    run = EvaluationRun.objects.get(pk=run_id)
    assert run.status == "parsing" and run.progress < SAMPLES  # killed mid-way

    second = start_worker()
    try:
        run = wait_until(
            lambda: EvaluationRun.objects.filter(pk=run_id, status="ingested").first(),
            90,
            "the redelivered job to be ingested by the second worker",
        )
    finally:
        second.terminate()
        second.wait(timeout=20)
    assert run.sample_count == SAMPLES
    assert SampleResult.objects.filter(run_id=run_id).count() == SAMPLES  # exactly once
    stat = run.statistics.get(name="correct")
    assert (stat.k, stat.n) == (len(range(0, SAMPLES, 7)), SAMPLES)
