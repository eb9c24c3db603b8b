"""Checks every service makes before it writes: permission, identifiers, choices, and that
the row was not changed since the editor loaded it."""

from __future__ import annotations

import re

from django.utils.dateparse import parse_datetime

from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def require_permission(actor, perm: str, case, doing: str) -> None:
    if not actor.has_perm(perm, case):
        raise PermissionDenied(f"Only authors of case {case.pk} may {doing}.")


def validate_identifier(identifier: str) -> None:
    if not IDENTIFIER_PATTERN.match(identifier or "") or len(identifier) > 100:
        raise ApplicationError(
            f"{identifier!r} is not a valid node identifier: use letters, digits, '_', '-' "
            "or '.', starting with a letter or digit (at most 100 characters)."
        )


def validate_choice(value: str, choices: type, what: str) -> None:
    if value not in choices.values:
        raise ApplicationError(
            f"{value!r} is not a {what}; expected one of: {', '.join(choices.values)}."
        )


def check_unchanged(obj, label: str, expected_updated_at) -> None:
    """Conflict when `obj` was saved after `expected_updated_at` (a datetime or ISO string).
    Call inside the transaction that saves `obj`."""
    if expected_updated_at is None:
        return
    if isinstance(expected_updated_at, str):
        expected = parse_datetime(expected_updated_at)
        if expected is None:
            raise ApplicationError(f"{expected_updated_at!r} is not a timestamp.")
    else:
        expected = expected_updated_at
    # Locked until the caller's transaction ends, so two saves cannot both pass this check.
    rows = type(obj).objects.select_for_update().filter(pk=obj.pk)
    current = rows.values_list("updated_at", flat=True).first()
    if current is None:
        raise NotFound(f"{label} no longer exists; someone deleted it.")
    if current != expected:
        raise Conflict(
            f"{label} was changed by someone else since you opened this form; "
            "reload to see their change.",
            extra={"updated_at": current.isoformat()},
        )
