"""Login rate limiting on top of django-axes (settings: AXES_*, LOGIN_*, CLIENT_IP_HEADER).

Axes counts failed logins per username and per client address through Django's
`user_login_failed` signal and refuses further attempts once either reaches the limit.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


class LoginAttemptBackend(AxesStandaloneBackend):
    """Axes' lockout check, for logins that come with a request.

    Axes refuses `authenticate()` calls without a request, but those are never a web login
    (the test client's `login()`, a management command checking a password): there is no
    client to count attempts for, so they pass through to the password check unlimited.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: from the header the reverse proxy sets when CLIENT_IP_HEADER
    names one (e.g. X-Real-IP), else the address of the connection itself."""
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        # X-Forwarded-For style lists: the proxy appends the address it saw last.
        address = forwarded.split(",")[-1].strip()
        if address:
            return address
    return request.META.get("REMOTE_ADDR")
