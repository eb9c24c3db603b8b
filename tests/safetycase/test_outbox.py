"""Work that must follow a commit goes through the outbox: recorded with the change, published
when it commits, and published later by the sweeper when the broker was down. Edits answer
their normal success whatever the broker does; nothing is sent twice while it only waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from safetycase import selectors, services
from safetycase.core import assessment as core_assessment
from safetycase.models import Assessment, Node, OutboxMessage, PdfExport
from safetycase.services import exports as export_services
from safetycase.services import queue
from safetycase.tasks import assess_case

pytestmark = pytest.mark.django_db


def age(message_ids, seconds: int = 3600) -> None:
    """Pretend the messages were written (and last tried) `seconds` ago."""
    long_ago = timezone.now() - timedelta(seconds=seconds)
    OutboxMessage.objects.filter(pk__in=message_ids).update(
        created_at=long_ago, last_attempt_at=long_ago
    )


def edits_assessed(case) -> int:
    return Assessment.objects.filter(case=case, trigger="case_edited").count()


def test_an_edit_while_the_broker_is_down_succeeds_and_is_assessed_once_it_is_back(
    case, author, api_client_for, broker_down, django_capture_on_commit_callbacks, caplog
):
    client = api_client_for(author)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            f"/api/v1/cases/{case.pk}/nodes/G2/", {"statement": "Edited offline"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert Node.objects.get(case=case, identifier="G2").statement == "Edited offline"
    # The edit's re-assessment waits in the outbox with the reason it was not published.
    message = OutboxMessage.objects.get()
    assert message.task == queue.ASSESS_CASE
    assert message.args == [case.pk, "case_edited", f"node edited by {author}"]
    assert message.attempts == 1 and "Connection refused" in message.error
    assert any("sweeper sends it later" in r.getMessage() for r in caplog.records)
    assert edits_assessed(case) == 0

    # Still down: the sweeper tries, keeps the message, and does not raise.
    age([message.pk])
    assert queue.outbox_publish_pending() == []
    message.refresh_from_db()
    assert message.attempts == 2


def test_an_edit_in_the_browser_while_the_broker_is_down_succeeds(
    client, case, author, broker_down, django_capture_on_commit_callbacks
):
    from tests.safetycase.test_authoring_views import edit_data

    client.force_login(author)
    g2 = case.nodes.get(identifier="G2")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/cases/{case.pk}/nodes/G2/edit/", edit_data(g2, statement="Edited in the browser")
        )
    assert response.status_code == 302
    g2.refresh_from_db()
    assert g2.statement == "Edited in the browser"
    assert OutboxMessage.objects.get().args[:2] == [case.pk, "case_edited"]


def test_an_attestation_while_the_broker_is_down_is_kept_for_the_sweeper(
    case, reviewer, api_client_for, broker_down, django_capture_on_commit_callbacks
):
    services.node_create_do(case=case, identifier="A1", type="assumption", statement="Holds")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(reviewer).post(
            f"/api/v1/cases/{case.pk}/attestations/",
            {"node": "A1", "statement": "Checked by hand"},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert OutboxMessage.objects.get().args[:2] == [case.pk, "attestation"]


def test_the_sweeper_publishes_what_the_broker_refused(
    case, author, api_client_for, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(author).patch(
            f"/api/v1/cases/{case.pk}/nodes/G3/", {"undeveloped": False}, format="json"
        )
    message = OutboxMessage.objects.get()
    age([message.pk])
    # The broker is back (tasks run in-process here; a real worker on Redis in
    # tests/hostile/test_broker_outage.py).
    from safetycase.celery import app

    app.conf.task_always_eager = True
    assert queue.outbox_publish_pending() == [message.pk]
    assert not OutboxMessage.objects.exists()
    latest = selectors.latest_assessment(case=case)
    assert latest.trigger == "case_edited" and latest.trigger_detail == f"node edited by {author}"
    assert queue.outbox_publish_pending() == []


def test_an_export_requested_while_the_broker_is_down_is_rendered_once_it_is_back(
    case, viewer, api_client_for, broker_down, django_capture_on_commit_callbacks, settings
):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_SYNC_MAX_NODES": 0}  # a background one
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(viewer).post(
            f"/api/v1/cases/{case.pk}/exports/", {}, format="json"
        )
    assert response.status_code == 202, response.content
    export = PdfExport.objects.get()
    assert export.status == "queued"
    message = OutboxMessage.objects.get()
    assert (message.task, message.args) == (queue.EXPORT_CASE_PDF, [export.pk])

    from safetycase.celery import app

    app.conf.task_always_eager = True
    age([message.pk])
    assert queue.outbox_publish_pending() == [message.pk]
    export.refresh_from_db()
    assert export.status == "done" and export.pages


def test_a_rolled_back_edit_leaves_no_message(case, author):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.node_update(actor=author, node=case.nodes.get(identifier="G2"), statement="x")
        assert OutboxMessage.objects.count() == 1  # written with the edit…
        raise RuntimeError("the request failed later")
    assert not OutboxMessage.objects.exists()  # …and gone with it
    assert case.nodes.get(identifier="G2").statement != "x"


def test_the_sweeper_leaves_young_messages_to_their_request(
    case, author, broker_down, django_capture_on_commit_callbacks, settings
):
    """A message written a moment ago may be being published by its own request right now:
    the sweeper waits SAFETYCASE_OUTBOX_RETRY_SECONDS before it sends it, so no task runs
    twice."""
    settings.SAFETYCASE = {**settings.SAFETYCASE, "OUTBOX_RETRY_SECONDS": 60}
    with django_capture_on_commit_callbacks(execute=False):  # not yet published
        services.node_update(actor=author, node=case.nodes.get(identifier="G2"), statement="y")
    message = OutboxMessage.objects.get()
    sent = []
    from safetycase.celery import app

    app.conf.task_always_eager = True
    original = queue.send
    try:
        queue.send = lambda name, *args: sent.append((name, args)) or original(name, *args)
        assert queue.outbox_publish_pending() == []
        age([message.pk], seconds=30)
        assert queue.outbox_publish_pending() == []
        age([message.pk], seconds=61)
        assert queue.outbox_publish_pending() == [message.pk]
    finally:
        queue.send = original
    assert sent == [(queue.ASSESS_CASE, (case.pk, "case_edited", f"node edited by {author}"))]


def test_the_sweeper_stops_at_the_first_refusal(
    case, author, broker_down, settings, django_capture_on_commit_callbacks
):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "OUTBOX_RETRY_SECONDS": 60}
    messages = []
    for i in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            messages.append(queue.enqueue(queue.ASSESS_CASE, case.pk, "manual", str(i)))
    # Each was tried when its transaction committed, and refused.
    assert [m.attempts for m in OutboxMessage.objects.all()] == [1, 1, 1]
    age([m.pk for m in messages])
    assert queue.outbox_publish_pending() == []
    assert [m.attempts for m in OutboxMessage.objects.order_by("id")] == [2, 1, 1]


def test_an_edit_with_the_broker_up_leaves_no_message(
    case, author, api_client_for, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(author).patch(
            f"/api/v1/cases/{case.pk}/nodes/G2/", {"statement": "Edited online"}, format="json"
        )
    assert response.status_code == 200
    assert not OutboxMessage.objects.exists()
    assert edits_assessed(case) == 1


# --------------------------------------------------------------------------------------------
# An assessment past the task's soft time limit


def test_an_assessment_past_its_time_limit_is_recorded_as_failed_with_the_reason(
    case, author, api_client_for, eager_celery, monkeypatch
):
    complete = services.case_assess(case=case, trigger="manual", detail="before")

    def too_slow(**kwargs):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task at its soft limit

    monkeypatch.setattr(core_assessment, "assess", too_slow)
    assert assess_case.delay(case.pk, "case_edited", "node edited by alice").get() == "failed"

    failed = Assessment.objects.get(case=case, status="failed")
    assert failed.trigger == "case_edited"
    assert "stopped at the time limit of" in failed.error
    assert "previous assessment" in failed.error
    # The case keeps showing its last complete result.
    assert selectors.latest_assessment(case=case) == complete
    client = api_client_for(author)
    latest = client.get(f"/api/v1/cases/{case.pk}/assessment/").json()
    assert latest["id"] == complete.pk
    history = client.get(f"/api/v1/cases/{case.pk}/assessments/").json()
    rows = history["results"] if isinstance(history, dict) else history
    assert rows[0]["id"] == failed.pk
    assert rows[0]["status"] == "failed" and "time limit" in rows[0]["error"]
    assert rows[1]["status"] == "complete" and rows[1]["error"] == ""

    # The next assessment compares with the last complete one: nothing changed since. (Against
    # the failed one, which has no statuses, every node would count as changed.)
    monkeypatch.undo()
    after = services.case_assess(case=case, trigger="manual", detail="after")
    assert complete.statuses and after.changes["nodes"] == []


def test_the_case_page_says_why_an_assessment_failed(client, case, author, eager_celery):
    services.case_assess(case=case, trigger="manual", detail="before")
    services.assessment_fail(
        case=case, trigger="scheduled", detail="daily", error="It stopped at the time limit."
    )
    client.force_login(author)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Failed: It stopped at the time limit." in page


# --------------------------------------------------------------------------------------------
# Sweepers never send twice what only waits its turn


def test_the_run_sweeper_does_not_send_again_a_queued_run_the_broker_accepted(
    uploader, api_client_for, django_capture_on_commit_callbacks, monkeypatch, settings, request
):
    """A run whose job the broker accepted and that is still queued is waiting behind other
    runs: re-sending it would have two workers parse it. Only once
    EVIDENCE_RESEND_SENT_AFTER_SECONDS have passed is the job taken as lost."""
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence import services as evidence_services
    from evidence.models import EvaluationRun
    from evidence.tasks import ingest_run
    from safetycase.celery import app

    settings.EVIDENCE = {
        **settings.EVIDENCE,
        "REQUEUE_AFTER_SECONDS": 120,
        "RESEND_SENT_AFTER_SECONDS": 3600,
    }
    published = []
    # A broker that takes the job; no worker gets to it yet.
    monkeypatch.setattr(ingest_run, "delay", lambda run_id: published.append(run_id))
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    request.addfinalizer(lambda: setattr(app.conf, "task_always_eager", eager))
    log = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "arith-success.json"
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(uploader).post(
            "/api/v1/runs/",
            {"file": SimpleUploadedFile(log.name, log.read_bytes())},
            format="multipart",
        )
    assert response.status_code == 202
    run = EvaluationRun.objects.get()
    assert published == [run.pk] and run.status == "queued" and run.sent_at is not None

    def waited(seconds: int) -> None:
        then = timezone.now() - timedelta(seconds=seconds)
        EvaluationRun.objects.filter(pk=run.pk).update(created_at=then, sent_at=then)

    waited(600)  # delayed ten minutes behind other runs: left alone
    assert evidence_services.runs_requeue() == []
    waited(3601)  # an hour: the broker lost it
    assert evidence_services.runs_requeue() == [run.pk]
    assert published == [run.pk, run.pk]
    # Sent again just now: the next sweep waits as long again.
    assert evidence_services.runs_requeue() == []
    assert published == [run.pk, run.pk]


def test_the_export_sweeper_does_not_send_again_a_queued_export_that_only_waits(
    case, viewer, eager_celery, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "EXPORT_STALE_SECONDS": 600}
    with django_capture_on_commit_callbacks(execute=False):
        export = export_services.pdf_export_request(actor=viewer, case=case)
    OutboxMessage.objects.all().delete()  # the broker accepted its job
    sent = []
    monkeypatch.setattr(export_services, "send", lambda name, *args: sent.append(args[0]))
    PdfExport.objects.filter(pk=export.pk).update(
        created_at=timezone.now() - timedelta(seconds=300)
    )
    assert export_services.pdf_exports_requeue() == []  # five minutes in the queue: waits
    PdfExport.objects.filter(pk=export.pk).update(
        created_at=timezone.now() - timedelta(seconds=601)
    )
    assert export_services.pdf_exports_requeue() == [export.pk]  # lost: sent again
    assert export_services.pdf_exports_requeue() == []  # and not at the very next sweep
    assert sent == [export.pk]
