"""The Members page of a case: every member sees who is in it and in which role; owners add
members by username, change roles and remove members. Plain POST forms that redirect back, so
the page works without JavaScript. Outsiders get 404; members who are not owners get 403 if they
post. The rules (the last owner stays) are in safetycase.services.memberships.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from safetycase import selectors, services
from safetycase.choices import Role
from safetycase.errors import ApplicationError
from safetycase.views.access import case_for_user_or_404, perform_service


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


def _can_manage(request: HttpRequest, case) -> bool:
    return request.user.has_perm("safetycase.manage_members", case)


@login_required
def case_members(request: HttpRequest, case_id: int) -> HttpResponse:
    """GET: the members. POST (owners): add a member."""
    case = case_for_user_or_404(request, case_id)
    form = MemberAddForm(request.POST or None)
    if request.method == "POST":
        if not _can_manage(request, case):
            return HttpResponseForbidden(f"Only owners of case {case.pk} may manage its members.")
        if form.is_valid():
            try:
                membership = services.membership_add(
                    actor=request.user, case=case, **form.cleaned_data
                )
            except ApplicationError as exc:
                form.add_error(
                    "role" if "is not a role" in exc.message else "username", exc.message
                )
            else:
                messages.success(
                    request, f"{membership.user} is now {membership.get_role_display().lower()}."
                )
                return redirect("case_members", case_id=case.pk)
    context = {
        "case": case,
        "members": selectors.case_members(case=case),
        "form": form,
        "roles": Role.choices,
        "can_manage": _can_manage(request, case),
    }
    return render(request, "safetycase/members.html", context, status=400 if form.errors else 200)


def _change(request: HttpRequest, case_id: int, username: str, action, success: str):
    """Run a membership change; refusals become 403, 404 or a message on the page."""
    case = case_for_user_or_404(request, case_id)
    if not _can_manage(request, case):
        return HttpResponseForbidden(f"Only owners of case {case.pk} may manage its members.")
    refused = perform_service(
        request,
        lambda: action(selectors.membership_for_case(case=case, username=username)),
        success,
    )
    return refused or redirect("case_members", case_id=case.pk)


@login_required
@require_POST
def member_change_role(request: HttpRequest, case_id: int, username: str) -> HttpResponse:
    role = request.POST.get("role", "")
    return _change(
        request,
        case_id,
        username,
        lambda m: services.membership_change_role(actor=request.user, membership=m, role=role),
        f"{username} is now {role}.",
    )


@login_required
@require_POST
def member_remove(request: HttpRequest, case_id: int, username: str) -> HttpResponse:
    return _change(
        request,
        case_id,
        username,
        lambda m: services.membership_remove(actor=request.user, membership=m),
        f"{username} is no longer a member.",
    )
