from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "vendor": connection.vendor}
    assert body["broker"]["status"] == "ok"


@pytest.mark.requires_broker
@pytest.mark.django_db
def test_healthz_checks_the_real_broker(client):
    body = client.get("/healthz").json()
    assert body["broker"] == {"status": "ok", "transport": "redis"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["status"] == "unavailable"


@pytest.fixture
def unreachable_database(monkeypatch):
    """A real connection object to a database that cannot be reached, in place of the default
    one for the health check (the test database itself stays untouched)."""
    from django.db import connections
    from django.db.utils import load_backend

    settings_dict = dict(connections["default"].settings_dict)
    if settings_dict["ENGINE"].endswith("sqlite3"):
        settings_dict["NAME"] = "/nonexistent-directory/db.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT="1", OPTIONS={"connect_timeout": 2})
    backend = load_backend(settings_dict["ENGINE"])
    broken = backend.DatabaseWrapper(settings_dict, alias="unreachable")
    monkeypatch.setattr("safetycase.health.connection", broken)
    yield broken
    broken.close()


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_unreachable(client, unreachable_database):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["status"] == "unavailable"
    assert body["database"]["error"]


def test_the_api_answers_503_when_the_database_fails():
    from django.db import OperationalError

    from safetycase.api.errors import exception_handler

    response = exception_handler(OperationalError("could not connect to server"), {})
    assert response.status_code == 503
    assert response.data == {"detail": "The database is unavailable; try again shortly."}
