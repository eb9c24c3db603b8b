"""API tokens: stored hashed, scoped, revocable, with their last use recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from safetycase import services
from safetycase.models import ApiToken

pytestmark = pytest.mark.django_db

LOG = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "arith-success.json"


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_only_the_hash_of_a_key_is_stored(author):
    token, key = services.token_create(user=author, scopes=["read"])
    assert key.startswith("sct_") and len(key) > 40
    assert token.key_sha256 != key and key not in token.key_sha256
    assert token.prefix == key[:12]


def test_an_ingest_token_uploads_but_cannot_read_or_edit_cases(uploader, case, eager_celery):
    _, key = services.token_create(user=uploader, scopes=["ingest"])
    client = client_with(key)
    response = client.post(
        "/api/v1/runs/",
        {"file": SimpleUploadedFile(LOG.name, LOG.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    response = client.get("/api/v1/cases/")
    assert response.status_code == 403
    assert "needs the 'read' scope" in response.json()["detail"]
    assert client.get("/api/v1/runs/").status_code == 403


def test_a_read_token_cannot_write(author, case):
    _, key = services.token_create(user=author, scopes=["read"])
    client = client_with(key)
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 200
    response = client.post(
        f"/api/v1/cases/{case.pk}/nodes/", {"identifier": "G9", "type": "goal"}, format="json"
    )
    assert response.status_code == 403
    assert "needs the 'write' scope" in response.json()["detail"]


def test_a_write_token_of_an_author_edits(author, case):
    _, key = services.token_create(user=author, scopes=["read", "write"])
    response = client_with(key).post(
        f"/api/v1/cases/{case.pk}/nodes/", {"identifier": "G9", "type": "goal"}, format="json"
    )
    assert response.status_code == 201


def test_an_ingest_scope_alone_does_not_grant_the_ingest_permission(author):
    _, key = services.token_create(user=author, scopes=["ingest"])
    response = client_with(key).post(
        "/api/v1/runs/",
        {"file": SimpleUploadedFile(LOG.name, LOG.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 403


def test_revoked_and_unknown_tokens_are_refused(author):
    token, key = services.token_create(user=author, scopes=["read"])
    services.token_revoke(token=token)
    assert client_with(key).get("/api/v1/cases/").status_code == 401
    assert client_with("sct_not-a-key").get("/api/v1/cases/").status_code == 401


def test_last_use_is_recorded(author):
    token, key = services.token_create(user=author, scopes=["read"])
    assert token.last_used_at is None
    client_with(key).get("/api/v1/cases/")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_unknown_scopes_are_refused(author):
    from safetycase.errors import ApplicationError

    with pytest.raises(ApplicationError, match="Token scopes must be some of"):
        services.token_create(user=author, scopes=["admin"])
    assert not ApiToken.objects.exists()


def test_token_changes_are_in_the_history(author):
    token, _ = services.token_create(user=author, scopes=["read"])
    services.token_revoke(token=token)
    assert [h.history_type for h in token.history.order_by("history_date")] == ["+", "~"]


def test_an_address_trying_unknown_tokens_is_throttled(author, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    _token, key = services.token_create(user=author, scopes=["read"])
    for attempt in range(3):
        assert client_with(f"sct_guess-{attempt}").get("/api/v1/cases/").status_code == 401
    refused = client_with(f"sct_guess-{3}").get("/api/v1/cases/")
    assert refused.status_code == 429
    assert "unknown or revoked API tokens" in refused.json()["detail"]
    assert int(refused["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    # A valid key from that address is never refused; another address is not affected.
    assert client_with(key).get("/api/v1/cases/").status_code == 200
    elsewhere = client_with(key)
    assert elsewhere.get("/api/v1/cases/", REMOTE_ADDR="192.0.2.7").status_code == 200
    # Requests without a token are not counted.
    for _ in range(4):
        assert APIClient().get("/api/v1/cases/", REMOTE_ADDR="192.0.2.8").status_code == 401
    assert elsewhere.get("/api/v1/cases/", REMOTE_ADDR="192.0.2.8").status_code == 200


def test_valid_tokens_are_never_counted(author, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 2
    _token, key = services.token_create(user=author, scopes=["read"])
    for _ in range(5):
        assert client_with(key).get("/api/v1/cases/").status_code == 200
    assert client_with("sct_guess").get("/api/v1/cases/").status_code == 401
    assert client_with(key).get("/api/v1/cases/").status_code == 200
