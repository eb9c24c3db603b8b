"""Review pages and forms: comments and challenges on nodes, sign-off, versions and diffs.

Every form is a plain POST form that works without JavaScript; after a POST the browser is sent
back to the node or case page. Viewers read only (403 on a POST); outsiders get 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from safetycase import permissions, selectors, services
from safetycase.core.diff import diff_snapshots
from safetycase.errors import ApplicationError
from safetycase.views.access import (
    case_for_user_or_404,
    found_or_404,
    node_or_404,
    perform_service,
)


@login_required
@require_POST
def comment_create(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    node = node_or_404(case, identifier)
    refused = perform_service(
        request,
        lambda: services.comment_create(
            actor=request.user, node=node, text=request.POST.get("text", "")
        ),
        "Comment added.",
    )
    return refused or redirect(node.get_absolute_url())


@login_required
@require_POST
def challenge_create(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    node = node_or_404(case, identifier)
    refused = perform_service(
        request,
        lambda: services.challenge_create(
            actor=request.user, node=node, claim=request.POST.get("claim", "")
        ),
        "Challenge raised.",
    )
    return refused or redirect(node.get_absolute_url())


@login_required
@require_POST
def challenge_resolve(request: HttpRequest, case_id: int, challenge_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    challenge = found_or_404(selectors.challenge_for_case, case=case, challenge_id=challenge_id)
    refused = perform_service(
        request,
        lambda: services.challenge_resolve(
            actor=request.user, challenge=challenge, resolution=request.POST.get("resolution", "")
        ),
        "Challenge resolved.",
    )
    return refused or redirect(challenge.node.get_absolute_url())


@login_required
@require_POST
def challenge_respond(request: HttpRequest, case_id: int, challenge_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    challenge = found_or_404(selectors.challenge_for_case, case=case, challenge_id=challenge_id)
    refused = perform_service(
        request,
        lambda: services.challenge_respond(
            actor=request.user, challenge=challenge, response=request.POST.get("response", "")
        ),
        "Response recorded; a reviewer closes the challenge.",
    )
    return refused or redirect(challenge.node.get_absolute_url())


@login_required
@require_POST
def challenge_reject_response(
    request: HttpRequest, case_id: int, challenge_id: int
) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    challenge = found_or_404(selectors.challenge_for_case, case=case, challenge_id=challenge_id)
    refused = perform_service(
        request,
        lambda: services.challenge_reject_response(
            actor=request.user, challenge=challenge, reason=request.POST.get("reason", "")
        ),
        "Response rejected; the challenge stays open.",
    )
    return refused or redirect(challenge.node.get_absolute_url())


@login_required
@require_POST
def attestation_create(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    """A reviewer attests an assumption from its node panel; the expiry is a date (the end of
    that day, UTC), by default the project's attestation_expiry_days from today."""
    case = case_for_user_or_404(request, case_id)
    node = node_or_404(case, identifier)

    def attest():
        expires = request.POST.get("expires_on", "").strip()
        expires_at = None
        if expires:
            try:
                day = date.fromisoformat(expires)
            except ValueError as exc:
                raise ApplicationError(f"{expires!r} is not a date (YYYY-MM-DD).") from exc
            expires_at = datetime.combine(day, time.max, tzinfo=UTC)
        services.attestation_create(
            actor=request.user,
            node=node,
            statement=request.POST.get("statement", ""),
            evidence_reference=request.POST.get("evidence_reference", ""),
            expires_at=expires_at,
        )

    refused = perform_service(request, attest, f"{node.identifier} attested.")
    return refused or redirect(node.get_absolute_url())


def _posted_conditions(post) -> list[dict[str, str]]:
    """Conditions from the sign-off form's rows `condition_node` / `condition_text`."""
    nodes, texts = post.getlist("condition_node"), post.getlist("condition_text")
    return [{"node": n, "text": t} for n, t in zip(nodes, texts, strict=False)]


