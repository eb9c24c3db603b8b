"""Fixtures of the hostile-user suite: each test replays an attack by an authenticated user
through the real API and asserts that neither the web nor the workers are held up by it."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.safetycase.conftest import bound_case, generic_run  # noqa: F401  (fixture, helper)


def post_log(client, content: bytes, name: str = "run.json", metadata=None):
    data = {"file": SimpleUploadedFile(name, content)}
    if metadata is not None:
        data["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return client.post("/api/v1/runs/", data, format="multipart")


@pytest.fixture
def harness(api_client_for, uploader):
    return api_client_for(uploader)
