"""Work services hand to Celery workers, always when the writing transaction commits (a worker
never sees a row the request has not committed, and a rolled-back write queues nothing).

The tasks are thin adapters that call services, so services name them instead of importing
them: no import circle. They are looked up in the Celery app's registry, which holds them once
safetycase.tasks is imported — at start-up, by safetycase.receivers (from the app config).
"""

from __future__ import annotations

import functools

from celery import current_app
from django.db import transaction

from safetycase.models import SafetyCase

ASSESS_CASE = "safetycase.tasks.assess_case"
EXPORT_CASE_PDF = "safetycase.tasks.export_case_pdf"


def enqueue(task_name: str, *args, robust: bool = False) -> None:
    """Queue the task named `task_name` with `args` when the current transaction commits.
    `robust`: a broker that cannot be reached is logged instead of raised (the row is already
    committed and a sweeper sends it again)."""
    transaction.on_commit(lambda: send(task_name, *args), robust=robust)


def send(task_name: str, *args) -> None:
    """Send the task named `task_name` now (sweepers re-sending what was never delivered)."""
    current_app.tasks[task_name].delay(*args)


def enqueue_assessment(case_id: int, trigger: str, detail: str) -> None:
    enqueue(ASSESS_CASE, case_id, trigger, detail)


def enqueue_pdf_export(export_id: int) -> None:
    enqueue(EXPORT_CASE_PDF, export_id, robust=True)


def reassesses_case(edit: str):
    """Decorate a public editing service: when its transaction commits, the edited case is
    re-assessed (trigger `case_edited`), so statuses never lag behind the argument."""

    def decorate(service):
        @functools.wraps(service)
        def wrapper(*, actor, **kwargs):
            result = service(actor=actor, **kwargs)
            subject = kwargs.get("case") or next(
                kwargs[key] for key in ("node", "link", "binding") if key in kwargs
            )
            case_id = subject.pk if isinstance(subject, SafetyCase) else subject.case_id
            enqueue_assessment(case_id, "case_edited", f"{edit} by {actor}")
            return result

        return wrapper

    return decorate
