"""Review: comments and challenges on nodes, sign-off into immutable versions, and version diffs.

Rules:
- Authors and reviewers comment on nodes; viewers read.
- Reviewers raise challenges (counter-claims) on nodes. An open challenge is shown as a flag of
  type `challenge` beside the assessment's flags (merged at display time; the stored
  assessment stays as computed). The case's authors or the challenger resolve it, with a note.
- Sign-off: only reviewers sign off. A reviewer's sign-off creates a Version that is signed at
  once (one reviewer's signature suffices); other reviewers may add their signatures. Authors
  cannot sign off, so no author alone ever makes a version.
- A Version never changes once created: Version.save() refuses updates, delete() refuses,
  the admin is read-only and the API has no write endpoints for versions.
- `content_hash` = sha256(previous version's hash + "\\n" + canonical JSON of the snapshot);
  the first version of a case chains to "". `manage.py verify_versions` recomputes the chain.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from safetycase import selectors
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.models import Challenge, Comment, Node, SafetyCase, Signature, Version

SNAPSHOT_SCHEMA = "safetycase.version/1"


def _can_discuss(actor, case: SafetyCase) -> bool:
    return actor.has_perm("safetycase.edit_argument", case) or actor.has_perm(
        "safetycase.review_case", case
    )


# ---------------------------------------------------------------------------------------------
# Comments and challenges


def comment_create(*, actor, node: Node, text: str) -> Comment:
    if not _can_discuss(actor, node.case):
        raise PermissionDenied(f"Only authors and reviewers of case {node.case_id} may comment.")
    if not text.strip():
        raise ApplicationError("A comment needs some text.")
    return Comment.objects.create(case=node.case, node=node, author=actor, text=text.strip())


def challenge_create(*, actor, node: Node, claim: str) -> Challenge:
    if not actor.has_perm("safetycase.review_case", node.case):
        raise PermissionDenied(f"Only reviewers of case {node.case_id} may challenge nodes.")
    if not claim.strip():
        raise ApplicationError("A challenge needs a counter-claim.")
    return Challenge.objects.create(case=node.case, node=node, raised_by=actor, claim=claim.strip())


def challenge_resolve(*, actor, challenge: Challenge, resolution: str) -> Challenge:
    case = challenge.case
    if not (actor.has_perm("safetycase.edit_argument", case) or challenge.raised_by_id == actor.pk):
        raise PermissionDenied(
            f"Only authors of case {case.pk} or the challenger may resolve a challenge."
        )
    if challenge.state != Challenge.State.OPEN:
        raise Conflict("This challenge is already resolved.")
    if not resolution.strip():
        raise ApplicationError("Resolving a challenge needs a note saying how.")
    challenge.state = Challenge.State.RESOLVED
    challenge.resolved_by = actor
    challenge.resolved_at = timezone.now()
    challenge.resolution = resolution.strip()
    challenge.save()
    return challenge


def node_comments(*, node: Node):
    return Comment.objects.filter(node=node).select_related("author").order_by("created_at", "id")


def node_challenges(*, node: Node):
    return (
        Challenge.objects.filter(node=node)
        .select_related("node", "raised_by", "resolved_by")
        .order_by("-created_at", "-id")
    )


def challenge_for_case(*, case: SafetyCase, challenge_id: int) -> Challenge:
    challenge = (
        Challenge.objects.filter(case=case, pk=challenge_id).select_related("node", "case").first()
    )
    if challenge is None:
        raise NotFound(f"Case {case.pk} has no challenge {challenge_id}.")
    challenge.case = case  # keeps the membership cache of the selector that loaded the case
    return challenge


def challenge_flag(challenge: Challenge) -> dict[str, Any]:
    return {
        "type": "challenge",
        "severity": "warning",
        "node": challenge.node.identifier,
        "run": None,
        "rule": f"challenge-{challenge.pk}",
        "message": f"Open challenge by {challenge.raised_by}: {challenge.claim}",
    }


def open_challenge_flags(*, case: SafetyCase, node: Node | None = None) -> list[dict[str, Any]]:
    """Open challenges as flags (type `challenge`), to show beside the assessment's flags."""
    challenges = Challenge.objects.filter(case=case, state=Challenge.State.OPEN)
    if node is not None:
        challenges = challenges.filter(node=node)
    return [
        challenge_flag(c)
        for c in challenges.select_related("node", "raised_by").order_by("node__identifier", "id")
    ]


# ---------------------------------------------------------------------------------------------
# Versions


