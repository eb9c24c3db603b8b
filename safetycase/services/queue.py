"""Work services hand to Celery workers, always when the writing transaction commits (a worker
never sees a row the request has not committed, and a rolled-back write queues nothing)."""

from __future__ import annotations

import functools

from django.db import transaction

from safetycase import tasks
from safetycase.models import SafetyCase


def enqueue_assessment(case_id: int, trigger: str, detail: str) -> None:
    transaction.on_commit(lambda: tasks.assess_case.delay(case_id, trigger, detail))


def enqueue_pdf_export(export_id: int) -> None:
    transaction.on_commit(lambda: tasks.export_case_pdf.delay(export_id))


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