@login_required
@require_http_methods(["GET", "POST"])
def version_sign_off(request: HttpRequest, case_id: int) -> HttpResponse:
    """The sign-off page: what is open in the case now, the verdict and its conditions or
    reasons, and a confirmation. Anyone but an independent reviewer gets 403 with the reason."""
    case = case_for_user_or_404(request, case_id)
    refusal = permissions.sign_off_refusal(request.user, case)
    if refusal:
        return HttpResponseForbidden(refusal)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Confirm that you reviewed the open items before signing off.")
        else:
            created = {}

            def sign_off():
                created["version"] = services.version_sign_off(
                    actor=request.user,
                    case=case,
                    note=request.POST.get("note", ""),
                    verdict=request.POST.get("verdict", ""),
                    reasons=request.POST.get("reasons", ""),
                    conditions=_posted_conditions(request.POST),
                )

            refused = perform_service(request, sign_off, "Signed off.")
            if refused:
                return refused
            if "version" in created:
                return redirect("version_detail", case_id=case.pk, number=created["version"].number)
    context = {
        "case": case,
        "open_items": selectors.case_open_items(case=case),
        "node_identifiers": selectors.node_identifiers(case=case),
        "verdicts": services.VERDICT_CHOICES,
        "posted": request.POST if request.method == "POST" else {},
    }
    return render(request, "safetycase/review/sign_off.html", context)


@login_required
@require_POST
def condition_close(request: HttpRequest, case_id: int, condition_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    condition = found_or_404(selectors.condition_for_case, case=case, condition_id=condition_id)
    refused = perform_service(
        request,
        lambda: services.condition_close(
            actor=request.user, condition=condition, note=request.POST.get("note", "")
        ),
        "Condition closed.",
    )
    return refused or redirect("version_detail", case_id=case.pk, number=condition.version.number)


@login_required
@require_POST
def version_cosign(request: HttpRequest, case_id: int, number: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    version = found_or_404(selectors.version_for_case, case=case, number=number)
    refused = perform_service(
        request,
        lambda: services.version_cosign(actor=request.user, version=version),
        f"You signed version {number}.",
    )
    return refused or redirect("version_detail", case_id=case.pk, number=number)


def _can_sign(request, case) -> bool:
    return permissions.sign_off_refusal(request.user, case) is None


@login_required
def version_list(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    versions = list(selectors.case_versions(case=case))
    context = {
        "case": case,
        "versions": versions,
        "can_sign": _can_sign(request, case),
        # Authors see why they have no sign-off button (they cannot sign their own case).
        "is_author": request.user.has_perm("safetycase.edit_argument", case),
        "sign_off_refusal": permissions.sign_off_refusal(request.user, case),
    }
    return render(request, "safetycase/review/version_list.html", context)


@login_required
def version_detail(request: HttpRequest, case_id: int, number: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    version = found_or_404(selectors.version_for_case, case=case, number=number)
    signed = any(s.user_id == request.user.pk for s in version.signatures.all())
    context = {
        "case": case,
        "version": version,
        "snapshot": version.snapshot,
        "can_cosign": _can_sign(request, case) and not signed,
        "can_close_conditions": _can_sign(request, case),
        "signatures_required": case.project.required_signatures,
    }
    return render(request, "safetycase/review/version_detail.html", context)


@login_required
def version_diff(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_for_user_or_404(request, case_id)
    versions = list(selectors.case_versions(case=case))
    try:
        a, b = int(request.GET.get("a", "")), int(request.GET.get("b", ""))
    except ValueError:
        a = b = None
    diff = None
    if a is not None:
        va = found_or_404(selectors.version_for_case, case=case, number=a)
        vb = found_or_404(selectors.version_for_case, case=case, number=b)
        diff = diff_snapshots(selectors.version_as_compared(va), selectors.version_as_compared(vb))
    context = {"case": case, "versions": versions, "a": a, "b": b, "diff": diff}
    return render(request, "safetycase/review/version_diff.html", context)


@login_required
@require_POST
def run_withdraw(request: HttpRequest, case_id: int, binding_id: int) -> HttpResponse:
    """A reviewer withdraws a run from a criterion's evidence, with a reason."""
    case = case_for_user_or_404(request, case_id)
    binding = found_or_404(selectors.binding_for_case, case=case, binding_id=binding_id)
    refused = perform_service(
        request,
        lambda: services.run_withdraw(
            actor=request.user,
            binding=binding,
            run_id=request.POST.get("run", ""),
            reason=request.POST.get("reason", ""),
        ),
        "Run withdrawn from the evidence.",
    )
    return refused or redirect(binding.node.get_absolute_url())


@login_required
@require_POST
def criterion_change_acknowledge(
    request: HttpRequest, case_id: int, change_id: int
) -> HttpResponse:
    """A reviewer acknowledges a criterion changed after evidence that failed it."""
    case = case_for_user_or_404(request, case_id)
    change = found_or_404(selectors.criterion_change_for_case, case=case, change_id=change_id)
    refused = perform_service(
        request,
        lambda: services.criterion_change_acknowledge(
            actor=request.user, node=change.node, change=change, note=request.POST.get("note", "")
        ),
        "Criterion change acknowledged.",
    )
    return refused or redirect(change.node.get_absolute_url())
