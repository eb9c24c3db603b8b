"""Lockouts that cannot be turned against others, and uploaded files that never run as the
site."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from safetycase import services

from .conftest import post_log

pytestmark = pytest.mark.django_db


def log_in(username: str, password: str, address: str):
    return Client().post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_someone_else_s_wrong_passwords_do_not_lock_the_right_one_out(author, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(4):
        assert log_in("alice", "wrong", "198.51.100.66").status_code == 200
    assert log_in("alice", "wrong", "198.51.100.66").status_code == 429  # the fifth locks
    assert log_in("alice", "pw-alice", "198.51.100.66").status_code == 429  # the attacker's
    assert log_in("alice", "pw-alice", "192.0.2.10").status_code == 302  # alice's own


def test_unknown_tokens_from_an_address_never_refuse_valid_tokens_or_sessions(
    author, viewer, settings
):
    settings.API_TOKEN_FAILURE_LIMIT = 20
    _token, key = services.token_create(user=author, scopes=["read"])
    shared_address = "203.0.113.50"  # an office behind one NAT address
    for attempt in range(21):
        guess = APIClient()
        guess.credentials(HTTP_AUTHORIZATION=f"Token sct_unknown-{attempt}")
        guess.get("/api/v1/cases/", REMOTE_ADDR=shared_address)
    refused = APIClient()
    refused.credentials(HTTP_AUTHORIZATION="Token sct_unknown-more")
    response = refused.get("/api/v1/cases/", REMOTE_ADDR=shared_address)
    assert response.status_code == 429
    assert "unknown or revoked API tokens" in response.json()["detail"]

    valid = APIClient()
    valid.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert valid.get("/api/v1/cases/", REMOTE_ADDR=shared_address).status_code == 200
    browser = APIClient()
    browser.force_login(viewer)
    assert browser.get("/api/v1/cases/", REMOTE_ADDR=shared_address).status_code == 200


@pytest.mark.parametrize(
    "name", ["evil.js", "evil.html", "evil.svg", "results_2026.json", "log.eval"]
)
def test_a_log_is_always_downloaded_as_bytes_never_rendered(
    harness, uploader, name, eager_celery, django_capture_on_commit_callbacks
):
    content = b"alert(document.cookie)//" if name.endswith(".js") else b"<script>1</script>"
    with django_capture_on_commit_callbacks(execute=True):
        response = post_log(harness, content, name=name)
    assert response.status_code == 422, response.content  # kept, but not a log we read
    browser = Client()
    browser.force_login(uploader)
    download = browser.get(f"/runs/{response.json()['id']}/log")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == content


def test_a_good_log_downloads_the_same_way(
    harness, uploader, eager_celery, django_capture_on_commit_callbacks
):
    from tests.safetycase.conftest import generic_run

    content = json.dumps(generic_run("download-me", 1, 10)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_log(harness, content, name="run.json")
    assert response.status_code == 202
    browser = Client()
    browser.force_login(uploader)
    download = browser.get(f"/runs/{response.json()['id']}/log")
    assert download["Content-Type"] == "application/octet-stream"
    assert b"".join(download.streaming_content) == content
