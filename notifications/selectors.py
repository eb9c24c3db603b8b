"""Reads of watches, inboxes and webhook delivery logs."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification, Watch, Webhook, WebhookDelivery


def inbox(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    found = Notification.objects.filter(user=user).select_related("case")
    return found.filter(read_at__isnull=True) if unread_only else found


def watched_subjects(*, user, case) -> set[str]:
    """What the user watches of the case: node identifiers, "" for the whole case."""
    return set(Watch.objects.filter(user=user, case=case).values_list("node_identifier", flat=True))


def project_webhooks(*, project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project)


def webhook_deliveries(*, webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook)
