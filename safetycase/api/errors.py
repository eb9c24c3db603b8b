"""Maps domain errors to API responses with a sentence that says what is wrong."""

from __future__ import annotations

from django.db import DatabaseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from safetycase.errors import ApplicationError
from safetycase.rendering import DiagramError


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
    if isinstance(exc, DiagramError):
        # A missing or failing renderer is a server-side problem the operator must fix.
        return Response({"detail": f"The diagram could not be rendered: {exc}"}, status=503)
    if isinstance(exc, DatabaseError) and _is_unavailable(exc):
        return Response({"detail": "The database is unavailable; try again shortly."}, status=503)
    return drf_exception_handler(exc, context)


def _is_unavailable(exc: DatabaseError) -> bool:
    from django.db import OperationalError

    return isinstance(exc, OperationalError)
