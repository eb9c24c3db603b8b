"""Watches, the inbox, e-mail and signed webhooks, through the real API and services."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from notifications import events, services
from notifications.models import Notification, WebhookDelivery
from safetycase import services as case_services
from safetycase.models import Node
from tests.safetycase.conftest import generic_run

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver on a loopback port that records each POST and answers `status`."""

    def __init__(self, status: int = 204):
        self.status = status
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


def post_run(client, document, capture):
    upload = SimpleUploadedFile(f"{document['run']['id']}.json", json.dumps(document).encode())
    with capture(execute=True):
        response = client.post("/api/v1/runs/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_watched_nodes_status_change_reaches_the_inbox_the_mail_and_a_signed_webhook(
    bound_case,
    author,
    viewer,
    uploader,
    api_client_for,
    receiver,
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    viewer.email = "vera@example.org"
    viewer.save()
    watching = api_client_for(viewer).post(
        f"/api/v1/cases/{bound_case.pk}/watch/", {"node": "Sn1"}, format="json"
    )
    assert watching.status_code == 200, watching.content
    assert watching.json() == {"watching": ["Sn1"]}
    created = api_client_for(author).post(
        f"/api/v1/projects/{bound_case.project_id}/webhooks/", {"url": receiver.url}, format="json"
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]

    harness = api_client_for(uploader)
    post_run(harness, generic_run("pass", 0, 400, days_ago=5), django_capture_on_commit_callbacks)
    mailoutbox.clear()
    receiver.received.clear()
    Notification.objects.all().delete()
    failing = post_run(
        harness, generic_run("fail", 12, 400, days_ago=1), django_capture_on_commit_callbacks
    )

    inbox = api_client_for(viewer).get("/api/v1/notifications/?unread=1").json()["results"]
    changed = [n for n in inbox if n["kind"] == "status_changed"]
    assert len(changed) == 1
    assert "Sn1: supported → defeated" in changed[0]["message"]
    # Vera watches Sn1 only: G1's change is not hers to hear of.
    assert "G1:" not in changed[0]["message"]

    assert [m.to for m in mailoutbox] == [["vera@example.org"]]
    assert "Sn1: supported → defeated" in mailoutbox[0].body

    status_posts = [
        (headers, body)
        for headers, body in receiver.received
        if headers[events.EVENT_HEADER] == "status_changed"
    ]
    assert len(status_posts) == 1
    headers, body = status_posts[0]
    assert events.signature_matches(secret, body, headers[events.SIGNATURE_HEADER])
    assert not events.signature_matches("another secret", body, headers[events.SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["case"] == {"id": bound_case.pk, "name": bound_case.name}
    # The webhook hears of every change of the project's cases, not only watched nodes.
    assert {"identifier": "Sn1", "before": "supported", "after": "defeated"} in payload["data"][
        "changes"
    ]
    assert payload["lines"]["G1"].startswith("G1: ")
    delivery = WebhookDelivery.objects.get(pk=int(headers[events.DELIVERY_HEADER]))
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    log = api_client_for(author).get(
        f"/api/v1/projects/{bound_case.project_id}/webhooks/{created.json()['id']}/deliveries/"
    )
    assert delivery.pk in [row["id"] for row in log.json()["results"]]
    assert failing  # the run that changed the status


def test_a_watcher_who_lost_access_hears_nothing_and_the_actor_is_not_told_of_their_own_comment(
    bound_case, author, reviewer, viewer, api_client_for
):
    for user in (author, reviewer, viewer):
        services.watch(actor=user, case=bound_case)
    bound_case.memberships.filter(user=viewer).delete()
    from evidence.models import ProjectMembership

    ProjectMembership.objects.filter(user=viewer).delete()
    response = api_client_for(reviewer).post(
        f"/api/v1/cases/{bound_case.pk}/nodes/Sn1/comments/",
        {"text": "Is 400 rollouts enough?"},
        format="json",
    )
    assert response.status_code == 201, response.content
    told = set(Notification.objects.filter(kind="comment").values_list("user__username", flat=True))
    assert told == {author.username}
    assert (
        "bob commented: Is 400 rollouts enough?" in Notification.objects.get(kind="comment").message
    )


def test_watching_needs_access_and_a_real_node(bound_case, outsider, viewer, api_client_for):
    url = f"/api/v1/cases/{bound_case.pk}/watch/"
    assert api_client_for(outsider).post(url, {}, format="json").status_code == 404
    refused = api_client_for(viewer).post(url, {"node": "NOPE"}, format="json")
    assert refused.status_code == 400
    assert "no node 'NOPE'" in refused.json()["detail"]
    assert api_client_for(viewer).post(url, {}, format="json").json() == {"watching": [""]}
    gone = api_client_for(viewer).delete(url, {}, format="json")
    assert gone.json() == {"watching": []}


def test_only_project_owners_add_webhooks_and_the_secret_is_shown_once(
    bound_case, author, viewer, outsider, api_client_for, receiver
):
    url = f"/api/v1/projects/{bound_case.project_id}/webhooks/"
    assert (
        api_client_for(outsider).post(url, {"url": receiver.url}, format="json").status_code == 404
    )
    refused = api_client_for(viewer).post(url, {"url": receiver.url}, format="json")
    assert refused.status_code == 403
    assert "owner" in refused.json()["detail"]
    not_http = api_client_for(author).post(url, {"url": "file:///etc/passwd"}, format="json")
    assert not_http.status_code == 400
    created = api_client_for(author).post(url, {"url": receiver.url}, format="json")
    assert created.status_code == 201 and len(created.json()["secret"]) == 64
    listed = api_client_for(viewer).get(url).json()
    assert [hook["url"] for hook in listed] == [receiver.url]
    assert "secret" not in listed[0]
    hook_url = f"{url}{created.json()['id']}/"
    assert api_client_for(viewer).delete(hook_url).status_code == 403
    assert api_client_for(author).delete(hook_url).status_code == 204


def test_a_failing_receiver_is_retried_with_back_off_and_given_up_after_the_last_attempt(
    bound_case, author, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    down = Receiver(status=503)
    try:
        hook = services.webhook_create(actor=author, project=bound_case.project, url=down.url)
        with django_capture_on_commit_callbacks(execute=True):
            case_services.comment_create(
                actor=reviewer, node=Node.objects.get(case=bound_case, identifier="G1"), text="?"
            )
        delivery = WebhookDelivery.objects.get(webhook=hook)
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
        assert "HTTP 503" in delivery.last_error
        assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)
        # Not due yet: the sweeper leaves it alone.
        assert services.due_deliveries_send() == []
        assert len(down.received) == 1
        for attempt in range(2, services.WEBHOOK_MAX_ATTEMPTS + 1):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
            assert services.due_deliveries_send() == [delivery.pk]
            delivery.refresh_from_db()
            assert delivery.attempts == attempt
        assert delivery.state == "failed"
        assert services.due_deliveries_send() == []
        assert len(down.received) == services.WEBHOOK_MAX_ATTEMPTS
    finally:
        down.close()


def test_a_receiver_that_is_back_gets_the_pending_delivery_from_the_sweeper(
    bound_case, author, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    flaky = Receiver(status=500)
    try:
        hook = services.webhook_create(actor=author, project=bound_case.project, url=flaky.url)
        with django_capture_on_commit_callbacks(execute=True):
            case_services.challenge_create(
                actor=reviewer,
                node=Node.objects.get(case=bound_case, identifier="Sn1"),
                claim="The scorer misses covert actions.",
            )
        flaky.status = 200
        WebhookDelivery.objects.filter(webhook=hook).update(next_attempt_at=timezone.now())
        services.due_deliveries_send()
        delivery = WebhookDelivery.objects.get(webhook=hook)
        assert (delivery.state, delivery.attempts, delivery.kind) == ("delivered", 2, "challenge")
        assert json.loads(flaky.received[-1][1])["lines"]["Sn1"].endswith(
            "The scorer misses covert actions."
        )
    finally:
        flaky.close()


def test_an_expiring_attestation_is_announced_once_to_watchers_and_the_attester(
    bound_case, author, reviewer, viewer
):
    services.watch(actor=viewer, case=bound_case, node_identifier="A1")
    a1 = Node.objects.get(case=bound_case, identifier="A1")
    case_services.attestation_create(
        actor=reviewer,
        node=a1,
        statement="Elicitation followed the lab's protocol",
        expires_at=timezone.now() + timedelta(days=10),
    )
    assert services.attestation_reminders_send() == 1
    assert services.attestation_reminders_send() == 1  # seen again by the next sweep …
    told = Notification.objects.filter(kind="attestation_expiring")
    # … but each person is told once.
    assert sorted(told.values_list("user__username", flat=True)) == ["bob", "vera"]
    assert "expires on" in told.first().message


def test_an_attestation_far_from_expiry_or_replaced_by_a_newer_one_is_not_announced(
    bound_case, reviewer
):
    a1 = Node.objects.get(case=bound_case, identifier="A1")
    case_services.attestation_create(
        actor=reviewer, node=a1, statement="old", expires_at=timezone.now() + timedelta(days=3)
    )
    case_services.attestation_create(
        actor=reviewer,
        node=a1,
        statement="renewed",
        expires_at=timezone.now() + timedelta(days=200),
    )
    assert services.attestation_reminders_send() == 0


def test_a_run_that_fails_in_the_worker_tells_its_uploader(
    bound_case, uploader, api_client_for, eager_celery, django_capture_on_commit_callbacks, settings
):
    # More successes than trials, beyond the header the request reads: accepted at upload,
    # refused by the parser in the worker.
    settings.EVIDENCE = {**settings.EVIDENCE, "HEADER_READ_BYTES": 64}
    run_id = post_run(
        api_client_for(uploader),
        generic_run("impossible", 500, 400),
        django_capture_on_commit_callbacks,
    )
    told = api_client_for(uploader).get("/api/v1/notifications/").json()["results"]
    failed = [n for n in told if n["kind"] == "run_failed"]
    assert len(failed) == 1
    assert f"Run {run_id}" in failed[0]["message"] and "failed to ingest" in failed[0]["message"]
    assert failed[0]["url"] == f"/runs/{run_id}/"


def test_the_inbox_page_lists_and_marks_read_and_the_case_page_has_a_watch_button(
    client, bound_case, viewer
):
    client.force_login(viewer)
    page = client.get(bound_case.get_absolute_url())
    assert b"Watch case" in page.content
    response = client.post(
        f"/cases/{bound_case.pk}/watch/",
        {"node": "", "action": "watch", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response.url == bound_case.get_absolute_url()
    assert b"Unwatch case" in client.get(bound_case.get_absolute_url()).content
    services.publish(
        events.Event(
            kind="signed_off",
            title="t",
            lines={"": "Version 1 was signed off by <script>x</script>."},
            case_id=bound_case.pk,
        )
    )
    inbox = client.get("/inbox/")
    assert b"&lt;script&gt;x&lt;/script&gt;" in inbox.content and b"<script>x" not in inbox.content
    client.post("/inbox/")
    assert not Notification.objects.filter(user=viewer, read_at__isnull=True).exists()


def test_event_lines_signatures_and_back_off():
    event = events.Event(kind="k", title="t", lines={"": "case", "G1": "g1", "G2": "g2"})
    assert event.lines_for({""}) == ["case", "g1", "g2"]
    assert event.lines_for({"G2"}) == ["g2"]
    assert event.lines_for(set()) == []
    body = events.body_bytes({"b": 1, "a": [1, 2]})
    assert body == b'{"a":[1,2],"b":1}'
    # RFC 4231 test case 2 (HMAC-SHA256, key "Jefe").
    assert events.signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert [events.retry_delay_seconds(n) for n in (1, 2, 3, 10)] == [30, 60, 120, 3600]
    assert events.status_change_lines(
        [
            {"identifier": "G1", "before": None, "after": "supported"},
            {"identifier": "G2", "before": "supported", "after": None},
        ]
    ) == {"G2": "G2: supported → removed"}


def test_make_runs_console_mail_backend_prints_the_notification(
    bound_case, viewer, settings, capsys, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    viewer.email = "vera@example.org"
    viewer.save()
    services.watch(actor=viewer, case=bound_case)
    with django_capture_on_commit_callbacks(execute=True):
        services.publish(
            events.Event(
                kind="status_changed",
                title="Bound case: 1 node(s) changed status",
                lines={"G1": "G1: supported → defeated"},
                url=bound_case.get_absolute_url(),
                case_id=bound_case.pk,
            )
        )
    printed = capsys.readouterr().out
    assert "To: vera@example.org" in printed
    assert "Subject: [Safety cases] Bound case: 1 node(s) changed status" in printed
    assert "G1: supported" in printed
