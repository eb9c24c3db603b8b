"""Sign-off into immutable versions, hash-chained and signed with the server's key.

Rules:
- Only the case's independent reviewers sign and co-sign: never an owner or author of the case
  (in the case or its project) nor anyone who edited its argument, superuser or not
  (safetycase.permissions.sign_off_refusal).
- A sign-off carries a verdict: `approve`, `approve_with_conditions` (one or more conditions,
  each pinned to a node of the case) or `reject` (with reasons). Both approving verdicts are
  refused while the case has GSN rule errors or open challenges; the sentence names them.
- The version's signed content (safetycase.core.versions.version_content: snapshot, verdict,
  reasons, conditions, the items open at sign-off, note, signer, time and the previous
  version's hash) is hashed into `content_hash`, which the server signs with its Ed25519 key
  (safetycase.signing). Each reviewer's signature is a record over the same content hash,
  signed the same way. `manage.py verify_versions` checks all of it.
- A version is signed off once it has the project's `required_signatures` (default 1).
- A Version never changes once created: Version.save() refuses updates, delete() refuses,
  the admin is read-only and the API has no write endpoints for versions.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from safetycase import permissions, selectors
from safetycase.core import versions as chain
from safetycase.errors import ApplicationError, Conflict, PermissionDenied
from safetycase.models import Condition, Node, SafetyCase, Signature, Version
from safetycase.signing import ServerKey

Verdict = Version.Verdict
APPROVING = (Verdict.APPROVE, Verdict.APPROVE_WITH_CONDITIONS)
VERDICT_CHOICES = Verdict.choices


def version_content_of(version: Version, conditions=None) -> dict[str, Any]:
    """The signed content of a stored version, rebuilt from its row and conditions."""
    if conditions is None:
        conditions = version.conditions.all()
    return chain.version_content(
        case_id=version.case_id,
        number=version.number,
        snapshot=version.snapshot,
        verdict=version.verdict,
        reasons=version.reasons,
        conditions=[{"node": c.node_identifier, "text": c.text} for c in conditions],
        open_items=version.open_items,
        note=version.note,
        created_by=chain.person(version.created_by_id, version.created_by.username),
        created_at=version.created_at,
        previous_hash=version.previous_hash,
    )


def signature_content_of(signature: Signature, version: Version) -> dict[str, Any]:
    return chain.signature_content(
        case_id=version.case_id,
        number=version.number,
        signed_hash=signature.signed_hash,
        signer=chain.person(signature.user_id, signature.user.username),
        signed_at=signature.signed_at,
    )


def _refuse_unless_independent(actor, case: SafetyCase) -> None:
    refusal = permissions.sign_off_refusal(actor, case)
    if refusal:
        raise PermissionDenied(refusal)


def _checked_conditions(case: SafetyCase, verdict: str, conditions) -> list[dict[str, str]]:
    conditions = [
        {"node": str(c.get("node", "")).strip(), "text": str(c.get("text", "")).strip()}
        for c in conditions or []
    ]
    conditions = [c for c in conditions if c["node"] or c["text"]]
    if verdict != Verdict.APPROVE_WITH_CONDITIONS:
        if conditions:
            raise ApplicationError("Only an `approve with conditions` verdict has conditions.")
        return []
    if not conditions:
        raise ApplicationError("`approve with conditions` needs at least one condition.")
    known = set(Node.objects.filter(case=case).values_list("identifier", flat=True))
    for condition in conditions:
        if condition["node"] not in known:
            raise ApplicationError(
                f"A condition is pinned to {condition['node'] or 'no node'}, which is not a "
                f"node of case {case.pk}."
            )
        if not condition["text"]:
            raise ApplicationError(f"The condition on {condition['node']} needs some text.")
    return conditions


def _refuse_approval_with_open_problems(open_items: dict[str, Any]) -> None:
    problems = []
    if open_items["rule_errors"]:
        errors = open_items["rule_errors"]
        problems.append(
            f"{len(errors)} GSN rule error(s) ("
            + "; ".join(f"{e['rule']}: {e['message']}" for e in errors[:3])
            + ("; …" if len(errors) > 3 else "")
            + ")"
        )
    if open_items["open_challenges"]:
        challenged = sorted({c["node"] for c in open_items["open_challenges"]})
        problems.append(
            f"{len(open_items['open_challenges'])} open challenge(s) on {', '.join(challenged)}"
        )
    if problems:
        raise Conflict(
            "The case cannot be approved while it has "
            + " and ".join(problems)
            + ". Resolve them first, or reject the case with reasons."
        )


def version_sign_off(
    *,
    actor,
    case: SafetyCase,
    note: str = "",
    verdict: str = Verdict.APPROVE,
    reasons: str = "",
    conditions=None,
) -> Version:
    """An independent reviewer signs off the case as it is now with a verdict: a new,
    signed, immutable Version."""
    _refuse_unless_independent(actor, case)
    if verdict not in Verdict.values:
        raise ApplicationError(
            f"{verdict!r} is not a verdict; use one of {', '.join(Verdict.values)}."
        )
    reasons = reasons.strip()
    if verdict == Verdict.REJECT and not reasons:
        raise ApplicationError("A `reject` verdict needs the reasons.")
    conditions = _checked_conditions(case, verdict, conditions)
    key = ServerKey(create=True)
    try:
        with transaction.atomic():
            # Lock the case row so that concurrent sign-offs number and chain one after another.
            SafetyCase.objects.select_for_update().filter(pk=case.pk).first()
            open_items = selectors.case_open_items(case=case)
            if verdict in APPROVING:
                _refuse_approval_with_open_problems(open_items)
            snapshot = selectors.case_snapshot(case=case)
            previous = Version.objects.filter(case=case).order_by("-number").first()
            version = Version(
                case=case,
                number=(previous.number + 1) if previous else 1,
                snapshot=snapshot,
                verdict=verdict,
                reasons=reasons,
                open_items=open_items,
                previous_hash=previous.content_hash if previous else "",
                note=note.strip(),
                created_by=actor,
                created_at=timezone.now(),
            )
            rows = [
                Condition(case=case, node_identifier=c["node"], text=c["text"]) for c in conditions
            ]
            version.content_hash = chain.content_hash(version_content_of(version, rows))
            version.server_signature = key.sign(chain.version_message(version.content_hash))
            version.key_id = key.key_id
            version.save()
            for row in rows:
                row.version = version
            Condition.objects.bulk_create(rows)
            _sign(version, actor, key)
    except IntegrityError as exc:
        raise Conflict("Another sign-off of this case happened at the same time; retry.") from exc
    return version


def _sign(version: Version, user, key: ServerKey) -> Signature:
    signature = Signature(
        version=version, user=user, signed_at=timezone.now(), signed_hash=version.content_hash
    )
    record = chain.content_hash(signature_content_of(signature, version))
    signature.server_signature = key.sign(chain.signature_message(record))
    signature.key_id = key.key_id
    signature.save()
    return signature


def version_cosign(*, actor, version: Version) -> Signature:
    """Another independent reviewer adds their signature over the same content hash (the
    version itself is unchanged)."""
    _refuse_unless_independent(actor, version.case)
    if Signature.objects.filter(version=version, user=actor).exists():
        raise Conflict(f"You already signed version {version.number}.")
    try:
        with transaction.atomic():
            return _sign(version, actor, ServerKey(create=True))
    except IntegrityError as exc:
        raise Conflict(f"You already signed version {version.number}.") from exc


def condition_close(*, actor, condition: Condition, note: str) -> Condition:
    """An independent reviewer closes a condition of a version once it is met."""
    _refuse_unless_independent(actor, condition.case)
    if condition.state != Condition.State.OPEN:
        raise Conflict("This condition is already closed.")
    if not note.strip():
        raise ApplicationError("Closing a condition needs a note saying how it was met.")
    condition.state = Condition.State.CLOSED
    condition.closed_by = actor
    condition.closed_at = timezone.now()
    condition.closing_note = note.strip()
    condition.save()
    return condition
