"""Managing who is a member of a case, and in which role. Owners only.

Rules:
- An owner adds a member by username with a role, changes a member's role, or removes a member.
- A case always keeps at least one owner: the last owner can be neither removed nor demoted.
- Every change is saved through the model, so django-simple-history records who made it
  (the acting owner, also outside a web request), when, and the role before and after.

`membership_set` is the unchecked path for case creation, fixtures and commands.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from safetycase.choices import Role
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.models import Membership, SafetyCase
from safetycase.services.checks import validate_choice


def membership_set(*, case: SafetyCase, user, role: str) -> Membership:
    """Give `user` this role in the case, without a permission check (fixtures, commands,
    case creation). Owners manage members through `membership_add` and the others below."""
    validate_choice(role, Role, "role")
    membership = Membership.objects.filter(case=case, user=user).first()
    if membership is None:
        return Membership.objects.create(case=case, user=user, role=role)
    membership.role = role
    membership.save()
    return membership


def _require_owner(actor, case: SafetyCase) -> None:
    if not actor.has_perm("safetycase.manage_members", case):
        raise PermissionDenied(f"Only owners of case {case.pk} may manage its members.")


def _lock_case(case: SafetyCase) -> None:
    """Serialise membership changes of one case, so that two owners demoting each other at
    the same time cannot both pass the last-owner check."""
    SafetyCase.objects.select_for_update().filter(pk=case.pk).first()


def _reload_role(membership: Membership) -> None:
    """Read the role again under the case lock: it may have changed since the page loaded."""
    try:
        membership.refresh_from_db(fields=["role"])
    except Membership.DoesNotExist as exc:
        raise NotFound(f"{membership.user} is no longer a member of this case.") from exc


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.filter(case=membership.case_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def membership_add(*, actor, case: SafetyCase, username: str, role: str) -> Membership:
    """Make the user named `username` a member of the case with `role`."""
    _require_owner(actor, case)
    validate_choice(role, Role, "role")
    username = (username or "").strip()
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None:
        raise ApplicationError(f"There is no user named {username!r}.")
    _lock_case(case)
    if Membership.objects.filter(case=case, user=user).exists():
        raise Conflict(
            f"{username} is already a member of case {case.pk}; change their role instead."
        )
    membership = Membership(case=case, user=user, role=role)
    membership._history_user = actor
    membership.save()
    return membership


@transaction.atomic
def membership_change_role(*, actor, membership: Membership, role: str) -> Membership:
    """Give a member another role; the last owner cannot be demoted."""
    _require_owner(actor, membership.case)
    validate_choice(role, Role, "role")
    _lock_case(membership.case)
    _reload_role(membership)
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise Conflict(
            f"{membership.user} is the last owner of case {membership.case_id}; make someone "
            "else an owner first."
        )
    membership.role = role
    membership._history_user = actor
    membership.save()
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership) -> None:
    """Remove a member from the case; the last owner cannot be removed."""
    _require_owner(actor, membership.case)
    _lock_case(membership.case)
    _reload_role(membership)
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise Conflict(
            f"{membership.user} is the last owner of case {membership.case_id}; make someone "
            "else an owner before removing them."
        )
    membership._history_user = actor
    membership.delete()
