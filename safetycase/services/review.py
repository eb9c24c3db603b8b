"""Review: comments and challenges on nodes.

Rules:
- Authors and reviewers comment on nodes; viewers read.
- Reviewers raise challenges (counter-claims) on nodes. An open challenge is shown as a flag of
  type `challenge` beside the assessment's flags (merged at display time; the stored
  assessment stays as computed). The case's authors or the challenger resolve it, with a note.
"""

from __future__ import annotations

from django.utils import timezone

from safetycase.errors import ApplicationError, Conflict, PermissionDenied
from safetycase.models import Challenge, Comment, Node, SafetyCase


def _can_discuss(actor, case: SafetyCase) -> bool:
    return actor.has_perm("safetycase.edit_argument", case) or actor.has_perm(
        "safetycase.review_case", case
    )


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
