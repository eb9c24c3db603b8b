"""Celery tasks of notifications: thin adapters around services (queued by name)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications import services


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=5)
def deliver_webhook(delivery_id: int) -> str:
    delivery = services.webhook_deliver(delivery_id=delivery_id)
    return delivery.state if delivery else "not pending"


@shared_task
def send_due_webhook_deliveries() -> int:
    return len(services.due_deliveries_send())


@shared_task
def send_attestation_reminders() -> int:
    return services.attestation_reminders_send()
