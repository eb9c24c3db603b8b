"""Fuzz the REST API from its own OpenAPI schema (schemathesis), with a bounded number of
examples per operation: no 5xx, and responses that match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go through the real WSGI handler, which closes "old" database connections at
    the end of each request; that would close the test's own transaction. Django's test client
    avoids it the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(db, author, uploader, case):
    """An author of a case who may also upload logs, so most operations get past auth."""
    from django.contrib.auth.models import Permission

    author.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )
    from safetycase import services

    _, key = services.token_create(user=author, scopes=["read", "write", "ingest"])
    # Schemathesis's WSGI transport does not decode gzip, which the API applies to JSON when
    # asked (tests/safetycase/test_fast_reads.py checks that): ask for plain bodies here.
    return {"Authorization": f"Token {key}", "Accept-Encoding": "identity"}


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_never_fails_and_matches_its_schema(case, auth_headers):
    case.call_and_validate(
        headers=auth_headers,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
        ],
    )
