"""Reviewers' attestations that an assumption holds. Every attestation expires: without a date
given, after the project's `attestation_expiry_days` (default 180); the assessment flags it
`attestation_expiring` 14 days ahead and `attestation_expired` after."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from safetycase.choices import NodeType
from safetycase.errors import ApplicationError, PermissionDenied
from safetycase.models import Attestation, Node
from safetycase.services.queue import enqueue_assessment


def attestation_create(
    *,
    actor,
    node: Node,
    statement: str,
    scope: str = "",
    evidence_reference: str = "",
    expires_at=None,
) -> Attestation:
    """A reviewer attests that an assumption holds; the case is re-assessed on commit."""
    if not actor.has_perm("safetycase.review_case", node.case):
        raise PermissionDenied(f"Only reviewers of case {node.case_id} may attest assumptions.")
    if node.type != NodeType.ASSUMPTION:
        raise ApplicationError(
            f"{node.identifier} is a {node.type}; only assumptions are attested."
        )
    if not statement.strip():
        raise ApplicationError("An attestation needs a statement saying why the assumption holds.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("The expiry date of an attestation must be in the future.")
    if expires_at is None:
        days = node.case.project.attestation_expiry_days
        expires_at = timezone.now() + timedelta(days=days)
    with transaction.atomic():  # the attestation and its re-assessment's outbox message
        attestation = Attestation.objects.create(
            case=node.case,
            node=node,
            attested_by=actor,
            statement=statement.strip(),
            scope=scope,
            evidence_reference=evidence_reference.strip(),
            expires_at=expires_at,
        )
        enqueue_assessment(node.case_id, "attestation", f"{node.identifier} attested by {actor}")
    return attestation
