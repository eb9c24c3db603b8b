"""Domain errors. The API maps them to 4xx responses; views show them as messages."""

from __future__ import annotations


class ApplicationError(Exception):
    """A request the domain refuses, with a sentence saying why."""

    status_code = 400

    def __init__(self, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = 404


class PermissionDenied(ApplicationError):
    status_code = 403


class Conflict(ApplicationError):
    status_code = 409
