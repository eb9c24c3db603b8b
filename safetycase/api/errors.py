"""Maps domain errors to API responses with a sentence that says what is wrong."""

from __future__ import annotations

import logging

from django.db import DatabaseError, DataError
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from safetycase.adapters.graphviz import DiagramError
from safetycase.errors import ApplicationError

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
    if isinstance(exc, DiagramError):
        # A missing or failing renderer is a server-side problem the operator must fix.
        return Response({"detail": f"The diagram could not be rendered: {exc}"}, status=503)
    if isinstance(exc, DataError):
        # A value the database cannot hold (out of range, NUL characters): the request's fault.
        # The database's own text stays in the log: it can quote other rows and the schema.
        logger.warning("DataError answered with 400: %s", exc)
        return Response(
            {
                "detail": "A value in the request cannot be stored or compared (out of range, "
                "too long, or containing a NUL character)."
            },
            status=400,
        )
    if isinstance(exc, DatabaseError) and _is_unavailable(exc):
        return Response({"detail": "The database is unavailable; try again shortly."}, status=503)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, ValidationError) and response is not None:
        response.data = _with_detail(response.data)
    return response


def _with_detail(errors) -> dict:
    """Field errors plus one `detail` sentence, so every 4xx body says what is wrong."""
    if isinstance(errors, dict) and "detail" in errors:
        return errors
    if not isinstance(errors, dict):
        return {"detail": f"The request is invalid: {_flatten(errors)}.", "errors": errors}
    parts = [f"{field}: {_flatten(messages)}" for field, messages in errors.items()]
    return {"detail": "The request is invalid — " + "; ".join(parts) + ".", **errors}


def _flatten(messages) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return " ".join(_flatten(m) for m in messages)
    return str(messages).rstrip(".")


def _is_unavailable(exc: DatabaseError) -> bool:
    from django.db import OperationalError

    return isinstance(exc, OperationalError)
