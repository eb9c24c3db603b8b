"""Reads of the review: comments, challenges, versions and a case's snapshot."""

from __future__ import annotations

import json
from typing import Any

from safetycase import facts
from safetycase.core.keys import canonical_json
from safetycase.core.versions import SNAPSHOT_SCHEMA
from safetycase.errors import NotFound
from safetycase.models import Challenge, Comment, Node, SafetyCase, Version
from safetycase.selectors.cases import case_bindings, case_links, case_nodes, latest_assessment


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
