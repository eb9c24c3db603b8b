"""Reads of API tokens."""

from __future__ import annotations

import hashlib

from safetycase.models import ApiToken


def key_digest(key: str) -> str:
    """What is stored of an API key: its sha256."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_for_key(*, key: str) -> ApiToken | None:
    """The token (with its user) whose key this is, revoked or not; None for an unknown key."""
    return ApiToken.objects.select_related("user").filter(key_sha256=key_digest(key)).first()
