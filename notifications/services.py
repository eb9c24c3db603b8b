"""Writes of watches, notifications and webhooks, and publishing an event to its audience:
inbox rows in the caller's transaction; e-mail and webhook deliveries once it commits."""

from __future__ import annotations

import logging
import secrets
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

from evidence.models import Project
from notifications import events
from notifications.choices import DeliveryState, EventKind
from notifications.models import Notification, Watch, Webhook, WebhookDelivery
from safetycase.errors import ApplicationError, PermissionDenied
from safetycase.models import Attestation, SafetyCase
from safetycase.projects import owner_role_in_project
from safetycase.services.queue import enqueue, send

logger = logging.getLogger(__name__)

DELIVER_WEBHOOK = "notifications.tasks.deliver_webhook"
WEBHOOK_TIMEOUT_SECONDS = 10
WEBHOOK_MAX_ATTEMPTS = 6
ATTESTATION_REMINDER_DAYS = 14


# Watches


def _require_viewer(actor, case: SafetyCase) -> None:
    if not actor.has_perm("safetycase.view_case", case):
        raise PermissionDenied("You can only watch cases you can see.")


def watch(*, actor, case: SafetyCase, node_identifier: str = "") -> Watch:
    """Follow the whole case (`node_identifier` empty) or one node of it."""
    _require_viewer(actor, case)
    if node_identifier and not case.nodes.filter(identifier=node_identifier).exists():
        raise ApplicationError(f"The case has no node {node_identifier!r} to watch.")
    found, _ = Watch.objects.get_or_create(user=actor, case=case, node_identifier=node_identifier)
    return found


def unwatch(*, actor, case: SafetyCase, node_identifier: str = "") -> None:
    Watch.objects.filter(user=actor, case=case, node_identifier=node_identifier).delete()


def notifications_mark_read(*, actor, ids: list[int] | None = None) -> int:
    """Mark the actor's notifications read (all unread ones when `ids` is None)."""
    unread = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


# Publishing


def _audience(event: events.Event, case: SafetyCase | None) -> dict[object, set[str]]:
    """User -> what they watch of the case ("" = all of it), for everyone who hears of the
    event: watchers who can still see the case, and `also_notify`; never the actor."""
    watched: dict[object, set[str]] = defaultdict(set)
    if case is not None:
        for item in Watch.objects.filter(case=case).select_related("user"):
            watched[item.user].add(item.node_identifier)
    for user in get_user_model().objects.filter(pk__in=event.also_notify):
        watched[user].add("")
    return {
        user: nodes
        for user, nodes in watched.items()
        if user.pk != event.actor_id
        and user.is_active
        and (case is None or user.has_perm("safetycase.view_case", case))
    }


def publish(event: events.Event) -> None:
    """Tell the event's audience: an inbox row each now (in the caller's transaction), an
    e-mail each and a delivery to each of the project's webhooks after it commits. With a
    `dedupe_key`, whoever already heard of it is not told again."""
    case = SafetyCase.objects.filter(pk=event.case_id).first() if event.case_id else None
    audience = _audience(event, case)
    if event.dedupe_key:
        told = set(
            Notification.objects.filter(dedupe_key=event.dedupe_key).values_list(
                "user_id", flat=True
            )
        )
        audience = {user: nodes for user, nodes in audience.items() if user.pk not in told}
    rows, mails = [], []
    for user, nodes in audience.items():
        lines = event.lines_for(nodes)
        if not lines:
            continue
        message = "\n".join(lines)
        rows.append(
            Notification(
                user=user,
                case=case,
                kind=event.kind,
                message=message,
                url=event.url,
                dedupe_key=event.dedupe_key,
            )
        )
        if user.email:
            mails.append((_mail_subject(event), _mail_body(message, event.url), None, [user.email]))
    Notification.objects.bulk_create(rows)
    if mails:
        transaction.on_commit(lambda: _send_mails(mails), robust=True)
    _queue_webhook_deliveries(event, case)


def _mail_subject(event: events.Event) -> str:
    return f"[Safety cases] {event.title}"[:200]


def _mail_body(message: str, url: str) -> str:
    site = getattr(settings, "SAFETYCASE_SITE_URL", "").rstrip("/")
    link = f"\n\n{site}{url}" if url and site else (f"\n\n{url}" if url else "")
    return f"{message}{link}\n"


def _send_mails(mails: list[tuple]) -> None:
    try:
        send_mass_mail(mails, fail_silently=False)
    except Exception:  # the mail server is not ours: its outage must not undo the event
        logger.exception("sending %d notification e-mails failed", len(mails))


