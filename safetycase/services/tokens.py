"""API tokens: created with their key shown once, stored as the key's sha256, revoked."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from safetycase import projects
from safetycase.errors import ApplicationError
from safetycase.models import ApiToken
from safetycase.selectors.tokens import key_digest

# Recording every use would write on every request; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def token_create(*, user, scopes: list[str], name: str = "", project=None) -> tuple[ApiToken, str]:
    """A new API key for `user` in `project` (a Project, a project name, or None for the
    user's only project; see safetycase.projects.project_for_token). Returns the token and
    the key; the key is not stored (only its sha256), so this is the only time anyone sees it."""
    project = projects.project_for_token(user=user, project=project)
    unknown = sorted(set(scopes) - set(ApiToken.SCOPES))
    if unknown or not scopes:
        raise ApplicationError(
            f"Token scopes must be some of {', '.join(ApiToken.SCOPES)}; got {', '.join(scopes)}."
        )
    key = "sct_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        project=project,
        name=name,
        key_sha256=key_digest(key),
        prefix=key[:12],
        scopes=sorted(set(scopes)),
    )
    return token, key


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save()
    return token


def token_mark_used(*, token: ApiToken, now=None) -> None:
    """Record that the token was used now (at most once a minute: not a write per request)."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
