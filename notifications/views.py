"""Web pages: the inbox, and watching a case or a node. Thin: services and selectors work."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from notifications import selectors, services
from safetycase.errors import ApplicationError
from safetycase.views.access import case_for_user_or_404


@login_required
@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        marked = services.notifications_mark_read(actor=request.user)
        messages.success(request, f"Marked {marked} notification(s) read.")
        return redirect("inbox")
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(selectors.inbox(user=request.user, unread_only=unread_only), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/inbox.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def watch_toggle(request: HttpRequest, case_id: int) -> HttpResponse:
    """Watch or stop watching the case (no `node`) or one of its nodes."""
    case = case_for_user_or_404(request, case_id)
    node = request.POST.get("node", "")
    try:
        if request.POST.get("action") == "unwatch":
            services.unwatch(actor=request.user, case=case, node_identifier=node)
            messages.success(request, f"You no longer watch {node or case.name}.")
        else:
            services.watch(actor=request.user, case=case, node_identifier=node)
            messages.success(
                request, f"You watch {node or case.name}: changes reach your inbox and e-mail."
            )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = case.get_absolute_url()
    return redirect(target)
