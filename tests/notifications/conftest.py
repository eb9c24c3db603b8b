"""The argument app's fixtures, for the notification tests."""

from tests.safetycase.conftest import bound_case  # noqa: F401