def _queue_webhook_deliveries(event: events.Event, case: SafetyCase | None) -> None:
    if not event.project_id:
        return
    hooks = list(Webhook.objects.filter(project_id=event.project_id, active=True))
    if not hooks:
        return
    if event.dedupe_key:
        sent = set(
            WebhookDelivery.objects.filter(
                webhook__in=hooks, dedupe_key=event.dedupe_key
            ).values_list("webhook_id", flat=True)
        )
        hooks = [hook for hook in hooks if hook.pk not in sent]
    project_name = Project.objects.filter(pk=event.project_id).values_list("name", flat=True)
    payload = event.payload(
        case_name=case.name if case else "", project_name=project_name.first() or ""
    )
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                webhook=hook,
                kind=event.kind,
                payload=payload,
                dedupe_key=event.dedupe_key,
                next_attempt_at=now,
            )
            for hook in hooks
        ]
    )
    for delivery in deliveries:
        # Through the outbox; and the delivery sweeper retries whatever is still pending.
        enqueue(DELIVER_WEBHOOK, delivery.pk)


# Webhooks


def webhook_create(*, actor, project: Project, url: str) -> Webhook:
    """A project owner adds an address for the project's events; its signing secret is on
    the returned row (shown once)."""
    if not owner_role_in_project(user=actor, project=project):
        raise PermissionDenied("Only an owner of the project can add webhooks.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApplicationError("A webhook address must be an http:// or https:// URL with a host.")
    return Webhook.objects.create(
        project=project, url=url, secret=secrets.token_hex(32), created_by=actor
    )


def webhook_delete(*, actor, webhook: Webhook) -> None:
    if not owner_role_in_project(user=actor, project=webhook.project):
        raise PermissionDenied("Only an owner of the project can remove webhooks.")
    webhook.delete()


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Send one pending delivery: POST the signed JSON body; on failure try again later with
    back-off, and give up after WEBHOOK_MAX_ATTEMPTS attempts. Safe to run twice: a delivery
    already sent (or being sent by another worker) is left alone."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("webhook")
            .filter(pk=delivery_id, state=DeliveryState.PENDING)
            .first()
        )
        if delivery is None:
            return None
        status_code, error = _post(delivery)
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        now = timezone.now()
        if status_code is not None and 200 <= status_code < 300:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = now
        elif delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
        else:
            delivery.next_attempt_at = now + timedelta(
                seconds=events.retry_delay_seconds(delivery.attempts)
            )
        delivery.save()
    return delivery


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = events.body_bytes(delivery.payload)
    request = urllib.request.Request(
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "safetycase-webhooks",
            events.EVENT_HEADER: delivery.kind,
            events.DELIVERY_HEADER: str(delivery.pk),
            events.SIGNATURE_HEADER: events.signature(delivery.webhook.secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"The receiver answered HTTP {error.code}."
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, f"The receiver could not be reached: {error}"[:500]


def due_deliveries_send() -> list[int]:
    """The sweeper: send every pending delivery whose time has come (first sends lost to a
    broker outage, and retries after back-off)."""
    due = list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:500]
    )
    for delivery_id in due:
        send(DELIVER_WEBHOOK, delivery_id)
    return due


# Reminders


def attestation_reminders_send(*, now=None) -> int:
    """Tell watchers and the attester of every assumption whose current attestation expires
    within ATTESTATION_REMINDER_DAYS days; each attestation's reminder is sent once."""
    now = now or timezone.now()
    attestations = (
        Attestation.objects.filter(expires_at__isnull=False)
        .select_related("case", "node", "attested_by")
        .order_by("node_id", "-created_at", "-id")
    )
    reminded = 0
    current_seen: set[int] = set()
    for attestation in attestations:
        if attestation.node_id in current_seen:
            continue  # a newer attestation of the node replaces this one
        current_seen.add(attestation.node_id)
        if not now < attestation.expires_at <= now + timedelta(days=ATTESTATION_REMINDER_DAYS):
            continue
        identifier = attestation.node.identifier
        publish(
            events.Event(
                kind=EventKind.ATTESTATION_EXPIRING,
                title=f"{attestation.case.name}: attestation of {identifier} expires soon",
                lines={
                    identifier: (
                        f"{identifier}: the attestation by {attestation.attested_by} expires "
                        f"on {attestation.expires_at:%Y-%m-%d}."
                    )
                },
                url=attestation.node.get_absolute_url(),
                case_id=attestation.case_id,
                project_id=attestation.case.project_id,
                also_notify=frozenset({attestation.attested_by_id}),
                dedupe_key=f"attestation-expiring:{attestation.pk}:{attestation.expires_at:%Y%m%d}",
            )
        )
        reminded += 1
    return reminded
