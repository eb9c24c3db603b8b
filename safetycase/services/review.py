"""Review: comments and challenges on nodes.

Rules:
- Authors and reviewers comment on nodes; viewers read.
- Reviewers raise challenges (counter-claims) on nodes. An open challenge is shown as a flag of
  type `challenge` beside the assessment's flags (merged at display time; the stored
  assessment stays as computed) and puts its node at risk.
- The case's authors respond to a challenge; the reviewer who raised it, or another
  independent reviewer, closes it with a note (accepting the response) or rejects the
  response. An author never closes a challenge, superuser or not
  (safetycase.permissions.challenge_close_refusal).
"""

from __future__ import annotations

from django.utils import timezone

from safetycase import permissions
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


def challenge_respond(*, actor, challenge: Challenge, response: str) -> Challenge:
    """An author answers an open challenge; a reviewer then closes it or rejects the answer."""
    case = challenge.case
    if not actor.has_perm("safetycase.edit_argument", case):
        raise PermissionDenied(f"Only authors of case {case.pk} respond to challenges.")
    if challenge.state != Challenge.State.OPEN:
        raise Conflict("This challenge is already resolved.")
    if not response.strip():
        raise ApplicationError("A response needs some text.")
    challenge.response = response.strip()
    challenge.responded_by = actor
    challenge.responded_at = timezone.now()
    challenge.response_rejection = ""
    challenge.save()
    return challenge


def challenge_reject_response(*, actor, challenge: Challenge, reason: str) -> Challenge:
    """The challenger or another reviewer does not accept the authors' response: the
    challenge stays open, with the reason beside the response."""
    refusal = permissions.challenge_close_refusal(actor, challenge)
    if refusal:
        raise PermissionDenied(refusal)
    if challenge.state != Challenge.State.OPEN:
        raise Conflict("This challenge is already resolved.")
    if not challenge.response:
        raise Conflict("The authors have not responded to this challenge yet.")
    if not reason.strip():
        raise ApplicationError("Rejecting a response needs a reason.")
    challenge.response_rejection = reason.strip()
    challenge.save()
    return challenge


def challenge_resolve(*, actor, challenge: Challenge, resolution: str) -> Challenge:
    """The challenger or another independent reviewer closes the challenge with a note."""
    refusal = permissions.challenge_close_refusal(actor, challenge)
    if refusal:
        raise PermissionDenied(refusal)
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
