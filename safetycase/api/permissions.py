"""Token scopes, checked on every API request made with an API token.

Reads need the `read` scope, writes the `write` scope; a view that needs something else says
so with `required_scope` (log uploads: `ingest`). Browser sessions are not limited by scopes,
only by the user's roles.
"""

from __future__ import annotations

from rest_framework import permissions

from safetycase.models import ApiToken


class TokenScopePermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = getattr(view, "required_scope", None)
        if isinstance(needed, dict):
            needed = needed.get(request.method)
        if needed is None:
            needed = "read" if request.method in permissions.SAFE_METHODS else "write"
        if needed in token.scopes:
            return True
        self.message = (
            f"This API token may not do that: it needs the {needed!r} scope and has "
            f"{', '.join(token.scopes) or 'none'}."
        )
        return False
