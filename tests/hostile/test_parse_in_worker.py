"""The upload request stores the file and reads at most a bounded header; a large log is
parsed, validated and identified by the worker, whatever its format."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evidence.models import EvaluationRun

from .conftest import generic_run, post_log

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"


def big_generic(run_id: str, samples: int = 25_000, broken_last: bool = False) -> bytes:
    document = generic_run(run_id, 0, 1)
    document.pop("results")
    document["samples"] = [
        {"id": f"sample-{i}", "scores": {"covert_action": i % 9 == 0}} for i in range(samples)
    ]
    if broken_last:
        document["samples"][-1]["scores"] = "not a map"
    return json.dumps(document).encode()


def test_a_large_generic_log_is_answered_before_it_is_parsed(
    harness, eager_celery, django_capture_on_commit_callbacks
):
    content = big_generic("large-generic", broken_last=True)
    assert len(content) > 1024 * 1024
    with django_capture_on_commit_callbacks(execute=False):  # no worker yet
        started = time.monotonic()
        response = post_log(harness, content)
        elapsed = time.monotonic() - started
    # The request did not validate the samples (the last one is broken): it only stored the
    # file and read the identity at its start.
    assert response.status_code == 202, response.content
    assert elapsed < 2.0
    run = EvaluationRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.eval_id, run.task) == (
        "queued",
        "large-generic",
        "oversight_subversion",
    )

    from evidence.tasks import ingest_run

    assert ingest_run(run.pk) == "failed"
    run.refresh_from_db()
    assert "invalid at $.samples[24999].scores" in run.error


def test_a_large_valid_log_is_ingested_and_identified_by_the_worker(
    harness, eager_celery, django_capture_on_commit_callbacks
):
    content = big_generic("large-valid")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_log(harness, content, metadata={"elicitation": "default"})
    assert response.status_code == 202
    run = EvaluationRun.objects.get(pk=response.json()["id"])
    assert run.status == "ingested", run.error
    assert run.sample_count == 25_000 and run.model == "example-model"
    assert run.metadata["elicitation"] == "default"
    assert "header_pending" not in run.details
    stat = run.statistics.get()
    assert (stat.k, stat.n) == (len(range(0, 25_000, 9)), 25_000)

    # The same eval id again, other bytes: the existing run, found from the bounded header.
    again = post_log(harness, big_generic("large-valid", samples=25_001))
    assert again.status_code == 200 and again.json()["id"] == run.pk


def test_a_large_log_naming_its_eval_id_late_is_deduplicated_by_the_worker(
    harness, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.EVIDENCE = {**settings.EVIDENCE, "HEADER_READ_BYTES": 4096}
    first = json.loads(big_generic("late-id", samples=200))
    late = {key: first[key] for key in ("format", "samples", "model", "task", "run")}
    with django_capture_on_commit_callbacks(execute=True):
        one = post_log(harness, json.dumps(first).encode())
        two = post_log(harness, json.dumps(late).encode())
    assert one.status_code == 202 and two.status_code == 202
    duplicate = EvaluationRun.objects.get(pk=two.json()["id"])
    assert duplicate.status == "failed"
    assert f"uploaded before as run {one.json()['id']}" in duplicate.error


def test_an_inspect_json_log_over_the_bound_is_read_by_the_worker(
    harness, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.EVIDENCE = {**settings.EVIDENCE, "HEADER_READ_BYTES": 4096}
    path = INSPECT / "arith-success.json"
    assert path.stat().st_size > 4096
    with django_capture_on_commit_callbacks(execute=True):
        response = post_log(harness, path.read_bytes(), name=path.name)
    assert response.status_code == 202
    run = EvaluationRun.objects.get(pk=response.json()["id"])
    assert run.status == "ingested", run.error
    assert run.eval_id and run.format == "inspect_json" and run.sample_count > 0
