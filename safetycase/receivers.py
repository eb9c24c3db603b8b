"""Reactions to other apps' signals, connected in SafetycaseConfig.ready()."""

from __future__ import annotations

import safetycase.tasks  # noqa: F401  (registers the tasks services queue by name)
from evidence.signals import run_ingested
from safetycase import selectors
from safetycase.services.queue import enqueue_assessment


def reassess_cases_citing_run(sender, run, **kwargs) -> None:
    """New evidence: re-assess every case with a binding that selects this run (through the
    outbox, so a broker hiccup after ingestion loses no re-assessment)."""
    for case_id in selectors.cases_bound_to_run(run=run):
        enqueue_assessment(case_id, "run_ingested", f"run {run.pk} ingested")


def connect() -> None:
    run_ingested.connect(reassess_cases_citing_run, dispatch_uid="safetycase.reassess_on_run")
