"""API keys: `Authorization: Token <key>`, looked up by the key's sha256.

Requests with unknown or revoked keys are counted per client address (in the cache, for
API_TOKEN_FAILURE_LIMIT within LOGIN_LOCKOUT_SECONDS); past the limit the address gets 429 for
every further unknown key until the window ends, so nobody can try keys at the speed of the
server. A request carrying a valid key, or none (a browser session), is never refused for what
others sent from the same address: behind NAT or a proxy, one colleague's misconfigured script
must not lock the others out.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions

from safetycase.login_limits import client_ip
from safetycase.selectors.tokens import token_for_key
from safetycase.services.tokens import token_mark_used


def _failures_key(request) -> str:
    return f"api-token-failures:{client_ip(request) or 'unknown'}"


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        limit = settings.API_TOKEN_FAILURE_LIMIT
        key = _failures_key(request)
        window = int(settings.AXES_COOLOFF_TIME.total_seconds())
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if limit and cache.get(key, 0) >= limit:
                raise exceptions.Throttled(
                    wait=window,
                    detail=(
                        f"Too many requests with unknown or revoked API tokens came from your "
                        f"address; try again in up to {window} seconds."
                    ),
                ) from None
            if limit:
                # A fixed window from the first failure: add() only sets a missing key.
                cache.add(key, 0, timeout=window)
                try:
                    cache.incr(key)
                except ValueError:  # expired between add() and incr()
                    cache.set(key, 1, timeout=window)
            raise

    def authenticate_credentials(self, key: str):
        token = token_for_key(key=key)
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API token is unknown or was revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The account of this API token is disabled.")
        token_mark_used(token=token)
        return token.user, token
