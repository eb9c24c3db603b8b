"""Celery tasks of the argument app: thin adapters around services.

Services queue these tasks by name (safetycase.services.queue), so only this module imports
the other: no import circle."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from safetycase import selectors
from safetycase.services.assessments import assessment_fail, case_assess
from safetycase.services.exports import pdf_export_run, pdf_exports_requeue
from safetycase.services.queue import outbox_publish_pending

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=8,
)
def assess_case(case_id: int, trigger: str, detail: str = "") -> str:
    """Re-assess one case; safe to run twice (a second assessment records no changes)."""
    case = selectors.case_or_none(case_id=case_id)
    if case is None:
        return "gone"
    try:
        return case_assess(case=case, trigger=trigger, detail=detail).overall_status
    except SoftTimeLimitExceeded:
        # Recorded as a failed assessment with the reason; the previous complete assessment
        # stays the latest, and the next trigger (or the daily one) tries again. Criteria are
        # bounded in cost, so this means a case far beyond normal size.
        logger.error("Assessing case %s (%s) passed the task's time limit", case_id, trigger)
        limit = assess_case.soft_time_limit or current_app.conf.task_soft_time_limit
        assessment_fail(
            case=case,
            trigger=trigger,
            detail=detail,
            error=(
                f"The assessment stopped at the time limit of {limit} seconds before it "
                "finished (the argument or its evidence is too large to assess in time); "
                "the statuses shown are those of the previous assessment."
            ),
        )
        return "failed"


@shared_task(acks_late=True)
def assess_all_cases() -> int:
    """The daily check: staleness and expired attestations show up without new evidence."""
    case_ids = selectors.all_case_ids()
    for case_id in case_ids:
        assess_case.delay(case_id, "scheduled", "daily re-assessment")
    return len(case_ids)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def export_case_pdf(export_id: int) -> str:
    """Render a queued PDF export (large cases); safe to run twice."""
    export = pdf_export_run(export_id=export_id)
    return export.status if export else "gone"


@shared_task
def sweep_stale_exports() -> int:
    """Exports whose job was never delivered, or whose worker died while rendering."""
    return len(pdf_exports_requeue())


@shared_task
def publish_outbox() -> int:
    """The outbox sweeper: work recorded with an edit or an export request (re-assessments,
    export jobs) that the broker could not take when the change committed."""
    return len(outbox_publish_pending())
