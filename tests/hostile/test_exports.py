"""PDF exports cannot be queued without bound, and none stays queued or running for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from safetycase.models import PdfExport
from safetycase.services import exports as export_services

pytestmark = pytest.mark.django_db


def test_a_viewer_has_one_export_in_flight_per_case(
    case, viewer, author, api_client_for, django_capture_on_commit_callbacks
):
    client = api_client_for(viewer)
    url = f"/api/v1/cases/{case.pk}/exports/"
    with django_capture_on_commit_callbacks(execute=False):  # no worker picks it up
        first = client.post(url, {}, format="json")
        assert first.status_code == 202
        for _ in range(5):
            again = client.post(url, {}, format="json")
            assert again.status_code == 429
            assert "still queued" in again.json()["detail"]
            assert again.json()["export"] == first.json()["id"]
        # Someone else's export of the same case is not held up by it.
        assert api_client_for(author).post(url, {}, format="json").status_code == 202
    assert PdfExport.objects.filter(created_by=viewer).count() == 1

    from safetycase.tasks import export_case_pdf

    assert export_case_pdf(first.json()["id"]) == "done"
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(url, {}, format="json").status_code == 202  # finished: next one


def test_the_sweeper_resends_queued_exports_and_fails_ones_that_never_finish(
    case, viewer, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "EXPORT_MAX_ATTEMPTS": 2}
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down
        stuck = export_services.pdf_export_request(actor=viewer, case=case)
    long_ago = timezone.now() - timedelta(hours=1)
    PdfExport.objects.filter(pk=stuck.pk).update(created_at=long_ago)
    # A worker died while rendering another one, twice already.
    dead = PdfExport.objects.create(
        case=case, status="running", heartbeat_at=long_ago, attempts=2, created_at=long_ago
    )
    assert export_services.pdf_exports_requeue() == [stuck.pk]
    stuck.refresh_from_db()
    dead.refresh_from_db()
    assert stuck.status == "done"
    assert dead.status == "failed" and "attempted 2 times" in dead.error
