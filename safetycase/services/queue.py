"""Work services hand to Celery workers, always after the writing transaction commits (a worker
never sees a row the request has not committed, and a rolled-back write queues nothing).

Through an outbox: `enqueue` writes an OutboxMessage in the caller's transaction, so the work
is recorded exactly when the change that calls for it is. When the transaction commits the
message is published and deleted; when the broker cannot take it (down, unreachable) the
failure is logged, the caller's request still succeeds, and `outbox_publish_pending` (the
periodic sweeper) publishes it later.

The tasks are thin adapters that call services, so services name them instead of importing
them: no import circle. They are looked up in the Celery app's registry, which holds them once
safetycase.tasks is imported — at start-up, by safetycase.receivers (from the app config).
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from safetycase.conf import setting
from safetycase.models import OutboxMessage, SafetyCase

logger = logging.getLogger(__name__)

ASSESS_CASE = "safetycase.tasks.assess_case"
EXPORT_CASE_PDF = "safetycase.tasks.export_case_pdf"


def enqueue(task_name: str, *args) -> OutboxMessage:
    """Record the task named `task_name` with `args` in the current transaction and publish it
    when the transaction commits (at once outside a transaction). Never raises for a broker
    that cannot be reached: the message waits for the sweeper."""
    message = OutboxMessage.objects.create(task=task_name, args=list(args))
    transaction.on_commit(lambda: outbox_publish(message))
    return message


def outbox_publish(message: OutboxMessage) -> bool:
    """Send the message's task to the broker and delete the message; False (the message kept,
    with the error) when the broker refused it."""
    try:
        send(message.task, *message.args)
    except Exception as exc:
        if current_app.conf.task_always_eager:
            raise  # no broker: the task ran here, and its error is the caller's
        # Whatever publishing raised (kombu's OperationalError when Redis is down, a timeout),
        # the caller's change is committed: answering 500 now would report a failure that did
        # not happen, and the message is safe in the table.
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1, last_attempt_at=timezone.now(), error=str(exc)[:1000]
        )
        logger.warning(
            "Could not publish %s%s (outbox message %s); the sweeper sends it later: %s",
            message.task,
            tuple(message.args),
            message.pk,
            exc,
        )
        return False
    OutboxMessage.objects.filter(pk=message.pk).delete()
    return True


def outbox_publish_pending(*, older_than_seconds: int | None = None) -> list[int]:
    """The sweeper: publish the messages still waiting `older_than_seconds` (setting
    SAFETYCASE_OUTBOX_RETRY_SECONDS) after they were written or last tried. Younger ones are
    left alone, since their request may be publishing them right now: sending them here too
    would run their task twice. Stops at the first refusal (the broker is still down).
    Returns the ids of the messages published."""
    if older_than_seconds is None:
        older_than_seconds = setting("OUTBOX_RETRY_SECONDS")
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    published: list[int] = []
    with transaction.atomic():
        # Locked and skipped by a second sweeper running at the same time (PostgreSQL).
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                Q(last_attempt_at__isnull=True, created_at__lt=cutoff)
                | Q(last_attempt_at__lt=cutoff)
            )
            .order_by("id")[: setting("OUTBOX_BATCH")]
        )
        for message in due:
            if not outbox_publish(message):
                break
            published.append(message.pk)
    return published


def send(task_name: str, *args) -> None:
    """Send the task named `task_name` now (sweepers re-sending what was never delivered)."""
    current_app.tasks[task_name].delay(*args)


def enqueue_assessment(case_id: int, trigger: str, detail: str) -> None:
    enqueue(ASSESS_CASE, case_id, trigger, detail)


def enqueue_pdf_export(export_id: int) -> None:
    enqueue(EXPORT_CASE_PDF, export_id)


def reassesses_case(edit: str):
    """Decorate a public editing service: when its transaction commits, the edited case is
    re-assessed (trigger `case_edited`), so statuses never lag behind the argument."""

    def decorate(service):
        @functools.wraps(service)
        def wrapper(*, actor, **kwargs):
            # One transaction: the edit and the outbox message asking for its re-assessment
            # are committed together or not at all.
            with transaction.atomic():
                result = service(actor=actor, **kwargs)
                subject = kwargs.get("case") or next(
                    kwargs[key] for key in ("node", "link", "binding") if key in kwargs
                )
                case_id = subject.pk if isinstance(subject, SafetyCase) else subject.case_id
                enqueue_assessment(case_id, "case_edited", f"{edit} by {actor}")
            return result

        return wrapper

    return decorate
