"""The Members page of a project: every member sees who is in it and in which role, and the
shares it gives and receives; owners add a member or change a role (the same form) and remove
members. A member's project role applies to every case of the project unless the case gives
them another. Thin: evidence.projects does the work."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from evidence import projects
from evidence.choices import ProjectRole


class ProjectMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=ProjectRole.choices, initial=ProjectRole.VIEWER)


def _project(request: HttpRequest, project_id: int):
    try:
        return projects.project_for_user(user=request.user, project_id=project_id)
    except projects.ProjectRefused as exc:
        raise Http404(exc.message) from exc


@login_required
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: members and shares. POST (owners): add a member or change a member's role."""
    project = _project(request, project_id)
    role = projects.project_role(user=request.user, project_id=project.pk)
    can_manage = role == ProjectRole.OWNER
    form = ProjectMemberForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            return HttpResponseForbidden(f"Only owners of project {project.name} manage members.")
        if form.is_valid():
            try:
                membership = projects.project_member_add(
                    actor=request.user, project=project, **form.cleaned_data
                )
            except projects.ProjectRefused as exc:
                form.add_error("username", exc.message)
            else:
                messages.success(request, f"{membership.user} is now {membership.role}.")
                return redirect("project_members", project_id=project.pk)
    context = {
        "project": project,
        "members": projects.project_members(project=project),
        "shares": projects.shares_of_project(project=project),
        "form": form,
        "can_manage": can_manage,
    }
    status = 400 if form.errors else 200
    return render(request, "safetycase/project_members.html", context, status=status)


@login_required
@require_POST
def project_member_remove(request: HttpRequest, project_id: int, username: str) -> HttpResponse:
    project = _project(request, project_id)
    try:
        projects.project_member_remove(actor=request.user, project=project, username=username)
    except projects.ProjectRefused as exc:
        if exc.status_code == 403:
            return HttpResponseForbidden(exc.message)
        if exc.status_code == 404:
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{username} is no longer a member.")
    return redirect("project_members", project_id=project.pk)
