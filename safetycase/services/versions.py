"""Sign-off into immutable, hash-chained versions.

Rules:
- Only reviewers sign off. A reviewer's sign-off creates a Version that is signed at once (one
  reviewer's signature suffices); other reviewers may add their signatures. Authors cannot sign
  off, so no author alone ever makes a version.
- A Version never changes once created: Version.save() refuses updates, delete() refuses,
  the admin is read-only and the API has no write endpoints for versions.
- `Version.content_hash` is the chain hash (`safetycase.core.versions.chain_hash`) of the
  snapshot and the previous version's hash; `manage.py verify_versions` recomputes the chain.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from safetycase import selectors
from safetycase.core.versions import chain_hash
from safetycase.errors import Conflict, PermissionDenied
from safetycase.models import SafetyCase, Signature, Version


def version_sign_off(*, actor, case: SafetyCase, note: str = "") -> Version:
    """A reviewer signs off the case as it is now: a new, signed, immutable Version."""
    if not actor.has_perm("safetycase.review_case", case):
        raise PermissionDenied(
            f"Only reviewers of case {case.pk} may sign off a version; authors cannot sign "
            "off alone."
        )
    snapshot = selectors.case_snapshot(case=case)
    try:
        with transaction.atomic():
            # Lock the case row so that concurrent sign-offs number and chain one after another.
            SafetyCase.objects.select_for_update().filter(pk=case.pk).first()
            previous = Version.objects.filter(case=case).order_by("-number").first()
            previous_hash = previous.content_hash if previous else ""
            version = Version.objects.create(
                case=case,
                number=(previous.number + 1) if previous else 1,
                snapshot=snapshot,
                previous_hash=previous_hash,
                content_hash=chain_hash(snapshot, previous_hash),
                note=note.strip(),
                created_by=actor,
            )
            Signature.objects.create(version=version, user=actor)
    except IntegrityError as exc:
        raise Conflict("Another sign-off of this case happened at the same time; retry.") from exc
    return version


def version_cosign(*, actor, version: Version) -> Signature:
    """Another reviewer adds their signature to a version (the version itself is unchanged)."""
    if not actor.has_perm("safetycase.review_case", version.case):
        raise PermissionDenied(f"Only reviewers of case {version.case_id} may sign versions.")
    if Signature.objects.filter(version=version, user=actor).exists():
        raise Conflict(f"You already signed version {version.number}.")
    return Signature.objects.create(version=version, user=actor)
