from django.db import models


class EventKind(models.TextChoices):
    STATUS_CHANGED = "status_changed", "a watched node changed status"
    RUN_FAILED = "run_failed", "a run failed to ingest"
    CHALLENGE = "challenge", "a challenge was raised"
    COMMENT = "comment", "a comment was posted"
    ATTESTATION_EXPIRING = "attestation_expiring", "an attestation expires soon"
    SIGNED_OFF = "signed_off", "a version was signed off"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
