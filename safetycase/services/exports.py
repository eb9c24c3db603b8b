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
from datetime import datetime

from django.core.files.base import ContentFile
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
from safetycase.services.queue import enqueue_pdf_export

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
    export = PdfExport.objects.create(case=case, version=version, created_by=actor, pdfa=pdfa)
    enqueue_pdf_export(export.pk)
    return export


def pdf_export_run(*, export_id: int) -> PdfExport | None:
    """Render a queued export and store the file. Safe to run twice: a finished export is left
    as it is, and a redelivered one starts again from nothing."""
    export = PdfExport.objects.select_related("case", "version").filter(pk=export_id).first()
    if export is None or export.status == PdfExport.Status.DONE:
        return export

    def progress(percent: int, stage: str) -> None:
        # Plain updates commit at once, so the status endpoint shows them while we work.
        PdfExport.objects.filter(pk=export_id).update(progress=percent, stage=stage)

    PdfExport.objects.filter(pk=export_id).update(
        status=PdfExport.Status.RUNNING, progress=0, stage="starting", error=""
    )
    try:
        if export.version is not None:
            result = version_export_pdf(version=export.version, pdfa=export.pdfa, progress=progress)
        else:
            result = case_export_pdf(case=export.case, pdfa=export.pdfa, progress=progress)
    except (typst.PdfError, DiagramError, ApplicationError) as exc:
        logger.warning("PDF export %s of case %s failed: %s", export_id, export.case_id, exc)
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
