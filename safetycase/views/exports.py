"""Pages of the PDF export: the case page's "Export as PDF" button leads here.

A small case answers with the PDF at once. A large one (more than SAFETYCASE_PDF_SYNC_MAX_NODES
nodes) shows a page with a button that queues the export, then a status page that refreshes
itself until the file is ready and offers it for download. Each signed version's page offers
its own PDF (`version_export`), built from the version's frozen snapshot.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from safetycase import selectors, services
from safetycase.adapters.typst import PdfError
from safetycase.api.exports import pdf_response
from safetycase.models import PdfExport
from safetycase.views.access import case_for_user_or_404, found_or_404

REFRESH_SECONDS = 2


@login_required
@require_http_methods(["GET", "POST"])
def case_export(request: HttpRequest, case_id: int) -> HttpResponse:
    return _export_page(request, case_for_user_or_404(request, case_id))


@login_required
@require_http_methods(["GET", "POST"])
def version_export(request: HttpRequest, case_id: int, number: int) -> HttpResponse:
    """The PDF of a signed version, from its frozen snapshot."""
    case = case_for_user_or_404(request, case_id)
    version = found_or_404(selectors.version_for_case, case=case, number=number)
    version.case = case
    return _export_page(request, case, version)


def _export_page(request: HttpRequest, case, version=None) -> HttpResponse:
    """The case's (or a signed version's) PDF at once when small; when large, a form whose POST
    queues the export for a worker and leads to its status page."""
    pdfa = request.GET.get("pdfa") == "1" or request.POST.get("pdfa") == "1"
    if request.method == "POST":
        try:
            export = services.pdf_export_request(
                actor=request.user, case=case, pdfa=pdfa, version=version
            )
        except services.ExportInFlight as exc:
            export_id = exc.extra["export"]
            return redirect("case_export_status", case_id=case.pk, export_id=export_id)
        return redirect("case_export_status", case_id=case.pk, export_id=export.pk)
    context = {"case": case, "version": version, "pdfa": pdfa}
    if version is None:
        large = selectors.case_is_large(case=case)
    else:
        large = selectors.version_is_large(version=version)
    if large:
        count = (
            selectors.case_node_count(case=case)
            if version is None
            else len(version.snapshot.get("nodes") or [])
        )
        recent = selectors.recent_exports(case=case, user=request.user, version=version)
        context.update(recent=recent, large=True, element_count=count)
        return render(request, "safetycase/case_export.html", context)
    try:
        if version is None:
            result = services.case_export_pdf(case=case, pdfa=pdfa)
        else:
            result = services.version_export_pdf(version=version, pdfa=pdfa)
    except PdfError as exc:
        context["error"] = str(exc)
        return render(request, "safetycase/case_export.html", context, status=500)
    return pdf_response(
        result.content, result.filename, content_hash=result.content_hash, pages=result.pages
    )


@login_required
def case_export_status(request: HttpRequest, case_id: int, export_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    export = found_or_404(selectors.export_for_case, case=case, export_id=export_id)
    finished = export.status in (PdfExport.Status.DONE, PdfExport.Status.FAILED)
    return render(
        request,
        "safetycase/case_export.html",
        {
            "case": case,
            "version": export.version,
            "export": export,
            "refresh": None if finished else REFRESH_SECONDS,
        },
    )
