"""API keys: `Authorization: Token <key>`, looked up by the key's sha256."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from safetycase.models import ApiToken

# Recording every use would write on every request; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = ApiToken.objects.select_related("user").filter(key_sha256=key_digest(key)).first()
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API token is unknown or was revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The account of this API token is disabled.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
