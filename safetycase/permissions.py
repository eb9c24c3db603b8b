"""Object permissions on cases, as django-rules predicates over a user's effective role on a
case (owner, author, reviewer, viewer): the case membership's role, else the role in the case's
project (safetycase.projects.effective_role).

Node and link permissions are checked against their case.

Independence (who may sign a version, who may close a challenge) is decided here by role and
never through `has_perm`, which Django answers "yes" for every superuser: see
`sign_off_refusal`.
"""

from __future__ import annotations

import rules

from evidence.models import ProjectMembership
from safetycase import projects
from safetycase.choices import Role


def _role(user, case) -> str | None:
    if not user.is_authenticated or case is None:
        return None
    # Memberships may be prefetched by the selector that loaded the case.
    cache = getattr(case, "_role_cache", None)
    if cache is None:
        cache = case._role_cache = {}
    if user.pk not in cache:
        membership = case.memberships.filter(user=user).only("role").first()
        cache[user.pk] = projects.effective_role(
            user=user, case=case, case_role=membership.role if membership else None
        )
    return cache[user.pk]


@rules.predicate
def is_case_member(user, case) -> bool:
    return _role(user, case) is not None


@rules.predicate
def is_case_author(user, case) -> bool:
    """Authors and owners: an owner can do everything an author can."""
    return _role(user, case) in (Role.AUTHOR, Role.OWNER)


@rules.predicate
def is_case_owner(user, case) -> bool:
    return _role(user, case) == Role.OWNER


@rules.predicate
def is_case_reviewer(user, case) -> bool:
    return _role(user, case) == Role.REVIEWER


rules.add_perm("safetycase.view_case", is_case_member)
rules.add_perm("safetycase.edit_argument", is_case_author)
rules.add_perm("safetycase.review_case", is_case_reviewer)
rules.add_perm("safetycase.manage_members", is_case_owner)


WRITES_THE_CASE = (Role.OWNER, Role.AUTHOR)


def _roles_held(user, case) -> set[str]:
    """Every role the user holds on the case: the case membership's and the project's (a
    project owner who made themselves a case reviewer still owns the case)."""
    held = set(case.memberships.filter(user=user).values_list("role", flat=True))
    held |= set(
        ProjectMembership.objects.filter(project_id=case.project_id, user=user).values_list(
            "role", flat=True
        )
    )
    return held


def _edited_the_argument(user, case) -> bool:
    from safetycase.models import Link, Node

    return (
        Node.history.filter(case_id=case.pk, history_user=user).exists()
        or Link.history.filter(case_id=case.pk, history_user=user).exists()
    )


def sign_off_refusal(user, case) -> str | None:
    """Why the user may not sign (or co-sign) a version of the case, or None if they may.

    Only the case's reviewers sign, and only those independent of it: nobody who owns or
    authors the case (in the case or its project) or who edited its nodes or links. Superuser
    status counts for nothing here."""
    if not user.is_authenticated:
        return "Sign in to sign off a case."
    role = _role(user, case)
    if role != Role.REVIEWER:
        superuser = " (being a superuser does not count)" if user.is_superuser else ""
        return (
            f"Only reviewers of case {case.pk} sign off its versions; you are "
            f"{'its ' + role if role else 'not a member of it'}{superuser}."
        )
    written = _roles_held(user, case) & set(WRITES_THE_CASE)
    if written:
        return (
            f"You are {'an owner' if Role.OWNER in written else 'an author'} of case {case.pk} "
            "(in the case or its project), so you cannot sign it: a sign-off needs a reviewer "
            "independent of the argument."
        )
    if _edited_the_argument(user, case):
        return (
            f"You edited the argument of case {case.pk}, so you cannot sign it: a sign-off "
            "needs a reviewer independent of the argument."
        )
    return None


def is_independent_reviewer(user, case) -> bool:
    return sign_off_refusal(user, case) is None


def challenge_close_refusal(user, challenge) -> str | None:
    """Why the user may not close (or reject the response to) a challenge: its raiser or
    another independent reviewer closes it; an author only responds."""
    case = challenge.case
    if user.is_authenticated and challenge.raised_by_id == user.pk:
        return None
    if sign_off_refusal(user, case) is None:
        return None
    return (
        f"Only the reviewer who raised a challenge or another reviewer of case {case.pk} "
        "closes it; the case's authors respond to it."
    )
