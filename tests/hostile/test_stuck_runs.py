"""No run stays `queued` or `parsing`: bad counts fail in the worker with a sentence, a run
whose worker was killed is recovered by the sweeper, and a run past the task's soft time limit
fails with the reason (real worker processes on Redis and PostgreSQL)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from evidence import services
from evidence.models import EvaluationRun, SampleResult

from .conftest import generic_run

pytestmark = [
    pytest.mark.requires_broker,
    pytest.mark.requires_postgres,  # the worker processes share the test database
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = 3000


def upload(document: dict, name: str = "run.json"):
    content = io.BytesIO(json.dumps(document).encode())
    content.name = name
    from evidence.models import Project

    project = Project.objects.get_or_create(name="lab")[0]
    return services.log_submit(upload=content, project=project).runs[0].pk


def long_log(run_id: str) -> dict:
    document = generic_run(run_id, 0, 1)
    document.pop("results")
    document["samples"] = [
        {"id": f"s{i}", "scores": {"covert_action": i % 5 == 0}} for i in range(SAMPLES)
    ]
    return document


def start_worker(pool: str = "solo", **environment: str) -> subprocess.Popen:
    from django.conf import settings

    db = connection.settings_dict
    env = {
        **os.environ,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_SETTINGS_MODULE": "safetycase.settings_test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        **environment,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "safetycase", "worker", f"--pool={pool}"]
        + [
            "--concurrency=1",
            "--loglevel=" + os.environ.get("TEST_WORKER_LOGLEVEL", "WARNING"),
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finished(run_id: int):
    return EvaluationRun.objects.filter(pk=run_id, status__in=["ingested", "failed"]).first()


def test_bad_counts_fail_in_the_worker_and_it_goes_on(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        bad = upload(generic_run("huge-trials", 1, 10**19))
        fits = upload(generic_run("big-trials", 1, 10**10))
        good = upload(generic_run("ordinary", 1, 10))
    worker = start_worker()
    try:
        runs = [wait_until(lambda r=r: finished(r), 60, f"run {r}") for r in (bad, fits, good)]
    finally:
        stop(worker)
    assert runs[0].status == "failed" and "< 2^63" in runs[0].error
    assert runs[1].status == "ingested" and runs[1].statistics.get().n == 10**10
    assert runs[2].status == "ingested"


def test_the_sweeper_recovers_a_run_whose_worker_was_killed(
    settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_id = upload(long_log("killed-mid-parse"))
    first = start_worker(EVIDENCE_SAMPLE_BATCH_SIZE="10")
    try:
        wait_until(
            lambda: EvaluationRun.objects.filter(
                pk=run_id, status="parsing", progress__gte=100
            ).exists(),
            60,
            "the worker to be in the middle of parsing",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    run = EvaluationRun.objects.get(pk=run_id)
    assert run.status == "parsing" and run.heartbeat_at is not None and run.attempts == 1

    # Nothing happens while the heartbeat is fresh: the worker might only be slow.
    settings.EVIDENCE = {**settings.EVIDENCE, "STALE_PARSING_SECONDS": 60}
    assert services.runs_requeue() == []
    # Once it is stale (the broker's own redelivery waits an hour), the sweeper sends it again.
    EvaluationRun.objects.filter(pk=run_id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    second = start_worker()
    try:
        assert services.runs_requeue() == [run_id]
        run = wait_until(lambda: finished(run_id), 90, "the recovered run to be ingested")
    finally:
        stop(second)
    assert run.status == "ingested", run.error
    assert SampleResult.objects.filter(run_id=run_id).count() == SAMPLES  # exactly once
    assert run.attempts == 2


def test_after_too_many_attempts_the_sweeper_fails_the_run_with_a_sentence(
    settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run_id = upload(generic_run("never-finishes", 1, 10))
    settings.EVIDENCE = {**settings.EVIDENCE, "MAX_INGEST_ATTEMPTS": 3}
    EvaluationRun.objects.filter(pk=run_id).update(
        status="parsing", attempts=3, heartbeat_at=timezone.now() - timedelta(hours=2)
    )
    assert services.runs_requeue() == []
    run = EvaluationRun.objects.get(pk=run_id)
    assert run.status == "failed" and "attempted 3 times" in run.error


def test_a_run_past_the_soft_time_limit_fails_with_the_reason_and_frees_the_worker(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        slow = upload(long_log("too-slow"))
        after = upload(generic_run("after-the-slow-one", 1, 10))
    # The prefork pool, as in production; one sample per batch makes parsing slow.
    worker = start_worker(
        pool="prefork",
        EVIDENCE_SAMPLE_BATCH_SIZE="1",
        TASK_SOFT_TIME_LIMIT="2",
        TASK_TIME_LIMIT="10",
    )
    try:
        run = wait_until(lambda: finished(slow), 60, "the slow run to stop")
        next_run = wait_until(lambda: finished(after), 60, "the next run")
    finally:
        stop(worker)
    assert run.status == "failed" and "time limit of 2 seconds" in run.error
    assert SampleResult.objects.filter(run_id=slow).count() == 0
    assert next_run.status == "ingested"
