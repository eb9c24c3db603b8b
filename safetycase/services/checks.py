"""Checks every service makes before it writes: permission, identifiers, choices, and that
the row was not changed since the editor loaded it."""

from __future__ import annotations

import unicodedata

from django.utils.dateparse import parse_datetime

from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied

IDENTIFIER_PUNCTUATION = frozenset("_.-")


def identifier_is_valid(identifier: str) -> bool:
    """Letters and digits of any script (gsn2x accepts any YAML key, so "Gü1" or "G安全1" must
    import), their combining marks, and '_', '.', '-' after a first letter or digit.

    No spaces, '/', ',' or '?': identifiers travel in URL paths (percent-encoded by Django's
    reverse()) and in comma-separated `?fold=` lists.
    """
    if not identifier or len(identifier) > 100 or not identifier[0].isalnum():
        return False
    return all(
        char.isalnum()
        or char in IDENTIFIER_PUNCTUATION
        or unicodedata.category(char).startswith("M")
        for char in identifier
    )


def require_permission(actor, perm: str, case, doing: str) -> None:
    if not actor.has_perm(perm, case):
        raise PermissionDenied(f"Only authors of case {case.pk} may {doing}.")


def validate_identifier(identifier: str) -> None:
    if not identifier_is_valid(identifier):
        raise ApplicationError(
            f"{identifier!r} is not a valid node identifier: use letters (of any script), "
            "digits, '_', '-' or '.', starting with a letter or digit, without spaces (at most "
            "100 characters)."
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
