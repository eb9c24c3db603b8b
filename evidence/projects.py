"""Projects, their members and their shares: who may upload into, read from and use the runs
of which project.

A project is the tenant. Every run belongs to exactly one project: the project of the token
that uploaded it, or the one the uploader named. Identity of evidence (de-duplication, harness
ids, lm-eval samples matching) never looks outside it, so nothing another project uploads can
take the place of a project's own run.

Who sees a run: members of its project, members of a case of its project, and, for runs that
project shares with another (a `Share`, explicit and revocable), the members of that other
project and of its cases. Everyone else is told the run does not exist (404), as for cases.

Which runs a case's bindings read: the runs of the case's project and the runs shared with it
(`runs_usable_in_project`). Superseded runs are kept for the record but read by nothing.

This module reaches the cases of a project through the ORM relation names (`cases`,
`cases__memberships`) that the argument app declares on its models: the evidence app never
imports the argument app.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from evidence.choices import ProjectRole
from evidence.models import EvaluationRun, Project, ProjectMembership, Share

PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")
SHARE_SELECTOR_KEYS = {"task", "model"}


class ProjectRefused(Exception):
    """A project request that cannot be done; `status_code` is the HTTP answer (400, 403,
    404, 409) and `message` says why in a sentence."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


# ---------------------------------------------------------------------------------------------
# Reads


def projects_for_user(*, user) -> QuerySet[Project]:
    """The projects the user is a member of, by name."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user).order_by("name")


def project_for_user(*, user, project_id: int) -> Project:
    """A project the user is a member of; otherwise 404 (project names do not leak)."""
    project = projects_for_user(user=user).filter(pk=project_id).first()
    if project is None:
        raise ProjectRefused(f"There is no project {project_id} that you can see.", 404)
    return project


def project_role(*, user, project_id: int | None) -> str | None:
    if not user.is_authenticated or project_id is None:
        return None
    return (
        ProjectMembership.objects.filter(project_id=project_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def project_members(*, project: Project) -> list[ProjectMembership]:
    """The project's memberships, owners first, then by username."""
    order = {role: position for position, role in enumerate(ProjectRole.values)}
    members = list(ProjectMembership.objects.filter(project=project).select_related("user"))
    return sorted(members, key=lambda m: (order.get(m.role, len(order)), m.user.username))


def project_for_upload(*, user, name: str = "", token=None) -> Project:
    """The project an upload lands in: the token's; else the named one (the uploader must be a
    member); else the uploader's only project."""
    token_project_id = getattr(token, "project_id", None)
    if token is not None and token_project_id is None:
        raise ProjectRefused(
            "This API token belongs to no project, so it cannot upload; create one with "
            "`manage.py create_token USERNAME --project NAME --ingest`."
        )
    mine = projects_for_user(user=user)
    if token_project_id is not None:
        project = mine.filter(pk=token_project_id).first()
        if project is None:
            raise ProjectRefused(
                "The owner of this API token is no longer a member of its project, so it "
                "cannot upload there.",
                403,
            )
        if name and name != project.name:
            raise ProjectRefused(
                f"This API token uploads into project {project.name!r}, not {name!r}."
            )
        return project
    if name:
        project = mine.filter(name=name).first()
        if project is None:
            raise ProjectRefused(f"You are not a member of a project named {name!r}.")
        return project
    projects = list(mine[:2])
    if not projects:
        raise ProjectRefused(
            "You are not a member of any project, so there is nowhere to put this log; ask a "
            "project owner to add you."
        )
    if len(projects) > 1:
        raise ProjectRefused(
            "You are a member of several projects: say which one with the `project` field "
            "(`--project` for commands)."
        )
    return projects[0]


def _active_shares_to(project_q: Q) -> list[Share]:
    return list(Share.objects.filter(project_q, revoked_at__isnull=True))


def _shared_runs_q(shares: list[Share]) -> Q:
    """Runs the given shares cover: listed runs, or runs matching their selector."""
    q = Q(pk__in=[])
    listed = [share.pk for share in shares if not share.selector]
    if listed:
        through = Share.runs.through.objects.filter(share_id__in=listed)
        q |= Q(pk__in=through.values("evaluationrun_id"))
    for share in shares:
        if share.selector:
            q |= Q(project_id=share.from_project_id, **_selector_filter(share.selector))
    return q


