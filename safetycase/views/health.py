"""Health check for load balancers and compose healthchecks."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from safetycase.health import health_report


def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker health for load balancers and compose healthchecks."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
