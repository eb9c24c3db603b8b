"""Review parts of the case page and the node panel: open challenges as flags, comments,
challenges and their forms, the sign-off button and the versions link."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from safetycase import permissions, selectors

register = template.Library()

# The assessment's `attestation_expiring` flag comes as early (ATTESTATION_NOTICE_SECONDS).
EXPIRY_NOTICE = timedelta(days=14)


def _user(context):
    request = context.get("request")
    return request.user if request is not None else context.get("user")


@register.inclusion_tag("safetycase/review/_case_review.html", takes_context=True)
def case_review(context, case):
    """The versions link and, for independent reviewers, the link to the sign-off page; for
    everyone else who may read the case, the sentence saying why they cannot sign it."""
    user = _user(context)
    refusal = permissions.sign_off_refusal(user, case) if user is not None else None
    return {
        "case": case,
        "csrf_token": context.get("csrf_token"),
        "can_sign": user is not None and refusal is None,
        "sign_off_refusal": refusal,
        "is_author": user is not None and user.has_perm("safetycase.edit_argument", case),
        "latest_version": selectors.case_versions(case=case).first(),
    }


@register.inclusion_tag("safetycase/review/_challenge_flags.html")
def case_challenge_flags(case):
    """Open challenges as flags of type `challenge`, for the case page's flags panel."""
    return {"case": case, "challenge_flags": selectors.open_challenge_flags(case=case)}


@register.inclusion_tag("safetycase/review/_node_review.html", takes_context=True)
def node_review(context, case, node):
    user = _user(context)
    is_author = user is not None and user.has_perm("safetycase.edit_argument", case)
    is_reviewer = user is not None and user.has_perm("safetycase.review_case", case)
    challenges = list(selectors.node_challenges(node=node))
    # Who may close a challenge (permissions.challenge_close_refusal): its raiser or an
    # independent reviewer; the second part is the same for every challenge, so asked once.
    independent = (
        bool(challenges) and user is not None and (permissions.sign_off_refusal(user, case) is None)
    )
    for challenge in challenges:
        challenge.can_resolve = (
            challenge.state == "open"
            and user is not None
            and (independent or challenge.raised_by_id == user.pk)
        )
        challenge.can_respond = challenge.state == "open" and is_author
    return {
        "case": case,
        "node": node,
        "csrf_token": context.get("csrf_token"),
        "comments": list(selectors.node_comments(node=node)),
        "challenges": challenges,
        "challenge_flags": [selectors.challenge_flag(c) for c in challenges if c.state == "open"],
        "can_comment": is_author or is_reviewer,
        "can_challenge": is_reviewer,
        "conditions": list(selectors.case_conditions(case=case, node_identifier=node.identifier)),
        **_attestations(case, node, is_reviewer),
    }


def _attestations(case, node, is_reviewer: bool) -> dict:
    """An assumption's attestations (with those expiring within 14 days marked) and, for
    reviewers, the attest form with the project's default expiry date."""
    if node.type != "assumption":
        return {"is_assumption": False}
    now = timezone.now()
    attestations = list(selectors.node_attestations(node=node))
    for attestation in attestations:
        expires = attestation.expires_at
        attestation.expired = expires is not None and expires <= now
        attestation.expiring = (
            not attestation.expired and expires is not None and expires - now <= EXPIRY_NOTICE
        )
    days = case.project.attestation_expiry_days
    return {
        "is_assumption": True,
        "attestations": attestations,
        "can_attest": is_reviewer,
        "default_expiry": (now + timedelta(days=days)).date().isoformat(),
        "expiry_days": days,
    }


@register.simple_tag(takes_context=True)
def can_review(context, case) -> bool:
    """Whether the viewer reviews the case (withdraws runs, acknowledges changed criteria)."""
    user = _user(context)
    return user is not None and user.has_perm("safetycase.review_case", case)