def _selector_filter(selector: dict[str, Any]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    task = selector.get("task")
    if isinstance(task, list):
        filters["task__in"] = [str(t) for t in task]
    elif task:
        filters["task"] = str(task)
    if selector.get("model"):
        filters["model"] = str(selector["model"])
    return filters


def runs_usable_in_project(*, project_id: int) -> Q:
    """A filter on EvaluationRun: the runs the cases of this project may use as evidence (its
    own and those shared with it), never superseded ones."""
    shares = _active_shares_to(Q(to_project_id=project_id))
    return (Q(project_id=project_id) | _shared_runs_q(shares)) & Q(superseded_at__isnull=True)


def projects_using_run(*, run: EvaluationRun) -> set[int]:
    """Ids of the projects whose cases may use this run: its own and those it is shared with."""
    if run.superseded_at is not None:
        return set()
    shares = _active_shares_to(Q(from_project_id=run.project_id))
    using = {run.project_id}
    for share in shares:
        if share.to_project_id in using:
            continue
        if EvaluationRun.objects.filter(_shared_runs_q([share]), pk=run.pk).exists():
            using.add(share.to_project_id)
    return using


def visible_runs(*, user, token=None) -> QuerySet[EvaluationRun]:
    """The runs the user may read (list, detail, page, samples, log). A token that belongs to
    a project narrows this to the runs of that project and those shared with it."""
    if not user.is_authenticated:
        return EvaluationRun.objects.none()
    member_of = Q(memberships__user=user) | Q(cases__memberships__user=user)
    projects = Project.objects.filter(member_of)
    token_project_id = getattr(token, "project_id", None)
    if token_project_id is not None:
        projects = projects.filter(pk=token_project_id)
    project_ids = projects.values("pk")  # a subquery, not a query of its own
    shares = _active_shares_to(Q(to_project_id__in=project_ids))
    return EvaluationRun.objects.filter(Q(project_id__in=project_ids) | _shared_runs_q(shares))


def shares_of_project(*, project: Project) -> QuerySet[Share]:
    """Shares the project gives and receives, newest first, with their runs' ids."""
    return (
        Share.objects.filter(Q(from_project=project) | Q(to_project=project))
        .select_related("from_project", "to_project", "created_by", "revoked_by")
        .prefetch_related("runs")
        .order_by("-created_at", "-id")
    )


# ---------------------------------------------------------------------------------------------
# Writes


def _validate_role(role: str) -> None:
    if role not in ProjectRole.values:
        raise ProjectRefused(
            f"{role!r} is not a role; expected one of: {', '.join(ProjectRole.values)}."
        )


@transaction.atomic
def project_create(*, name: str, owner=None, description: str = "") -> Project:
    """A new project; `owner`, if given, becomes its owner."""
    name = (name or "").strip()
    if not PROJECT_NAME.match(name):
        raise ProjectRefused(
            f"{name!r} is not a valid project name: 1 to 100 letters, digits, spaces, '_', "
            "'-' or '.', starting with a letter or digit."
        )
    if Project.objects.filter(name=name).exists():
        raise ProjectRefused(f"A project named {name!r} already exists.", 409)
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name, description=description)
    except IntegrityError as exc:  # created by someone else in the meantime
        raise ProjectRefused(f"A project named {name!r} already exists.", 409) from exc
    if owner is not None:
        project_member_set(project=project, user=owner, role=ProjectRole.OWNER)
    return project


def project_member_set(*, project: Project, user, role: str) -> ProjectMembership:
    """Give `user` this role in the project, without a permission check (commands, fixtures,
    project creation)."""
    _validate_role(role)
    membership, created = ProjectMembership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save()
    return membership


def _require_project_owner(actor, project: Project, doing: str) -> None:
    if project_role(user=actor, project_id=project.pk) != ProjectRole.OWNER:
        if project_role(user=actor, project_id=project.pk) is None:
            raise ProjectRefused(f"There is no project {project.pk} that you can see.", 404)
        raise ProjectRefused(f"Only owners of project {project.name!r} may {doing}.", 403)


