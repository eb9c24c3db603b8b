"""Shared fixtures: personas (healthchecks' alice/bob/charlie pattern) and a small case.

Tests marked `requires_postgres` or `requires_broker` run only when DATABASE_URL / CELERY_BROKER_URL
point at those services (CI's second pass); when the variable is set and the service is down,
those tests fail rather than skip.
"""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from safetycase import services
from safetycase.choices import Role


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: drives Chromium through Playwright (tests/browser); fails when CI is set and "
        "/usr/bin/chromium or playwright is missing, skips otherwise",
    )


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    with_broker = bool(os.environ.get("CELERY_BROKER_URL"))
    for item in items:
        if "requires_postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="DATABASE_URL is not PostgreSQL"))
        if "requires_broker" in item.keywords and not with_broker:
            item.add_marker(pytest.mark.skip(reason="CELERY_BROKER_URL is not set"))
    # Browser tests last: their session-wide browser keeps Playwright's event loop (and
    # DJANGO_ALLOW_ASYNC_UNSAFE) alive in the main thread until the session ends.
    items.sort(key=lambda item: "browser" in item.keywords)


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    from django.core.cache import cache

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.VAR_DIR = tmp_path / "var"
    cache.clear()  # e.g. counts of failed API tokens from earlier tests


@pytest.fixture
def make_user(django_user_model):
    def make(username: str):
        return django_user_model.objects.create_user(username=username, password="pw-" + username)

    return make


@pytest.fixture
def lab(db):
    """The project the personas' cases and runs belong to (alice owns it)."""
    from evidence.models import Project

    return Project.objects.get_or_create(name="lab")[0]


@pytest.fixture
def author(make_user, lab):
    from evidence import projects

    user = make_user("alice")
    projects.project_member_set(project=lab, user=user, role="owner")
    return user


@pytest.fixture
def reviewer(make_user):
    return make_user("bob")


@pytest.fixture
def viewer(make_user, lab):
    from evidence import projects

    user = make_user("vera")
    projects.project_member_set(project=lab, user=user, role="viewer")
    return user


@pytest.fixture
def outsider(make_user):
    return make_user("charlie")


@pytest.fixture
def case(author, reviewer, viewer):
    """A small well-formed case: G1 supported by S1 over G2 (→ Sn1) and G3 (undeveloped)."""
    case = services.case_create(
        name="Example model internal deployment",
        model_name="example-model",
        model_version="2026-11",
        deployment="internal coding agent",
        owner=author,
    )
    services.membership_set(case=case, user=reviewer, role=Role.REVIEWER)
    services.membership_set(case=case, user=viewer, role=Role.VIEWER)
    for identifier, type_, statement, undeveloped in [
        ("G1", "goal", "The model cannot cause catastrophic harm through scheming", False),
        ("C1", "context", "Internal deployment as a coding agent", False),
        ("S1", "strategy", "Argue over each scheming capability", False),
        ("G2", "goal", "The model lacks the capability for stealthy sabotage", False),
        ("G3", "goal", "The model lacks situational awareness", True),
        ("Sn1", "solution", "Sabotage evaluation results", False),
    ]:
        services.node_create_do(
            case=case,
            identifier=identifier,
            type=type_,
            statement=statement,
            undeveloped=undeveloped,
        )
    for source, target, type_ in [
        ("G1", "C1", "in_context_of"),
        ("G1", "S1", "supported_by"),
        ("S1", "G2", "supported_by"),
        ("S1", "G3", "supported_by"),
        ("G2", "Sn1", "supported_by"),
    ]:
        services.link_create_do(case=case, source=source, target=target, type=type_)
    return case


@pytest.fixture
def api_client_for():
    def client_for(user) -> APIClient:
        client = APIClient()
        if user is not None:
            _, key = services.token_create(user=user, scopes=["read", "write", "ingest"])
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return client_for


@pytest.fixture
def uploader(make_user, lab):
    """A harness account allowed to upload logs (the ingest permission)."""
    from django.contrib.auth.models import Permission

    from evidence import projects

    user = make_user("harness")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )
    # Its uploads land in the lab project, where the personas' cases are.
    projects.project_member_set(project=lab, user=user, role="viewer")
    return user


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process for this test, whatever broker the suite is configured with."""
    from safetycase.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def _cold_assessment_memos():
    """Each test starts without what earlier tests' assessments left in this process."""
    from safetycase import services

    services.forget_assessment_memos()
    yield


@pytest.fixture
def broker_down():
    """A broker nobody listens on (no Redis needed): publishing raises kombu's
    OperationalError, as when Redis is down. Tasks are not run in-process meanwhile. Calling
    the fixture's value brings the configured broker back."""
    from safetycase.celery import app

    def forget_connections():
        # Celery keeps pools of broker connections; new ones use the URL set here.
        app._pool = None
        app.amqp._producer_pool = None

    import os

    down = "redis://127.0.0.1:6390/0"
    saved = app.conf.broker_url, app.conf.task_always_eager, os.environ.get("CELERY_BROKER_URL")

    def broker_back():
        forget_connections()
        app.conf.broker_url, app.conf.task_always_eager, environment = saved
        # Celery reads the variable before its settings.
        if environment is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = environment

    forget_connections()
    app.conf.broker_url = down
    if saved[2] is not None:
        os.environ["CELERY_BROKER_URL"] = down
    app.conf.task_always_eager = False
    yield broker_back
    broker_back()
