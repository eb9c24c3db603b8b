"""Celery tasks: thin adapters around evidence.services.

Every task has the soft and hard time limits of settings (CELERY_TASK_SOFT_TIME_LIMIT,
CELERY_TASK_TIME_LIMIT); ingestion catches the soft limit and fails the run with the reason.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from evidence import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=8,
)
def ingest_run(run_id: int) -> str:
    """Parse one queued run; safe to run twice (a redelivered job finds it done or redoes it)."""
    run = services.run_ingest(run_id=run_id)
    return run.status if run is not None else "gone"


@shared_task
def requeue_queued_runs() -> int:
    """The sweeper: runs whose job was never delivered (broker down at upload time) and runs
    whose worker died or hung while parsing."""
    return len(services.runs_requeue())
