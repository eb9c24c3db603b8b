"""Celery tasks of the argument app: thin adapters around services.

Services queue these tasks by name (safetycase.services.queue), so only this module imports
the other: no import circle."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from safetycase import selectors
from safetycase.services.assessments import case_assess
from safetycase.services.exports import pdf_export_run, pdf_exports_requeue

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
        # The previous assessment stays the latest; the next trigger (or the daily one) tries
        # again. Criteria are bounded in cost, so this means a case far beyond normal size.
        logger.error("Assessing case %s (%s) passed the task's time limit", case_id, trigger)
        return "timed out"


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
