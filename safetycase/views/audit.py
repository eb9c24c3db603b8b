"""The audit trail page of a case: every recorded change, newest first, 50 a page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from safetycase import selectors
from safetycase.views.access import case_for_user_or_404

ENTRIES_PER_PAGE = 50


@login_required
def case_audit(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    page = Paginator(selectors.case_audit_refs(case=case), ENTRIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"case": case, "page": page, "entries": selectors.audit_entries(page.object_list)}
    return render(request, "safetycase/audit.html", context)
