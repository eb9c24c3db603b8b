"""lm-eval results and samples through a real Celery worker on the configured broker (Redis in
CI): posted together or in either order, twenty times, the samples always end attached to the
results of their own run, never to an older run whose samples file has the same bytes (a
deterministic re-run writes the same samples).

Runs only when CELERY_BROKER_URL is set. Two worker threads, so that a results run can be
parsing while its samples arrive.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvaluationRun
from safetycase.celery import app

LM_EVAL = Path(__file__).resolve().parent.parent / "fixtures" / "lm-eval"
RESULTS = LM_EVAL / "results_2026-11-24T11-15-47.729466.json"
SAMPLES = LM_EVAL / "samples_arith_mc_2026-11-24T11-15-47.729466.jsonl"
MC_SAMPLES = 40  # the fixture's multiple-choice documents

pytestmark = [pytest.mark.requires_broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def celery_worker(django_db_blocker):
    with django_db_blocker.unblock():
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
            yield


def rerun_results(number: int) -> bytes:
    """The results file of the `number`th re-run: another date, hence another run."""
    document = json.loads(RESULTS.read_text())
    document["date"] = float(document["date"]) + number
    return json.dumps(document).encode()


def post(client, *files: tuple[str, bytes]):
    response = client.post(
        "/api/v1/runs/",
        {"file": [SimpleUploadedFile(name, content) for name, content in files]},
        format="multipart",
    )
    assert response.status_code in (200, 202), response.content
    return response.json()


def wait_until_settled(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while EvaluationRun.objects.filter(status__in=["queued", "parsing"]).exists():
        if time.monotonic() > deadline:
            raise AssertionError("runs still queued or parsing after 60 s")
        time.sleep(0.05)


@pytest.mark.parametrize("order", ["together", "samples first", "results first"])
def test_samples_always_end_attached_to_their_own_run(
    celery_worker, api_client_for, uploader, order
):
    client = api_client_for(uploader)
    samples = (SAMPLES.name, SAMPLES.read_bytes())
    for number in range(20):
        results = (RESULTS.name, rerun_results(number))
        if order == "together":
            post(client, samples, results)  # samples first in the request, on purpose
        elif order == "samples first":
            post(client, samples)
            post(client, results)
        else:
            post(client, results)
            post(client, samples)  # while the results may still be parsing
        wait_until_settled()
        runs = list(EvaluationRun.objects.filter(task="arith_mc").order_by("id"))
        assert len(runs) == number + 1
        newest = runs[-1]
        assert newest.status == "ingested", newest.error
        assert newest.samples_file is not None, f"try {number}: no samples attached"
        assert newest.sample_count == MC_SAMPLES, f"try {number}: {newest.sample_count} samples"
        # Every earlier run keeps its own samples; none was re-attached or re-parsed away.
        assert [r.sample_count for r in runs] == [MC_SAMPLES] * len(runs)
        assert all(r.superseded_at is None for r in runs)
