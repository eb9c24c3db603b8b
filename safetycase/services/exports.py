"""Exporting a case as PDF: at once (small cases, the command) or in a Celery task (large cases).
A signed version exports from its frozen snapshot (`version_export_pdf`), always at once.

Any member of a case may export it (DESIGN §1: anyone with access); the views check membership
through `selectors.case_for_user`. A case never assessed is assessed first, as the assessment API
does, so the document always has statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from safetycase import facts, selectors
from safetycase.adapters import typst
from safetycase.adapters.graphviz import DiagramError, render_svg
from safetycase.core import document
from safetycase.core.document import parts
from safetycase.errors import ApplicationError
from safetycase.models import PdfExport, SafetyCase, Version
from safetycase.selectors.exports import export_setting
from safetycase.services.assessments import case_assess
from safetycase.services.queue import EXPORT_CASE_PDF, enqueue_pdf_export, send

logger = logging.getLogger(__name__)

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class ExportedPdf:
    content: bytes
    pages: int
    content_hash: str
    filename: str
    diagrams: int
    overall_status: str


def case_export_pdf(
    *, case: SafetyCase, pdfa: bool = False, progress: Progress | None = None
) -> ExportedPdf:
    """The case as a PDF document (PDF/A-2b when `pdfa`), from its latest assessment."""
    report = progress or (lambda _percent, _stage: None)
    report(5, "reading the case")
    assessment = selectors.latest_assessment(case=case) or case_assess(
        case=case, trigger="manual", detail="PDF export"
    )
    data = selectors.case_export_data(case=case, assessment=assessment)
    return _render(data, filename=export_filename(case), pdfa=pdfa, report=report)


def version_export_pdf(
    *, version: Version, pdfa: bool = False, progress: Progress | None = None
) -> ExportedPdf:
    """A signed version as a PDF document, from its frozen snapshot (never the live case), so
    the same version always gives the same document."""
    report = progress or (lambda _percent, _stage: None)
    report(5, "reading the version")
    data = selectors.version_export_data(version=version)
    return _render(
        data, filename=export_filename(version.case, version=version), pdfa=pdfa, report=report
    )


def _render(data: dict, *, filename: str, pdfa: bool, report: Progress) -> ExportedPdf:
    digest = document.content_hash(data)

    report(20, "drawing the diagrams")
    planned = plan_diagrams(data, render=render_svg)
    svgs = {f"diagram-{p.number}.svg": p.svg for p in planned}
    diagrams = [
        {
            "number": p.number,
            "title": p.title,
            "subtitle": p.subtitle,
            "file": f"diagram-{p.number}.svg",
            "members": p.members,
            "roots": p.roots,
            "count": p.count,
            "width": p.width,
            "height": p.height,
            "page": p.page,
            "continues": p.continues,
            "continued_from": p.continued_from,
        }
        for p in planned
    ]

    report(60, "typesetting")
    built = document.build_document(data, diagrams=diagrams, content_hash=digest, pdfa=pdfa)
    content = typst.render_pdf(
        built,
        svgs,
        pdfa=pdfa,
        timestamp=datetime.fromisoformat(data["as_of"]),
        font_paths=tuple(export_setting("PDF_FONT_PATHS", ())),
    )
    report(95, "saving")
    return ExportedPdf(
        content=content,
        pages=typst.page_count(content),
        content_hash=digest,
        filename=filename,
        diagrams=len(planned),
        overall_status=(data.get("assessment") or {}).get("overall_status") or "",
    )


def plan_diagrams(data: dict, *, render: Callable[[str], str]) -> list[parts.Part]:
    """The diagram pages of the exported data (statuses coloured), rendered with `render`."""
    nodes = data["nodes"]
    argument = facts.argument(nodes=nodes, links=data["links"])
    groups = {n["identifier"]: document.group_of(n) for n in nodes}
    assessment = data.get("assessment") or {}
    top = assessment.get("top_goal") or document.top_goal(nodes, data["links"])
    order, _children = document.argument_order(nodes, data["links"], top)
    planner = parts.Planner(
        argument,
        statuses=assessment.get("statuses"),
        group_of=lambda element: groups.get(element.identifier, ""),
        group_titles=data.get("group_titles") or {},
        render=render,
        order=[identifier for identifier, _depth, _parent in order],
    )
    return planner.plan()


def export_filename(case: SafetyCase, *, version: Version | None = None) -> str:
    stem = slugify(case.name)[:80] or f"case-{case.pk}"
    return f"{stem}-safety-case{f'-v{version.number}' if version else ''}.pdf"


def pdf_export_request(
    *, actor, case: SafetyCase, pdfa: bool = False, version: Version | None = None
) -> PdfExport:
    """Queue an export of the case, or of its signed `version`; a worker renders it
    (`tasks.export_case_pdf`)."""
    if version is not None and version.case_id != case.pk:
        raise ValueError("The version belongs to another case.")
    _refuse_second_export_in_flight(actor=actor, case=case)
    with transaction.atomic():  # the export and its job's outbox message, together
        export = PdfExport.objects.create(case=case, version=version, created_by=actor, pdfa=pdfa)
        enqueue_pdf_export(export.pk)
    return export


class ExportInFlight(ApplicationError):
    status_code = 429


def _refuse_second_export_in_flight(*, actor, case: SafetyCase) -> None:
    """One export per user and case at a time: each costs seconds of a worker, and a viewer
    may export, so an unbounded queue of them would be a way to hold the workers."""
    in_flight = PdfExport.objects.filter(
        case=case,
        created_by=actor,
        status__in=[PdfExport.Status.QUEUED, PdfExport.Status.RUNNING],
    ).first()
    if in_flight is not None:
        raise ExportInFlight(
            f"Your export {in_flight.pk} of this case is still {in_flight.status}; wait for it "
            "to finish before asking for another.",
            extra={"export": in_flight.pk},
        )


def pdf_exports_requeue() -> list[int]:
    """Send again exports still `queued` with no sign of life for
    SAFETYCASE_EXPORT_STALE_SECONDS (their job was lost) and recover `running` ones whose
    worker stopped reporting (heartbeat older than SAFETYCASE_EXPORT_STALE_SECONDS): queued
    again, or failed with a sentence after SAFETYCASE_EXPORT_MAX_ATTEMPTS attempts. Returns
    the ids sent again."""
    now = timezone.now()
    stale_cutoff = now - timedelta(seconds=export_setting("EXPORT_STALE_SECONDS", 600))
    max_attempts = export_setting("EXPORT_MAX_ATTEMPTS", 3)
    stale = PdfExport.objects.filter(status=PdfExport.Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale_cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=stale_cutoff)
    )
    stale.filter(attempts__gte=max_attempts).update(
        status=PdfExport.Status.FAILED,
        finished_at=now,
        error=(
            f"Rendering was attempted {max_attempts} times and each attempt stopped without "
            "finishing (the worker died or passed its time limit)."
        ),
    )
    recovered = list(stale.filter(attempts__lt=max_attempts).values_list("pk", flat=True))
    # A queued export whose job the broker accepted may only be waiting behind others: sending
    # it again would render it twice. Jobs the broker refused wait in the outbox, whose own
    # sweeper publishes them within a minute; here only jobs lost by the broker are sent again,
    # once nothing was heard of them for the stale limit. The time of sending is stamped, so the
    # next sweep waits as long again.
    waiting = PdfExport.objects.filter(status=PdfExport.Status.QUEUED).filter(
        Q(heartbeat_at__lt=stale_cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=stale_cutoff)
    )
    export_ids = sorted({*waiting.values_list("pk", flat=True), *recovered})
    PdfExport.objects.filter(pk__in=export_ids).update(
        status=PdfExport.Status.QUEUED, heartbeat_at=now
    )
    for export_id in export_ids:
        send(EXPORT_CASE_PDF, export_id)
    return export_ids


def pdf_export_run(*, export_id: int) -> PdfExport | None:
    """Render a queued export and store the file. Safe to run twice: a finished export is left
    as it is, and a redelivered one starts again from nothing."""
    export = PdfExport.objects.select_related("case", "version").filter(pk=export_id).first()
    if export is None or export.status == PdfExport.Status.DONE:
        return export

    def progress(percent: int, stage: str) -> None:
        # Plain updates commit at once, so the status endpoint shows them while we work; the
        # heartbeat tells the sweeper this worker is alive.
        PdfExport.objects.filter(pk=export_id).update(
            progress=percent, stage=stage, heartbeat_at=timezone.now()
        )

    PdfExport.objects.filter(pk=export_id).update(
        status=PdfExport.Status.RUNNING,
        progress=0,
        stage="starting",
        error="",
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    try:
        if export.version is not None:
            result = version_export_pdf(version=export.version, pdfa=export.pdfa, progress=progress)
        else:
            result = case_export_pdf(case=export.case, pdfa=export.pdfa, progress=progress)
    except (typst.PdfError, DiagramError, ApplicationError, SoftTimeLimitExceeded) as exc:
        logger.warning("PDF export %s of case %s failed: %r", export_id, export.case_id, exc)
        if isinstance(exc, SoftTimeLimitExceeded):
            exc = ApplicationError(
                "Rendering took longer than the time limit of "
                f"{settings.CELERY_TASK_SOFT_TIME_LIMIT} seconds (TASK_SOFT_TIME_LIMIT)."
            )
        export.refresh_from_db()
        export.status = PdfExport.Status.FAILED
        export.error = str(exc)[:5000]
        export.finished_at = timezone.now()
        export.save()
        return export
    export.refresh_from_db()
    export.file.save(result.filename, ContentFile(result.content), save=False)
    export.pages = result.pages
    export.content_hash = result.content_hash
    export.status = PdfExport.Status.DONE
    export.progress = 100
    export.stage = "ready"
    export.finished_at = timezone.now()
    export.save()
    return export
