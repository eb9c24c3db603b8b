"""Object permissions on cases, as django-rules predicates over a user's effective role on a
case (owner, author, reviewer, viewer): the case membership's role, else the role in the case's
project (safetycase.projects.effective_role).

Node and link permissions are checked against their case.
"""

from __future__ import annotations

import rules

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
