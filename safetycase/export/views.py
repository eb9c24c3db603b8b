"""Pages of the PDF export: the case page's "Export as PDF" button leads here.

A small case answers with the PDF at once. A large one (more than SAFETYCASE_PDF_SYNC_MAX_NODES
nodes) shows a page with a button that queues the export, then a status page that refreshes
itself until the file is ready and offers it for download. Each signed version's page offers
its own PDF (`version_export`), built from the version's frozen snapshot.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from safetycase import review, selectors
from safetycase.api.exports import pdf_response
from safetycase.errors import NotFound
from safetycase.export import services
from safetycase.export.pdf import PdfError
from safetycase.models import PdfExport

REFRESH_SECONDS = 2


def _get_case_for_user(request: HttpRequest, case_id: int):
    try:
        return selectors.case_for_user(user=request.user, case_id=case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_http_methods(["GET", "POST"])
def case_export(request: HttpRequest, case_id: int) -> HttpResponse:
    return _export_page(request, _get_case_for_user(request, case_id))


@login_required
@require_http_methods(["GET", "POST"])
def version_export(request: HttpRequest, case_id: int, number: int) -> HttpResponse:
    """The PDF of a signed version, from its frozen snapshot."""
    case = _get_case_for_user(request, case_id)
    try:
        version = review.version_for_case(case=case, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
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
        large = services.case_is_large(case=case)
    else:
        large = services.version_is_large(version=version)
    if large:
        count = case.nodes.count() if version is None else len(version.snapshot.get("nodes") or [])
        recent = case.pdf_exports.filter(created_by=request.user, version=version)[:5]
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
    case = _get_case_for_user(request, case_id)
    export = case.pdf_exports.select_related("version").filter(pk=export_id).first()
    if export is None:
        raise Http404(f"Case {case.pk} has no export {export_id}.")
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
