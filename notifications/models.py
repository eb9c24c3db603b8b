"""Watches, the in-app inbox and per-project webhooks with their delivery log."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from notifications.choices import DeliveryState, EventKind


class Watch(models.Model):
    """A user follows a whole case (`node_identifier` empty) or one of its nodes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches"
    )
    case = models.ForeignKey(
        "safetycase.SafetyCase", on_delete=models.CASCADE, related_name="watches"
    )
    node_identifier = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "node_identifier", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "case", "node_identifier"], name="one_watch_per_subject"
            ),
        ]

    def __str__(self) -> str:
        subject = self.node_identifier or "the whole case"
        return f"{self.user} watches {subject} of {self.case}"


class Notification(models.Model):
    """One event in one user's inbox. `dedupe_key` keeps a repeated reminder (an attestation
    that expires soon, seen by the daily sweep) from arriving twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    case = models.ForeignKey(
        "safetycase.SafetyCase",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    message = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="notification_once_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user}: {self.message[:60]}"


class Webhook(models.Model):
    """An address that receives every event of a project's cases and runs as signed JSON."""

    project = models.ForeignKey(
        "evidence.Project", on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    # The HMAC-SHA256 key of the signature header; shown once, when the webhook is created.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} of {self.project}: {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or still to be sent) to one webhook: the delivery log."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    payload = models.JSONField()
    dedupe_key = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="delivery_once_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.webhook.url}: {self.state}"
