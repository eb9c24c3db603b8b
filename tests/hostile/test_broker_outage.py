"""An edit while the broker is down: the API answers the edit's normal success, and the
edit's re-assessment, kept in the outbox, is done by a real worker once the broker is back
(Redis and PostgreSQL, worker processes as in production)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from safetycase.models import Assessment, Node, OutboxMessage
from safetycase.services import queue

from .test_stuck_runs import start_worker, stop, wait_until

pytestmark = [
    pytest.mark.requires_broker,
    pytest.mark.requires_postgres,  # the worker process shares the test database
    pytest.mark.django_db(transaction=True),
]


def test_an_edit_while_the_broker_is_down_succeeds_and_is_reassessed_once_it_is_back(
    case, author, api_client_for, broker_down
):
    client = api_client_for(author)
    before = Assessment.objects.filter(case=case, trigger="case_edited").count()
    response = client.patch(
        f"/api/v1/cases/{case.pk}/nodes/G2/",
        {"statement": "Edited while Redis was down"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["statement"] == "Edited while Redis was down"
    assert Node.objects.get(case=case, identifier="G2").statement == response.json()["statement"]
    message = OutboxMessage.objects.get(task=queue.ASSESS_CASE, args__0=case.pk)
    assert message.attempts == 1 and message.error

    broker_down()  # the broker is back (the configured Redis)
    worker = start_worker()
    try:
        OutboxMessage.objects.filter(pk=message.pk).update(
            last_attempt_at=timezone.now() - timedelta(minutes=5)
        )
        assert message.pk in queue.outbox_publish_pending()
        assessed = wait_until(
            lambda: (
                Assessment.objects.filter(
                    case=case, trigger="case_edited", trigger_detail=f"node edited by {author}"
                ).count()
                > before
            ),
            60,
            "the worker to re-assess the edited case",
        )
    finally:
        stop(worker)
    assert assessed
    assert not OutboxMessage.objects.filter(pk=message.pk).exists()