@transaction.atomic
def project_member_add(*, actor, project: Project, username: str, role: str) -> ProjectMembership:
    _require_project_owner(actor, project, "manage its members")
    _validate_role(role)
    user = get_user_model().objects.filter(username=(username or "").strip()).first()
    if user is None:
        raise ProjectRefused(f"There is no user named {username!r}.")
    Project.objects.select_for_update().filter(pk=project.pk).first()
    membership = ProjectMembership.objects.filter(project=project, user=user).first()
    if membership is not None and membership.role == role:
        return membership
    if membership is not None and membership.role == ProjectRole.OWNER:
        _keep_an_owner(project, membership)
    membership = membership or ProjectMembership(project=project, user=user)
    membership.role = role
    membership._history_user = actor
    membership.save()
    return membership


@transaction.atomic
def project_member_remove(*, actor, project: Project, username: str) -> None:
    _require_project_owner(actor, project, "manage its members")
    Project.objects.select_for_update().filter(pk=project.pk).first()
    membership = ProjectMembership.objects.filter(project=project, user__username=username).first()
    if membership is None:
        raise ProjectRefused(f"{username!r} is not a member of project {project.name!r}.", 404)
    if membership.role == ProjectRole.OWNER:
        _keep_an_owner(project, membership)
    membership._history_user = actor
    membership.delete()


def _keep_an_owner(project: Project, membership: ProjectMembership) -> None:
    others = ProjectMembership.objects.filter(project=project, role=ProjectRole.OWNER).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise ProjectRefused(
            f"{membership.user} is the last owner of project {project.name!r}; make someone "
            "else an owner first.",
            409,
        )


def _validate_share_selector(selector: Any) -> dict[str, Any]:
    if not selector:
        return {}
    if not isinstance(selector, dict):
        raise ProjectRefused("A share's selector must be a JSON object with `task` and `model`.")
    unknown = sorted(set(selector) - SHARE_SELECTOR_KEYS)
    if unknown:
        raise ProjectRefused(
            f"A share's selector knows only `task` and `model`, not {', '.join(unknown)}."
        )
    task = selector.get("task")
    if not task or not (
        isinstance(task, str) or (isinstance(task, list) and all(isinstance(t, str) for t in task))
    ):
        raise ProjectRefused("A share's selector must name a `task` (a name or a list of names).")
    if "model" in selector and not isinstance(selector["model"], str):
        raise ProjectRefused("A share selector's `model` must be a model name.")
    return dict(selector)


@transaction.atomic
def share_create(
    *,
    actor,
    from_project: Project,
    to_project_name: str,
    run_ids: list[int] | None = None,
    selector: dict[str, Any] | None = None,
    note: str = "",
) -> Share:
    """Owners of `from_project` let the cases of another project use chosen runs: listed by
    id (runs of `from_project`), or every run (now and later) matching a task/model selector."""
    _require_project_owner(actor, from_project, "share its runs")
    to_project = Project.objects.filter(name=(to_project_name or "").strip()).first()
    if to_project is None:
        raise ProjectRefused(f"There is no project named {to_project_name!r} to share with.")
    if to_project.pk == from_project.pk:
        raise ProjectRefused("A project's cases already use its own runs; share with another.")
    selector = _validate_share_selector(selector)
    run_ids = run_ids or []
    if not isinstance(run_ids, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) for r in run_ids
    ):
        raise ProjectRefused("`runs` must be a list of run ids.")
    if bool(run_ids) == bool(selector):
        raise ProjectRefused(
            "Say what to share: either `runs` (a list of run ids) or a `selector` "
            '({"task": ..., "model": ...}), not both and not neither.'
        )
    own = set(
        EvaluationRun.objects.filter(project=from_project, pk__in=run_ids).values_list(
            "pk", flat=True
        )
    )
    missing = sorted(set(run_ids) - own)
    if missing:
        raise ProjectRefused(
            f"Project {from_project.name!r} has no runs {', '.join(map(str, missing))}; only a "
            "project's own runs can be shared."
        )
    share = Share(
        from_project=from_project,
        to_project=to_project,
        selector=selector,
        note=note,
        created_by=actor,
    )
    share._history_user = actor
    share.save()
    if run_ids:
        share.runs.set(run_ids)
    return share


@transaction.atomic
def share_revoke(*, actor, share: Share) -> Share:
    """Stop sharing; the row stays (who shared, who revoked, when)."""
    _require_project_owner(actor, share.from_project, "revoke its shares")
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.revoked_by = actor
        share._history_user = actor
        share.save()
    return share
