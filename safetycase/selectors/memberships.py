"""Reads of a case's members."""

from __future__ import annotations

from safetycase.choices import Role
from safetycase.errors import NotFound
from safetycase.models import Membership, SafetyCase


def case_members(*, case: SafetyCase):
    """The case's memberships with their users, owners first, then by username."""
    order = {role: position for position, role in enumerate(Role.values)}
    members = list(Membership.objects.filter(case=case).select_related("user"))
    return sorted(members, key=lambda m: (order.get(m.role, len(order)), m.user.username))


def membership_for_case(*, case: SafetyCase, username: str) -> Membership:
    membership = (
        Membership.objects.filter(case=case, user__username=username).select_related("user").first()
    )
    if membership is None:
        raise NotFound(f"{username!r} is not a member of case {case.pk}.")
    membership.case = case  # keeps the membership cache of the selector that loaded the case
    return membership
