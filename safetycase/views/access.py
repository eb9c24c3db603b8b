"""Who may open a page: the case, run or object the URL names, or 404 (403 where the user may
see the case but not do this)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden

from safetycase import selectors
from safetycase.errors import ApplicationError, NotFound, PermissionDenied


def case_for_user_or_404(request: HttpRequest, case_id: int):
    """The case, if the user is a member; 404 otherwise, so that case names do not leak."""
    try:
        return selectors.case_for_user(user=request.user, case_id=case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def case_for_author_or_403(request: HttpRequest, case_id: int):
    """The case, if the user may edit it: 404 for outsiders, 403 for reviewers and viewers."""
    case = case_for_user_or_404(request, case_id)
    if not request.user.has_perm("safetycase.edit_argument", case):
        raise Forbidden(f"Only authors of case {case.pk} may edit it.")
    return case


def run_for_user_or_404(request: HttpRequest, run_id: int):
    """Who may see a run is decided in selectors.run_for_user, for every run view."""
    try:
        return selectors.run_for_user(user=request.user, run_id=run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def found_or_404(read, **kwargs):
    """The object a selector finds, or 404 with the selector's sentence."""
    try:
        return read(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def node_or_404(case, identifier: str):
    return found_or_404(selectors.node_for_case, case=case, identifier=identifier)


def perform_service(request: HttpRequest, action, success: str) -> HttpResponse | None:
    """Run a service for a form that posts and redirects: None when it succeeded (with
    `success` as the page's message) or when it refused with a sentence (shown as an error);
    a 403 response for a permission refusal; 404 when what it acts on is gone."""
    try:
        action()
    except PermissionDenied as exc:
        return HttpResponseForbidden(exc.message)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return None
    messages.success(request, success)
    return None
