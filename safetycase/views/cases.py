"""The case list and the case page: the diagram (whole, one argument view or one module)
beside the node panel, the flags and what changed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from safetycase import selectors
from safetycase.adapters.graphviz import DiagramError
from safetycase.core.argument_walks import (
    FAILURE_PATHS_QUERY,
    failure_paths,
    reading_order,
    supported_by_levels,
)
from safetycase.core.diagrams import rollup_text
from safetycase.core.gsn import navigation
from safetycase.core.gsn.model import Argument, Severity
from safetycase.core.gsn.rules import check_argument
from safetycase.core.search import MAX_QUERY_CHARS, matching_identifiers
from safetycase.views.access import case_for_user_or_404
from safetycase.views.conditional import unless_page_not_modified
from safetycase.views.nodes import (
    case_url,
    fold_link,
    folded_elements,
    node_context,
    panel_url,
    shown_depth,
)


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = selectors.case_overviews_for_user(user=request.user)
    latest = selectors.latest_versions(cases=cases)
    for case in cases:
        case.last_version = latest.get(case.pk)
    return render(request, "safetycase/case_list.html", {"cases": cases})


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """The diagram (whole, one argument view or one module) beside the node panel, the flags
    and what changed. `?node=X` opens X's panel on the server; `?q=` lists the nodes of the
    whole case that match (safetycase.core.search) and marks them in the diagram. Answers
    304 Not Modified to a browser that has this very page (views.conditional)."""
    case = case_for_user_or_404(request, case_id)
    return unless_page_not_modified(
        request, ("case-page", case.pk), lambda: _case_page(request, case)
    )


def _case_page(request: HttpRequest, case) -> HttpResponse:
    nodes = list(selectors.case_nodes(case=case))
    argument = selectors.case_argument_of(case=case, nodes=nodes)
    assessment = selectors.latest_assessment(case=case)
    views = navigation.argument_views(argument)
    modules = sorted({node.module for node in nodes} - {""})
    view, module = _shown_part(request.GET, views, modules)
    folded = folded_elements(request.GET, argument)
    challenged = selectors.open_challenge_counts(case=case)
    diagram, diagram_error = _diagram(case, argument, assessment, view, module, folded, challenged)
    findings = check_argument(argument)
    wanted = request.GET.get("node", "")
    selected = next((n for n in nodes if n.identifier == wanted), None)
    query = request.GET.get("q", "").strip()[:MAX_QUERY_CHARS]
    statuses = assessment.statuses if assessment else {}
    paths_asked = query == FAILURE_PATHS_QUERY
    if paths_asked:
        hits = failure_paths(argument, statuses)
    else:
        hits = matching_identifiers(query, nodes, statuses, assessment.flags if assessment else [])
    by_identifier = {n.identifier: n for n in nodes}
    context = {
        "case": case,
        "assessment": assessment,
        "flags": assessment.flags if assessment else [],
        "statuses": assessment.statuses if assessment else {},
        # Header counts with open challenges: a challenged supported node counts as at risk.
        "summary": selectors.summary_with_challenges(
            statuses=assessment.statuses, summary=assessment.summary, challenged=challenged
        )
        if assessment
        else None,
        "history": selectors.assessment_history(case=case),
        "diagram": diagram,
        "diagram_error": diagram_error,
        "views": views,
        "view": view,
        "modules": modules,
        "module": module,
        "findings": findings,
        "rule_errors": [f for f in findings if f.severity == Severity.ERROR],
        "nodes": nodes,
        "node_list": _diagram_node_list(case, argument, view, module, folded, statuses),
        "folded": sorted(folded),
        "depth": shown_depth(request.GET),
        "depths": range(
            1, max(supported_by_levels(argument, view=view, module=module).values(), default=0) + 1
        ),
        "unfold_all_url": case_url(case, request.GET, fold=()),
        "panel": node_context(case, selected, argument, assessment) if selected else None,
        "fold_link": fold_link(case, request.GET, argument, selected) if selected else None,
        "panel_url": panel_url(case, request.GET),
        "missing_node": wanted if wanted and not selected else "",
        "query": query,
        "paths_asked": paths_asked,
        "failure_paths_query": FAILURE_PATHS_QUERY,
        "search_hits": [
            (by_identifier[i], selectors.node_url(case.pk, i), statuses.get(i)) for i in hits
        ],
        "search_hits_json": json.dumps(hits),
    }
    return render(request, "safetycase/case_detail.html", context)


def _shown_part(params, views, modules) -> tuple[str, str]:
    """(argument view, module) asked for, each "" when not asked for or not in this case."""
    view = params.get("argument", "")
    view = view if view in {v.key for v in views} else ""
    module = params.get("module", "")
    return view, (module if module in modules and not view else "")


@dataclass(frozen=True)
class ListedNode:
    """One entry of the keyboard-navigable node list under the diagram."""

    identifier: str
    type: str
    statement: str
    depth: int  # 0 for a root of the part shown; children one deeper, context beside them
    url: str | None  # its node page (None for an imported identifier no URL can carry)
    rollup: str = ""  # folded: the statuses of what it hides ("2 ✗ defeated · 12 ✓ supported")

    @property
    def indent(self) -> int:
        """The depth as a CSS class step (the page may not carry inline styles)."""
        return min(self.depth, 8)


def _diagram_node_list(
    case, argument: Argument, view: str, module: str, folded: set[str], statuses
) -> list[ListedNode]:
    """The nodes the diagram draws, in reading order: depth first from its roots, each node's
    context right after it, so that the arrow keys walk the argument as it is drawn; a folded
    node with the statuses of what it hides."""
    rollups = navigation.fold_rollups(argument, folded, statuses)
    return [
        ListedNode(
            element.identifier,
            element.type,
            element.statement,
            depth,
            selectors.node_url(case.pk, element.identifier),
            rollup_text(rollups.get(element.identifier, ())),
        )
        for element, depth in reading_order(argument, view=view, module=module, folded=folded)
    ]


def _diagram(case, argument, assessment, view: str, module: str, folded: set[str], challenged):
    """(SVG markup, None) or (None, why it could not be rendered)."""
    try:
        svg = selectors.case_view_svg(
            case=case,
            argument=argument,
            statuses=assessment.statuses if assessment else None,
            view=view or None,
            module=module or None,
            folded=folded,
            challenged=challenged,
        )
    except DiagramError as exc:
        return None, str(exc)
    # Our own renderer's output: every user string was escaped in the DOT source.
    return mark_safe(svg), None
