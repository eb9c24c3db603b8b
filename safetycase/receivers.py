"""Reactions to other apps' signals, connected in SafetycaseConfig.ready()."""

from __future__ import annotations

from evidence.signals import run_ingested
from safetycase import selectors
from safetycase.tasks import assess_case  # also registers the tasks services queue by name


def reassess_cases_citing_run(sender, run, **kwargs) -> None:
    """New evidence: re-assess every case with a binding that selects this run."""
    for case_id in selectors.cases_bound_to_run(run=run):
        assess_case.delay(case_id, "run_ingested", f"run {run.pk} ingested")


def connect() -> None:
    run_ingested.connect(reassess_cases_citing_run, dispatch_uid="safetycase.reassess_on_run")
