"""Reads of the review: comments, challenges, versions and a case's snapshot."""

from __future__ import annotations

import json
from typing import Any

from safetycase import facts
from safetycase.core.gsn.model import Severity
from safetycase.core.keys import canonical_json
from safetycase.core.versions import SNAPSHOT_SCHEMA
from safetycase.errors import NotFound
from safetycase.models import (
    Attestation,
    Challenge,
    Comment,
    Condition,
    Node,
    SafetyCase,
    Signature,
    Version,
)
from safetycase.selectors.assessments import bound_tasks, candidate_runs
from safetycase.selectors.cases import (
    case_bindings,
    case_findings,
    case_links,
    case_nodes,
    latest_assessment,
)


def node_comments(*, node: Node):
    return Comment.objects.filter(node=node).select_related("author").order_by("created_at", "id")


def node_challenges(*, node: Node):
    return (
        Challenge.objects.filter(node=node)
        .select_related("node", "raised_by", "resolved_by", "responded_by")
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


def case_snapshot(*, case: SafetyCase) -> dict[str, Any]:
    """Nodes, links, bindings and the latest assessment of the case, as canonical JSON data."""
    nodes = list(case_nodes(case=case))
    links = list(case_links(case=case))
    bindings = list(case_bindings(case=case))
    latest = latest_assessment(case=case)
    snapshot = {
        "schema": SNAPSHOT_SCHEMA,
        "case": facts.case_record(case),
        "nodes": sorted((facts.snapshot_node(n) for n in nodes), key=lambda n: n["identifier"]),
        "links": sorted(
            (facts.link_record(link) for link in links),
            key=lambda link: (
                link["source"],
                link["type"],
                link["target"],
                link["target_relation"],
            ),
        ),
        "bindings": sorted((facts.binding_record(b) for b in bindings), key=canonical_json),
        # The runs the case's bindings may count as evidence now: ingested, current runs of
        # the bound tasks (a superseded or withdrawn run drops out).
        "runs": [
            {
                "id": run.pk,
                "eval_id": run.eval_id,
                "task": run.task,
                "model": run.model,
                "model_version": run.model_version,
                "status": run.status,
                "superseded": run.superseded_at is not None,
            }
            for run in candidate_runs(tasks=bound_tasks(bindings), project_id=case.project_id)
            .prefetch_related(None)
            .only("id", "eval_id", "task", "model", "model_version", "status", "superseded_at")
        ],
        "attestations": [
            {
                "id": a.pk,
                "node": a.node.identifier,
                "attested_by": a.attested_by.username,
                "statement": a.statement,
                "scope": a.scope,
                "created_at": a.created_at.isoformat(),
                "expires_at": a.expires_at.isoformat() if a.expires_at else None,
            }
            for a in Attestation.objects.filter(case=case)
            .select_related("node", "attested_by")
            .order_by("id")
        ],
        "challenges": [
            {
                "id": c.pk,
                "node": c.node.identifier,
                "raised_by": c.raised_by.username,
                "claim": c.claim,
                "state": c.state,
                "response": c.response,
                "resolution": c.resolution,
            }
            for c in Challenge.objects.filter(case=case)
            .select_related("node", "raised_by")
            .order_by("id")
        ],
        "conditions": [
            {
                "id": c.pk,
                "version": c.version.number,
                "node": c.node_identifier,
                "text": c.text,
                "state": c.state,
            }
            for c in Condition.objects.filter(case=case).select_related("version").order_by("id")
        ],
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


def summary_with_challenges(
    *, statuses: dict[str, str], summary: dict[str, Any] | None, challenged: dict[str, int]
) -> dict[str, Any]:
    """An assessment's header counts with the open challenges in them: a challenged node that
    the assessment found supported counts as at risk, and each open challenge as a warning
    flag (the `challenge` flags shown beside the assessment's). The stored assessment stays
    as computed."""
    summary = dict(summary or {})
    counts = dict(summary.get("statuses") or {})
    for identifier in challenged:
        if statuses.get(identifier) == "supported":
            counts["supported"] = counts.get("supported", 0) - 1
            counts["at_risk"] = counts.get("at_risk", 0) + 1
    flags = dict(summary.get("flags") or {})
    if challenged:
        flags["warning"] = flags.get("warning", 0) + sum(challenged.values())
    return {**summary, "statuses": counts, "flags": flags, "challenges": sum(challenged.values())}


def case_open_items(*, case: SafetyCase) -> dict[str, Any]:
    """What is open in the case right now, as shown before a sign-off and signed with it:
    defeated and at-risk nodes, flags by severity, open challenges, open conditions of earlier
    versions and GSN rule errors."""
    latest = latest_assessment(case=case)
    statuses = latest.statuses if latest else {}
    flags = list(latest.flags) if latest else []
    challenges = [
        {"id": c.pk, "node": c.node.identifier, "claim": c.claim, "raised_by": c.raised_by.username}
        for c in Challenge.objects.filter(case=case, state=Challenge.State.OPEN)
        .select_related("node", "raised_by")
        .order_by("id")
    ]
    flags += [challenge_flag_record(c) for c in challenges]
    by_severity: dict[str, int] = {}
    for flag in flags:
        by_severity[flag["severity"]] = by_severity.get(flag["severity"], 0) + 1
    challenged = {c["node"] for c in challenges}
    return {
        "assessment": latest.pk if latest else None,
        "defeated": sorted(i for i, status in statuses.items() if status == "defeated"),
        "at_risk": sorted(
            {i for i, status in statuses.items() if status == "at_risk"}
            | (challenged - {i for i, s in statuses.items() if s == "defeated"})
        ),
        "flags_by_severity": dict(sorted(by_severity.items())),
        "open_challenges": challenges,
        "open_conditions": [
            {"id": c.pk, "version": c.version.number, "node": c.node_identifier, "text": c.text}
            for c in Condition.objects.filter(case=case, state=Condition.State.OPEN)
            .select_related("version")
            .order_by("id")
        ],
        "rule_errors": [
            f.as_dict() for f in case_findings(case=case) if f.severity == Severity.ERROR.value
        ],
    }


def challenge_flag_record(challenge: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "challenge",
        "severity": "warning",
        "node": challenge["node"],
        "run": None,
        "rule": f"challenge-{challenge['id']}",
        "message": f"Open challenge by {challenge['raised_by']}: {challenge['claim']}",
    }


def case_conditions(*, case: SafetyCase, node_identifier: str | None = None):
    conditions = Condition.objects.filter(case=case).select_related("version", "closed_by")
    if node_identifier is not None:
        conditions = conditions.filter(node_identifier=node_identifier)
    return conditions.order_by("state", "-version__number", "id")


def condition_for_case(*, case: SafetyCase, condition_id: int) -> Condition:
    condition = (
        Condition.objects.filter(case=case, pk=condition_id).select_related("version").first()
    )
    if condition is None:
        raise NotFound(f"Case {case.pk} has no condition {condition_id}.")
    condition.case = case
    return condition


def versions_to_verify(*, case_id: int | None = None):
    """Every version (of one case, or all) with what its signed content is rebuilt from."""
    versions = Version.objects.select_related("created_by").prefetch_related(
        "conditions", "signatures__user"
    )
    if case_id is not None:
        versions = versions.filter(case_id=case_id)
    return versions.order_by("case_id", "number")


def chain_heads(*, case_id: int | None = None) -> list[Version]:
    """The newest version of every case (or of one), by case id."""
    versions = Version.objects.order_by("case_id", "-number")
    if case_id is not None:
        versions = versions.filter(case_id=case_id)
    heads: dict[int, Version] = {}
    for version in versions.only("case_id", "number", "content_hash"):
        heads.setdefault(version.case_id, version)
    return list(heads.values())


def version_signatures(*, version: Version):
    return Signature.objects.filter(version=version).select_related("user").order_by("signed_at")


def version_as_compared(version: Version) -> dict[str, Any]:
    """A version's snapshot with the conditions its own verdict set (open, as signed), which
    the snapshot, taken before the verdict, cannot list: what a diff compares."""
    snapshot = dict(version.snapshot)
    known = {c.get("id") for c in snapshot.get("conditions") or []}
    snapshot["conditions"] = [
        *(snapshot.get("conditions") or []),
        *(
            {
                "id": c.pk,
                "version": version.number,
                "node": c.node_identifier,
                "text": c.text,
                "state": Condition.State.OPEN,
            }
            for c in version.conditions.all()
            if c.pk not in known
        ),
    ]
    return snapshot


def case_versions(*, case: SafetyCase):
    return (
        Version.objects.filter(case=case)
        .select_related("created_by", "case__project")
        .prefetch_related("signatures__user", "conditions__closed_by")
        .order_by("-number")
    )


def version_for_case(*, case: SafetyCase, number: int) -> Version:
    version = case_versions(case=case).filter(number=number).first()
    if version is None:
        raise NotFound(f"Case {case.pk} has no version {number}.")
    return version
