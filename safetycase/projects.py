"""Cases in projects: the effective role of a user on a case, the project a new case goes
into, and the runs a case may cite.

Projects themselves (members, roles, shares) live in the evidence app (evidence.projects),
because runs belong to them and that app never imports this one. Here:

- A user's role on a case is their case membership's role if they have one, else their role
  in the case's project (a project member is, say, a reviewer of all its cases unless a case
  makes them something else).
- A new case goes into the project named by its creator, who must be an author or owner of
  it; with no project named, into the creator's only such project; when they have none, into
  a new project of their own named after the case.
"""

from __future__ import annotations

from django.db.models import Q

from evidence import projects as evidence_projects
from evidence.choices import ProjectRole
from evidence.models import Project, ProjectMembership
from safetycase.errors import ApplicationError

CREATES_CASES = (ProjectRole.OWNER, ProjectRole.AUTHOR)


def member_of_case_q(user) -> Q:
    """A filter on SafetyCase: the cases the user has a role on (own or through the project)."""
    return Q(memberships__user=user) | Q(project__memberships__user=user)


def effective_role(*, user, case, case_role: str | None) -> str | None:
    """The case's own membership role if any, else the user's role in the case's project."""
    if case_role is not None:
        return case_role
    return evidence_projects.project_role(user=user, project_id=case.project_id)


def project_for_new_case(*, name: str, owner=None, project=None) -> Project:
    """Where a case named `name` created by `owner` goes (see the module's docstring)."""
    if isinstance(project, Project):
        return project
    if project:
        found = (
            Project.objects.filter(
                name=project, memberships__user=owner, memberships__role__in=CREATES_CASES
            ).first()
            if owner is not None
            else Project.objects.filter(name=project).first()  # a command run by an operator
        )
        if found is None:
            raise ApplicationError(
                f"You are not an author or owner of a project named {project!r}."
            )
        return found
    mine = (
        list(
            Project.objects.filter(
                memberships__user=owner, memberships__role__in=CREATES_CASES
            ).order_by("name")[:2]
        )
        if owner is not None
        else []
    )
    if len(mine) == 1:
        return mine[0]
    if len(mine) > 1:
        raise ApplicationError(
            "You are an author or owner of several projects: say which one the case belongs "
            "to with `project`."
        )
    return _own_project(name, owner)


def _own_project(case_name: str, owner) -> Project:
    base = "".join(c if c.isalnum() or c in " _-." else "-" for c in case_name).strip(" _-.")
    base = (base or "project")[:90]
    name, number = base, 1
    while Project.objects.filter(name=name).exists():
        number += 1
        name = f"{base} {number}"
    return evidence_projects.project_create(name=name, owner=owner)


def owner_role_in_project(*, user, project: Project) -> bool:
    return ProjectMembership.objects.filter(
        project=project, user=user, role=ProjectRole.OWNER
    ).exists()


def project_for_token(*, user, project=None) -> Project | None:
    """The project of a new API token: the one named (the user must be a member of it), or
    the user's only project. A user in no project gets a token of no project (it reads and
    writes cases as its user, but cannot upload); a user in several must name one."""
    mine = Project.objects.filter(memberships__user=user)
    if isinstance(project, Project):
        project = project.name
    if project:
        found = mine.filter(name=project).first()
        if found is None:
            raise ApplicationError(f"{user} is not a member of a project named {project!r}.")
        return found
    projects = list(mine.order_by("name")[:2])
    if len(projects) > 1:
        raise ApplicationError(
            f"{user} is a member of several projects; say which one the token belongs to "
            "with --project."
        )
    return projects[0] if projects else None
