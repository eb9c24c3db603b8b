from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_token_prints_a_working_token_on_its_last_line(author, client, case):
    from safetycase.models import ApiToken

    key = run("create_token", "alice").strip().splitlines()[-1]
    token = ApiToken.objects.get(user=author)
    assert token.scopes == ["read", "write"]
    assert key not in str(list(ApiToken.objects.values()))  # only the hash is stored
    response = client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    # Each call makes a new key: a key is shown once and never again.
    assert run("create_token", "alice").strip().splitlines()[-1] != key


def test_revoke_token_stops_the_key(author, client):
    key = run("create_token", "alice").strip().splitlines()[-1]
    out = run("revoke_token", key[:12])
    assert out.startswith("Revoked")
    response = client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_create_token_for_unknown_user_fails_clearly():
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        call_command("create_token", "nobody")


def test_setup_admin_creates_the_admin_once_and_prints_the_login(settings, client):
    first = run("setup_admin", "--url", "http://127.0.0.1:8123/")
    password = first.strip().rsplit(" ", 1)[-1]
    assert first.startswith("Log in at http://127.0.0.1:8123/ as admin / ")
    assert client.login(username="admin", password=password)
    second = run("setup_admin", "--url", "http://127.0.0.1:8123/")
    assert second == first
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert (settings.VAR_DIR / "admin-password").read_text().strip() == password


def test_setup_admin_also_creates_an_ordinary_reviewer_account(settings, client):
    first = run("setup_admin", "--url", "http://x/", "--reviewer", "reviewer")
    admin_line, reviewer_line = first.strip().splitlines()
    assert admin_line.startswith("Log in at http://x/ as admin / ")
    assert reviewer_line.startswith("Log in at http://x/ as reviewer / ")
    password = reviewer_line.rsplit(" ", 1)[-1]
    assert password != admin_line.rsplit(" ", 1)[-1]
    account = get_user_model().objects.get(username="reviewer")
    assert not account.is_staff and not account.is_superuser
    assert client.login(username="reviewer", password=password)
    assert (settings.VAR_DIR / "reviewer-password").read_text().strip() == password
    assert run("setup_admin", "--url", "http://x/", "--reviewer", "reviewer") == first


def test_load_example_loads_a_well_formed_case_once(author):
    from safetycase.models import Node, SafetyCase
    from safetycase.selectors import case_findings

    first = run("load_example", "--owner", "alice")
    assert first.startswith("Loaded the example case")
    case = SafetyCase.objects.get()
    assert case.memberships.get().user == author
    assert Node.objects.filter(case=case).count() == 12
    assert Node.objects.get(case=case, identifier="G4").undeveloped
    assert [f for f in case_findings(case=case) if f.severity == "error"] == []

    second = run("load_example", "--owner", "alice")
    assert "already loaded" in second
    assert SafetyCase.objects.count() == 1
    assert Node.objects.filter(case=case).count() == 12


def test_load_example_needs_an_existing_owner():
    with pytest.raises(CommandError, match="There is no user 'admin'"):
        call_command("load_example")
