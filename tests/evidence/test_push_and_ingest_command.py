"""The push client for harness machines and `manage.py ingest`."""

from __future__ import annotations

import os
import shutil
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evidence import push
from evidence.models import EvaluationRun
from safetycase import services as services_tokens

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def settled_copy(source: Path, directory: Path) -> Path:
    target = directory / source.name
    shutil.copy(source, target)
    old = time.time() - 60  # the client skips files still being written
    os.utime(target, (old, old))
    return target


@pytest.mark.django_db(transaction=True)
def test_push_uploads_new_logs_once(live_server, uploader, eager_celery, tmp_path, capsys):
    _, token = services_tokens.token_create(user=uploader, scopes=["ingest"])
    settled_copy(FIXTURES / "inspect" / "arith-success.json", tmp_path)
    settled_copy(FIXTURES / "inspect" / "arith-sample-errors.eval", tmp_path)

    assert push.main([str(tmp_path), "--url", live_server.url, "--token", token]) == 0
    assert EvaluationRun.objects.count() == 2
    assert set(EvaluationRun.objects.values_list("status", flat=True)) == {"ingested"}
    assert capsys.readouterr().out.count(": run ") == 2

    # A second pass finds nothing new; a new log is picked up.
    assert push.main([str(tmp_path), "--url", live_server.url, "--token", token]) == 0
    assert capsys.readouterr().out == ""
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    assert push.main([str(tmp_path), "--url", live_server.url, "--token", token]) == 0
    assert EvaluationRun.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_push_reports_a_refused_token(live_server, author, tmp_path, capsys):
    _, token = services_tokens.token_create(user=author, scopes=["ingest"])  # no permission
    settled_copy(FIXTURES / "inspect" / "arith-success.json", tmp_path)
    assert push.main([str(tmp_path), "--url", live_server.url, "--token", token]) == 1
    assert "upload refused (403)" in capsys.readouterr().err
    assert EvaluationRun.objects.count() == 0


@pytest.mark.django_db
def test_ingest_command_ingests_local_files(eager_celery, django_capture_on_commit_callbacks, lab):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "ingest",
            str(FIXTURES / "inspect" / "arith-success.eval"),
            "--project",
            "lab",
            stdout=out,
        )
    run = EvaluationRun.objects.get()
    assert run.status == "ingested"
    assert f"run {run.pk} queued" in out.getvalue() or f"run {run.pk} ingested" in out.getvalue()


@pytest.mark.django_db
def test_ingest_command_fails_for_unreadable_files(tmp_path, lab):
    junk = tmp_path / "junk.json"
    junk.write_text("this is not json")
    out = StringIO()
    with pytest.raises(CommandError, match="1 run\\(s\\) failed"):
        call_command("ingest", str(junk), "--project", "lab", stdout=out)
    assert "failed" in out.getvalue()
    assert EvaluationRun.objects.get().status == "failed"


@pytest.mark.django_db
def test_ingest_command_rejects_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        call_command("ingest", str(tmp_path / "nope.eval"))


# --------------------------------------------------------------------------------------------
# Log directories where the logs live: fsspec URLs (file:// here; s3:// works the same way)


def a_log_directory(tmp_path: Path) -> Path:
    logs = tmp_path / "bucket" / "logs"
    (logs / "2026-12").mkdir(parents=True)
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", logs)
    settled_copy(FIXTURES / "inspect" / "arith-sample-errors.eval", logs / "2026-12")
    for name in (
        "samples_arith_gen_2026-11-24T11-15-47.729466.jsonl",
        "results_2026-11-24T11-15-47.729466.json",
    ):
        settled_copy(FIXTURES / "lm-eval" / name, logs)
    (logs / "logs.json").write_text("{}")
    (logs / "README.txt").write_text("not a log")
    return logs


@pytest.mark.django_db
def test_ingest_reads_a_log_directory_from_a_file_url(
    eager_celery, tmp_path, django_capture_on_commit_callbacks, lab
):
    logs = a_log_directory(tmp_path)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("ingest", logs.as_uri(), "--project", "lab", stdout=out)
    lines = out.getvalue().splitlines()
    assert f"{logs.as_uri()}/logs.json: skipped, not a log (written by Inspect)" in lines
    names = set(EvaluationRun.objects.values_list("log_file__name", flat=True))
    assert names == {
        "arith-success.eval",
        "arith-sample-errors.eval",
        "results_2026-11-24T11-15-47.729466.json",
    }
    assert set(EvaluationRun.objects.values_list("status", flat=True)) == {"ingested"}
    # The samples file went after its results and is attached to its run.
    gen = EvaluationRun.objects.get(task="arith_gen")
    assert gen.samples_file is not None
    assert gen.samples_file.name == "samples_arith_gen_2026-11-24T11-15-47.729466.jsonl"


@pytest.mark.django_db
def test_ingest_reads_one_log_from_a_file_url(
    eager_celery, tmp_path, django_capture_on_commit_callbacks, lab
):
    logs = a_log_directory(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "ingest", (logs / "arith-success.eval").as_uri(), "--project", "lab", stdout=StringIO()
        )
    assert EvaluationRun.objects.get().log_file.name == "arith-success.eval"


@pytest.mark.django_db
def test_ingest_says_what_is_wrong_with_a_url(tmp_path):
    with pytest.raises(CommandError, match="holds no evaluation logs"):
        call_command("ingest", (tmp_path).as_uri(), stdout=StringIO())
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("ingest", "nosuchprotocol://bucket/logs", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_push_reads_a_log_directory_from_a_file_url(
    live_server, uploader, eager_celery, tmp_path, capsys
):
    _, token = services_tokens.token_create(user=uploader, scopes=["ingest", "read"])
    logs = a_log_directory(tmp_path)
    url = logs.as_uri()
    assert push.main([url, "--url", live_server.url, "--token", token]) == 0
    out = capsys.readouterr().out
    assert f"{url}/2026-12/arith-sample-errors.eval: run" in out
    # Two Inspect logs, and the lm-eval results file's group and its two tasks.
    tasks = EvaluationRun.objects.filter(status="ingested").values_list("task", flat=True)
    assert sorted(tasks) == ["arith", "arith", "arith_gen", "arith_mc", "arith_suite"]
    # Remembered beside the logs, like for a local directory: nothing is sent twice.
    assert (logs / push.STATE_FILE).exists()
    assert push.main([url, "--url", live_server.url, "--token", token]) == 0
    assert capsys.readouterr().out == ""
