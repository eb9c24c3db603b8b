"""Hostile uploads through the real API: nothing answers 500, nothing is left behind, and a log
that would hold a worker or flood the run list is refused with a sentence."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from evidence.models import EvaluationRun, LogFile, RunStatistic

from .conftest import generic_run, post_log

pytestmark = pytest.mark.django_db


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "logs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def generic(run_id: str, **extra) -> bytes:
    document = generic_run(run_id, 1, 10)
    document.update(extra)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("metadata", "phrase"),
    [
        ("[" * 5000 + "]" * 5000, "nests deeper"),
        ('{"a": ' * 5000 + "1" + "}" * 5000, "nests deeper"),
        ('{"note": "a\\u0000b"}', "NUL character"),
        (json.dumps({"blob": "x" * 70000}), "longer than"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_metadata_is_refused_with_a_sentence_and_leaves_nothing(harness, metadata, phrase):
    response = post_log(harness, generic("bad-metadata"), metadata=metadata)
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert phrase in detail
    assert "psycopg" not in detail and "Traceback" not in detail
    assert not LogFile.objects.exists() and not EvaluationRun.objects.exists()
    assert stored_files() == []


def ingest(harness, content: bytes, capture, name="run.json"):
    with capture(execute=True):
        response = post_log(harness, content, name=name)
    assert response.status_code == 202, response.content
    return EvaluationRun.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize(
    ("results", "phrase"),
    [
        ([{"scorer": "covert_action", "successes": 1, "trials": 1e19}], "2^63"),
        ([{"scorer": "covert_action", "successes": 1, "trials": 2**63}], "2^63"),
        (
            [{"scorer": "covert_action", "successes": -1, "trials": 10}],
            "less than the minimum of 0",
        ),
        ([{"scorer": "covert_action", "successes": 1, "trials": 2.5}], "is not of type 'integer'"),
    ],
)
def test_counts_out_of_range_fail_the_run_with_a_sentence(
    harness, eager_celery, django_capture_on_commit_callbacks, results, phrase
):
    content = generic("bad-counts", results=results)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_log(harness, content)
    assert response.status_code in (202, 422), response.content
    run = EvaluationRun.objects.get(pk=response.json()["id"])
    run.refresh_from_db()
    assert run.status == "failed"
    assert phrase in run.error  # a sentence, never a stuck `parsing`
    assert not RunStatistic.objects.filter(run=run).exists()


def test_a_trials_count_of_1e10_that_fits_is_stored_whole(
    harness, eager_celery, django_capture_on_commit_callbacks
):
    content = json.dumps(generic_run("big-counts", 3, 10**10)).encode()
    run = ingest(harness, content, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert run.status == "ingested", run.error
    stat = run.statistics.get()
    assert (stat.k, stat.n) == (3, 10**10)


def test_long_sample_ids_are_refused_never_cut_into_collisions(
    harness, eager_celery, django_capture_on_commit_callbacks
):
    prefix = "s" * 300
    samples = [
        {"id": prefix + "-a", "scores": {"covert_action": True}},
        {"id": prefix + "-b", "scores": {"covert_action": False}},
    ]
    content = generic("long-ids", samples=samples, results=None)
    document = json.loads(content)
    document.pop("results")
    run = ingest(harness, json.dumps(document).encode(), django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "302 characters long" in run.error and "at most 300" in run.error
    assert run.samples.count() == 0


def test_a_log_with_20000_score_names_is_refused_and_the_run_list_stays_small(
    harness, eager_celery, django_capture_on_commit_callbacks
):
    scores = {f"score_{index}": index % 2 == 0 for index in range(20_000)}
    document = generic_run("score-names", 0, 1)
    document.pop("results")
    document["samples"] = [{"id": "only", "scores": scores}]
    started = time.monotonic()
    run = ingest(harness, json.dumps(document).encode(), django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 30
    run.refresh_from_db()
    assert run.status == "failed"
    assert "more than 1,000 distinct score names" in run.error
    assert not RunStatistic.objects.filter(run=run).exists()
    for index in range(5):  # and a few ordinary runs beside it
        ingest(harness, generic(f"ordinary-{index}"), django_capture_on_commit_callbacks)

    started = time.monotonic()
    listing = harness.get("/api/v1/runs/?limit=100")
    elapsed = time.monotonic() - started
    assert listing.status_code == 200
    assert len(listing.content) < 2 * 1024 * 1024 and elapsed < 5
    assert listing.json()["count"] == 6
    assert all("statistics" not in run for run in listing.json()["results"])


def test_many_score_names_under_the_cap_are_paged(
    harness, eager_celery, django_capture_on_commit_callbacks
):
    document = generic_run("paged", 0, 1)
    document["results"] = [
        {"scorer": f"score_{index:03}", "successes": 1, "trials": 2} for index in range(250)
    ]
    run = ingest(harness, json.dumps(document).encode(), django_capture_on_commit_callbacks)
    page = harness.get(f"/api/v1/runs/{run.pk}/statistics/?limit=100&offset=200").json()
    assert page["count"] == 250
    assert [s["name"] for s in page["results"]] == [f"score_{i:03}" for i in range(200, 250)]


def test_cleanup_orphans_reports_and_removes_files_without_a_record(
    harness, eager_celery, django_capture_on_commit_callbacks, capsys
):
    kept = ingest(harness, generic("kept"), django_capture_on_commit_callbacks)
    orphan = Path(settings.MEDIA_ROOT) / "logs" / "ff" / ("f" * 64 + ".json")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"{}")
    call_command("cleanup_orphans", "--dry-run", "--min-age", "0")
    out = capsys.readouterr().out
    assert f"logs/ff/{orphan.name}\t2" in out and "1 orphaned file(s), 2 bytes" in out
    assert orphan.exists()
    call_command("cleanup_orphans", "--min-age", "0")
    assert "Removed 1 orphaned file(s)" in capsys.readouterr().out
    assert not orphan.exists()
    assert Path(kept.log_file.file.path).exists()
    call_command("cleanup_orphans", "--min-age", "0")
    assert "Removed 0 orphaned file(s)" in capsys.readouterr().out