def canonical_json(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(snapshot: dict[str, Any], previous_hash: str) -> str:
    payload = f"{previous_hash}\n{canonical_json(snapshot)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def case_snapshot(*, case: SafetyCase) -> dict[str, Any]:
    """Nodes, links, bindings and the latest assessment of the case, as canonical JSON data."""
    nodes = list(selectors.case_nodes(case=case))
    links = list(selectors.case_links(case=case))
    bindings = list(selectors.case_bindings(case=case))
    latest = selectors.latest_assessment(case=case)
    snapshot = {
        "schema": SNAPSHOT_SCHEMA,
        "case": {
            "id": case.pk,
            "name": case.name,
            "model_name": case.model_name,
            "model_version": case.model_version,
            "deployment": case.deployment,
            "description": case.description,
        },
        "nodes": sorted(
            (
                {
                    "identifier": n.identifier,
                    "type": n.type,
                    "statement": n.statement,
                    "undeveloped": n.undeveloped,
                    "module": n.module,
                    "combination": n.combination,
                    "template_ref": n.template_ref,
                    "catalogue_id": n.catalogue_id,
                    "attributes": n.attributes or {},
                }
                for n in nodes
            ),
            key=lambda n: n["identifier"],
        ),
        "links": sorted(
            (
                {
                    "source": link.source.identifier,
                    "target": link.target.identifier,
                    "type": link.type,
                    "target_relation": link.target_relation,
                }
                for link in links
            ),
            key=lambda link: (
                link["source"],
                link["type"],
                link["target"],
                link["target_relation"],
            ),
        ),
        "bindings": sorted(
            (
                {
                    "node": b.node.identifier,
                    "kind": b.kind,
                    "selector": b.selector,
                    "freshness_days": b.freshness_days,
                    "expression": b.expression,
                    "description": b.description,
                }
                for b in bindings
            ),
            key=canonical_json,
        ),
        "assessment": None
        if latest is None
        else {
            "id": latest.pk,
            "created_at": latest.created_at.isoformat(),
            "overall_status": latest.overall_status,
            "statuses": latest.statuses,
            "reasons": latest.reasons,
            "flags": latest.flags,
        },
    }
    # Round-trip so the stored snapshot is exactly the hashed JSON data.
    return json.loads(canonical_json(snapshot))


def version_sign_off(*, actor, case: SafetyCase, note: str = "") -> Version:
    """A reviewer signs off the case as it is now: a new, signed, immutable Version."""
    if not actor.has_perm("safetycase.review_case", case):
        raise PermissionDenied(
            f"Only reviewers of case {case.pk} may sign off a version; authors cannot sign "
            "off alone."
        )
    snapshot = case_snapshot(case=case)
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
                content_hash=content_hash(snapshot, previous_hash),
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


def case_versions(*, case: SafetyCase):
    return (
        Version.objects.filter(case=case)
        .select_related("created_by")
        .prefetch_related("signatures__user")
        .order_by("-number")
    )


def version_for_case(*, case: SafetyCase, number: int) -> Version:
    version = case_versions(case=case).filter(number=number).first()
    if version is None:
        raise NotFound(f"Case {case.pk} has no version {number}.")
    return version


def verify_chain(versions) -> list[str]:
    """Problems found recomputing each version's hash from its stored snapshot and the
    previous version's hash; `versions` of one case in number order. Empty when intact."""
    problems = []
    previous_hash = ""
    for version in versions:
        where = f"case {version.case_id} version {version.number}"
        if version.previous_hash != previous_hash:
            problems.append(f"{where}: previous hash does not match the previous version")
        if content_hash(version.snapshot, previous_hash) != version.content_hash:
            problems.append(f"{where}: content hash does not match its snapshot")
        previous_hash = version.content_hash
    return problems


# ---------------------------------------------------------------------------------------------
# Diff (pure)

NODE_FIELDS = ("type", "statement", "undeveloped")


def _flag_key(flag: dict) -> tuple:
    return (
        flag.get("type", ""),
        flag.get("node") or "",
        flag.get("run") or 0,
        flag.get("rule", ""),
    )


def diff_snapshots(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed from snapshot `a` to snapshot `b`: nodes added, removed and changed
    (statement, type, undeveloped), status changes, and flags new in `b` (and cleared)."""
    nodes_a = {n["identifier"]: n for n in a.get("nodes", [])}
    nodes_b = {n["identifier"]: n for n in b.get("nodes", [])}
    changed = []
    for identifier in sorted(nodes_a.keys() & nodes_b.keys()):
        fields = {
            field: {
                "before": nodes_a[identifier].get(field),
                "after": nodes_b[identifier].get(field),
            }
            for field in NODE_FIELDS
            if nodes_a[identifier].get(field) != nodes_b[identifier].get(field)
        }
        if fields:
            changed.append({"identifier": identifier, "fields": fields})
    assessment_a = a.get("assessment") or {}
    assessment_b = b.get("assessment") or {}
    statuses_a = assessment_a.get("statuses") or {}
    statuses_b = assessment_b.get("statuses") or {}
    flags_a = {_flag_key(f): f for f in assessment_a.get("flags") or []}
    flags_b = {_flag_key(f): f for f in assessment_b.get("flags") or []}
    return {
        "nodes_added": [nodes_b[i] for i in sorted(nodes_b.keys() - nodes_a.keys())],
        "nodes_removed": [nodes_a[i] for i in sorted(nodes_a.keys() - nodes_b.keys())],
        "nodes_changed": changed,
        "status_changes": [
            {"identifier": i, "before": statuses_a.get(i), "after": statuses_b.get(i)}
            for i in sorted(statuses_a.keys() | statuses_b.keys())
            if statuses_a.get(i) != statuses_b.get(i)
        ],
        "overall_status": {
            "before": assessment_a.get("overall_status"),
            "after": assessment_b.get("overall_status"),
        },
        "flags_added": [flags_b[k] for k in sorted(flags_b) if k not in flags_a],
        "flags_cleared": [flags_a[k] for k in sorted(flags_a) if k not in flags_b],
    }
