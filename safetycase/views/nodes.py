"""The node's page and the case page's node panel."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse

from safetycase import selectors
from safetycase.core import criteria_wording
from safetycase.core.argument_walks import (
    foldable,
    folds_to_depth,
    has_sub_argument,
    root_causes,
)
from safetycase.core.gsn import navigation
from safetycase.core.gsn.model import Argument
from safetycase.core.gsn.rules import check_argument
from safetycase.core.ledger_chart import bound_trend, ledger_chart
from safetycase.core.outcome_meaning import DANGEROUS, LARGE_SAMPLE, counted_outcome_meaning
from safetycase.views.access import case_for_user_or_404


@login_required
def node_detail(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    """The node's page; to htmx (the case page's side panel) only the panel fragment."""
    case = case_for_user_or_404(request, case_id)
    nodes = list(selectors.case_nodes(case=case))
    node = next((n for n in nodes if n.identifier == identifier), None)
    if node is None:
        raise Http404(f"Case {case.pk} has no node {identifier!r}.")
    argument = selectors.case_argument_of(case=case, nodes=nodes)
    context = {
        "case": case,
        "n": node_context(case, node, argument, selectors.latest_assessment(case=case)),
    }
    if request.htmx:
        # Links inside the panel keep the argument view the case page shows.
        shown = QueryDict(urlsplit(request.htmx.current_url or "").query)
        context["panel_url"] = panel_url(case, shown)
        context["fold_link"] = fold_link(case, shown, argument, node)
        return render(request, "safetycase/_node_panel.html", context)
    context["history"] = selectors.node_history(node=node)
    return render(request, "safetycase/node_detail.html", context)


def panel_url(case, params) -> str:
    """The case page URL that opens a node's panel, up to the node identifier: the argument
    view or module shown, and the search, stay as they are."""
    keep = {
        key: params[key] for key in ("argument", "module", "fold", "depth", "q") if params.get(key)
    }
    return f"{reverse('case_detail', args=[case.pk])}?{urlencode({**keep, 'node': ''})}"


def node_context(case, node, argument, assessment) -> dict:
    statuses = assessment.statuses if assessment else {}
    reasons = assessment.reasons if assessment else {}
    flags = assessment.flags if assessment else []
    evidence = selectors.node_evidence(case=case, node=node)
    ledgers = (assessment.evidence or {}) if assessment else {}
    changes = selectors.node_criterion_changes(node=node) if node.type == "solution" else []
    for ev in evidence:
        # The binding's ledger as the latest assessment saw it, and its changed criteria.
        ev.ledger = ledgers.get(str(ev.binding.pk)) if assessment else None
        ev.criterion_changes = [c for c in changes if c.binding_id == ev.binding.pk]
        ev.failing_samples_query = failing_samples_query(ev.binding)
        # The criterion in words beside its CEL, and what it compares: its one-sided bound
        # per run of the ledger, and that bound across the task's runs of every model.
        ev.wording = criteria_wording.describe(ev.binding.expression, kind=ev.binding.kind)
        ev.ledger_chart = ev.bound_trend = None
        if ev.binding.kind == "criterion":
            infos = {info.run: info for info in ev.run_infos}
            ev.ledger_chart = ledger_chart(
                (ev.ledger or {}).get("evidence") or (),
                ev.wording.shape,
                policy=ev.binding.policy,
                runs=infos,
            )
            ev.bound_trend = bound_trend(ev.run_infos, ev.wording.shape)
    status, reason = statuses.get(node.identifier), reasons.get(node.identifier)
    challenged = selectors.open_challenge_counts(case=case).get(node.identifier, 0)
    if challenged and status == "supported":
        # An open challenge puts the node at risk until a reviewer closes it.
        status = "at_risk"
        reason = (
            f"{node.identifier} is at risk: {challenged} open challenge(s) dispute it "
            f"(the evidence alone supports it: {reason})"
        )
    return {
        "node": node,
        "assessment": assessment,
        "status": status,
        "reason": reason,
        "flags": [f for f in flags if f["node"] == node.identifier],
        "chain": navigation.node_chain(argument, node.identifier, statuses, reasons),
        "node_view": navigation.view_of(argument, node.identifier),
        "evidence": evidence,
        # Changes of criteria since deleted: they stay on the node until acknowledged.
        "deleted_criterion_changes": [c for c in changes if c.binding_id is None],
        "attestations": selectors.node_attestations(node=node),
        "findings": [f for f in check_argument(argument) if f.node == node.identifier],
        "root_causes": root_causes(argument, node.identifier, statuses, flags),
    }


def failing_samples_query(binding) -> str:
    """The run-page filter that lists the samples that count against a criterion: those where
    its score's dangerous outcome occurred, or its desired outcome did not; "" when the
    criterion names no score or does not say which outcome is which."""
    scorer = (binding.selector or {}).get("scorer")
    if binding.kind != "criterion" or not scorer:
        return ""
    meaning = counted_outcome_meaning(binding.expression, LARGE_SAMPLE)
    if not meaning:
        return ""
    outcome = "correct" if meaning == DANGEROUS else "incorrect"
    return urlencode({"score": scorer, "outcome": outcome})


def folded_elements(params, argument: Argument) -> set[str]:
    """The elements whose sub-argument the diagram leaves out: those named (`?fold=SI-G0,HC-G1`)
    that have something below them, other names ignored, and with `?depth=N` those on level N
    of the part shown (`folds_to_depth`), so that it stops there."""
    asked = foldable(argument, {part.strip() for part in params.get("fold", "").split(",")} - {""})
    depth = shown_depth(params)
    if depth:
        view = params.get("argument", "")
        module = "" if view else params.get("module", "")
        asked |= folds_to_depth(argument, depth, view=view, module=module)
    return asked


def shown_depth(params) -> int | None:
    """The level `?depth=` asks the diagram to stop at (1: the roots alone); None when not
    asked for or not a whole number, which shows the whole part."""
    try:
        depth = int(params.get("depth", ""))
    except ValueError:
        return None
    return max(depth, 1)


def case_url(case, params, *, fold, node: str = "") -> str:
    """The case page showing the same argument view or module, with `fold` folded (and no
    `?depth`: `fold` names every element to fold, those the depth folded included)."""
    query = {key: params[key] for key in ("argument", "module") if params.get(key)}
    if fold:
        query["fold"] = ",".join(sorted(fold))
    if node:
        query["node"] = node
    base = reverse("case_detail", args=[case.pk])
    return f"{base}?{urlencode(query)}" if query else base


def fold_link(case, params, argument: Argument, node) -> dict | None:
    """The link that folds (or unfolds) the sub-argument below `node` in the diagram the case
    page shows; None for an element with nothing below it."""
    identifier = node.identifier
    if not has_sub_argument(argument, identifier):
        return None
    folded = folded_elements(params, argument)
    toggled = folded - {identifier} if identifier in folded else folded | {identifier}
    return {
        "folded": identifier in folded,
        "url": case_url(case, params, fold=toggled, node=identifier),
    }
