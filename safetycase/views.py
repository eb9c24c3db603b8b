"""Server-rendered pages: case list, case page with its diagram, node page, health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from safetycase import selectors
from safetycase.errors import NotFound
from safetycase.health import health_report
from safetycase.rendering import DiagramError


def _get_case_for_user(request: HttpRequest, case_id: int):
    try:
        return selectors.case_for_user(user=request.user, case_id=case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = selectors.cases_for_user(user=request.user)
    return render(request, "safetycase/case_list.html", {"cases": cases})


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _get_case_for_user(request, case_id)
    findings = selectors.case_findings(case=case)
    assessment = selectors.latest_assessment(case=case)
    statuses = assessment.statuses if assessment else None
    try:
        # The SVG comes from our own renderer, with every user string escaped in the DOT.
        svg = selectors.case_diagram_svg(case=case, statuses=statuses)
        diagram, diagram_error = mark_safe(svg), None
    except DiagramError as exc:
        diagram, diagram_error = None, str(exc)
    flags = sorted(
        assessment.flags if assessment else [],
        key=lambda f: ({"error": 0, "warning": 1}.get(f["severity"], 2), f["node"], f["type"]),
    )
    context = {
        "case": case,
        "assessment": assessment,
        "flags": flags,
        "diagram": diagram,
        "diagram_error": diagram_error,
        "findings": findings,
        "nodes": selectors.case_nodes(case=case),
    }
    return render(request, "safetycase/case_detail.html", context)


@login_required
def node_detail(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    case = _get_case_for_user(request, case_id)
    try:
        node = selectors.node_for_case(case=case, identifier=identifier)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    links = selectors.case_links(case=case)
    context = {
        "case": case,
        "node": node,
        "outgoing": [link for link in links if link.source_id == node.pk],
        "incoming": [link for link in links if link.target_id == node.pk],
        "findings": [f for f in selectors.case_findings(case=case) if f.node == node.identifier],
        "history": node.history.select_related("history_user").order_by("-history_date")[:20],
    }
    return render(request, "safetycase/node_detail.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker health for load balancers and compose healthchecks."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
