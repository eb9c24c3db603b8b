"""Server-rendered pages: case list, case page (diagram, node panel, flags, changes), node page,
run page with its live ingestion progress, samples and log download, and the health check.

Every interaction is a plain link or GET form; htmx only swaps the same server-rendered
fragments in place (the node panel, the samples table, the progress line), so the pages work
the same without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import mark_safe

from evidence import selectors as evidence_selectors
from evidence.choices import RunStatus
from safetycase import selectors
from safetycase.errors import NotFound
from safetycase.forms import SampleFilterForm
from safetycase.gsn import navigation
from safetycase.gsn.model import Argument, RelationType
from safetycase.gsn.rules import check_argument
from safetycase.health import health_report
from safetycase.models import Version
from safetycase.rendering import DiagramError

SAMPLES_PER_PAGE = 50
FINISHED = (RunStatus.INGESTED, RunStatus.FAILED)


def _get_case_for_user(request: HttpRequest, case_id: int):
    try:
        return selectors.case_for_user(user=request.user, case_id=case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _get_run_for_user(request: HttpRequest, run_id: int):
    """Who may see a run is decided in selectors.run_for_user, for every run view."""
    try:
        return selectors.run_for_user(user=request.user, run_id=run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = selectors.case_overviews_for_user(user=request.user)
    _attach_last_sign_off(cases)
    return render(request, "safetycase/case_list.html", {"cases": cases})


def _attach_last_sign_off(cases) -> None:
    """Each case's `last_version` (its newest signed-off Version, None if none), in one query
    and without the snapshots."""
    latest: dict[int, Version] = {}
    versions = (
        Version.objects.filter(case__in=[case.pk for case in cases])
        .select_related("created_by")
        .defer("snapshot")
        .order_by("case_id", "-number")
    )
    for version in versions:
        latest.setdefault(version.case_id, version)
    for case in cases:
        case.last_version = latest.get(case.pk)


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """The diagram (whole, one argument view or one module) beside the node panel, the flags
    and what changed. `?node=X` opens X's panel on the server."""
    case = _get_case_for_user(request, case_id)
    nodes = list(selectors.case_nodes(case=case))
    argument = selectors.argument_from_rows(
        case=case, nodes=nodes, links=list(selectors.case_links(case=case))
    )
    assessment = selectors.latest_assessment(case=case)
    views = navigation.argument_views(argument)
    modules = sorted({node.module for node in nodes} - {""})
    view, module = _shown_part(request.GET, views, modules)
    folded = _folded(request.GET, argument)
    diagram, diagram_error = _diagram(case, argument, assessment, view, module, folded)
    wanted = request.GET.get("node", "")
    selected = next((n for n in nodes if n.identifier == wanted), None)
    context = {
        "case": case,
        "assessment": assessment,
        "flags": assessment.flags if assessment else [],
        "statuses": assessment.statuses if assessment else {},
        "history": selectors.assessment_history(case=case),
        "diagram": diagram,
        "diagram_error": diagram_error,
        "views": views,
        "view": view,
        "modules": modules,
        "module": module,
        "findings": check_argument(argument),
        "nodes": nodes,
        "node_list": _diagram_node_list(case, argument, view, module, folded),
        "folded": sorted(folded),
        "unfold_all_url": _case_url(case, request.GET, fold=()),
        "panel": _node_context(case, selected, argument, assessment) if selected else None,
        "fold_link": _fold_link(case, request.GET, argument, selected) if selected else None,
        "panel_url": _panel_url(case, request.GET),
        "missing_node": wanted if wanted and not selected else "",
    }
    return render(request, "safetycase/case_detail.html", context)


def _shown_part(params, views, modules) -> tuple[str, str]:
    """(argument view, module) asked for, each "" when not asked for or not in this case."""
    view = params.get("argument", "")
    view = view if view in {v.key for v in views} else ""
    module = params.get("module", "")
    return view, (module if module in modules and not view else "")


def _folded(params, argument: Argument) -> set[str]:
    """The elements whose sub-argument the diagram leaves out (`?fold=SI-G0,HC-G1`): those of
    the case that have something below them; other names are ignored."""
    asked = {part.strip() for part in params.get("fold", "").split(",")} - {""}
    return asked & {r.source for r in argument.relations}


def _case_url(case, params, *, fold, node: str = "") -> str:
    """The case page showing the same argument view or module, with `fold` folded."""
    query = {key: params[key] for key in ("argument", "module") if params.get(key)}
    if fold:
        query["fold"] = ",".join(sorted(fold))
    if node:
        query["node"] = node
    base = reverse("case_detail", args=[case.pk])
    return f"{base}?{urlencode(query)}" if query else base


def _fold_link(case, params, argument: Argument, node) -> dict | None:
    """The link that folds (or unfolds) the sub-argument below `node` in the diagram the case
    page shows; None for an element with nothing below it."""
    identifier = node.identifier
    if not any(
        r.source == identifier and r.type == RelationType.SUPPORTED_BY for r in argument.relations
    ):
        return None
    folded = _folded(params, argument)
    toggled = folded - {identifier} if identifier in folded else folded | {identifier}
    return {
        "folded": identifier in folded,
        "url": _case_url(case, params, fold=toggled, node=identifier),
    }


@dataclass(frozen=True)
class ListedNode:
    """One entry of the keyboard-navigable node list under the diagram."""

    identifier: str
    type: str
    statement: str
    depth: int  # 0 for a root of the part shown; children one deeper, context beside them
    url: str | None  # its node page (None for an imported identifier no URL can carry)

    @property
    def indent(self) -> int:
        """The depth as a CSS class step (the page may not carry inline styles)."""
        return min(self.depth, 8)


def _diagram_node_list(
    case, argument: Argument, view: str, module: str, folded: set[str]
) -> list[ListedNode]:
    """The nodes the diagram draws, in reading order: depth first from its roots, each node's
    context right after it, so that the arrow keys walk the argument as it is drawn."""
    if view:
        argument, module = navigation.argument_view(argument, view)
    argument, _hidden = navigation.fold(argument, folded)
    elements = {e.identifier: e for e in argument.elements}
    if module:
        own = {i for i, e in elements.items() if e.module == module}
        drawn = own | {r.target for r in argument.relations if r.source in own}
    else:
        drawn = set(elements)
    children: dict[str, list[str]] = {}
    has_parent: set[str] = set()
    # Context first (it is drawn beside its node), then the supporting elements.
    for relation in sorted(
        argument.relations,
        key=lambda r: (r.type != RelationType.IN_CONTEXT_OF, r.source, r.target),
    ):
        if relation.source in drawn and relation.target in drawn:
            if relation.type in (RelationType.SUPPORTED_BY, RelationType.IN_CONTEXT_OF):
                children.setdefault(relation.source, []).append(relation.target)
                has_parent.add(relation.target)
    listed: list[ListedNode] = []
    seen: set[str] = set()

    def visit(identifier: str, depth: int) -> None:
        stack = [(identifier, depth)]
        while stack:
            current, level = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            element = elements[current]
            listed.append(
                ListedNode(
                    current, element.type, element.statement, level, _node_url(case, current)
                )
            )
            stack.extend((child, level + 1) for child in reversed(children.get(current, [])))

    for identifier in sorted(drawn - has_parent) + sorted(drawn):  # then any left in cycles
        visit(identifier, 0)
    return listed


def _node_url(case, identifier: str) -> str | None:
    try:
        return reverse("node_detail", args=[case.pk, identifier])
    except NoReverseMatch:  # an imported identifier the URL pattern cannot carry
        return None


def _diagram(case, argument, assessment, view: str, module: str, folded: set[str]):
    """(SVG markup, None) or (None, why it could not be rendered)."""
    try:
        svg = selectors.case_view_svg(
            case=case,
            argument=argument,
            statuses=assessment.statuses if assessment else None,
            view=view or None,
            module=module or None,
            folded=folded,
            challenged=selectors.open_challenge_counts(case=case),
        )
    except DiagramError as exc:
        return None, str(exc)
    # Our own renderer's output: every user string was escaped in the DOT source.
    return mark_safe(svg), None


@login_required
def node_detail(request: HttpRequest, case_id: int, identifier: str) -> HttpResponse:
    """The node's page; to htmx (the case page's side panel) only the panel fragment."""
    case = _get_case_for_user(request, case_id)
    nodes = list(selectors.case_nodes(case=case))
    node = next((n for n in nodes if n.identifier == identifier), None)
    if node is None:
        raise Http404(f"Case {case.pk} has no node {identifier!r}.")
    argument = selectors.argument_from_rows(
        case=case, nodes=nodes, links=list(selectors.case_links(case=case))
    )
    context = {
        "case": case,
        "n": _node_context(case, node, argument, selectors.latest_assessment(case=case)),
    }
    if request.htmx:
        # Links inside the panel keep the argument view the case page shows.
        shown = QueryDict(urlsplit(request.htmx.current_url or "").query)
        context["panel_url"] = _panel_url(case, shown)
        context["fold_link"] = _fold_link(case, shown, argument, node)
        return render(request, "safetycase/_node_panel.html", context)
    context["history"] = node.history.select_related("history_user").order_by("-history_date")[:20]
    return render(request, "safetycase/node_detail.html", context)


def _panel_url(case, params) -> str:
    """The case page URL that opens a node's panel, up to the node identifier: the argument
    view or module shown stays as it is."""
    keep = {key: params[key] for key in ("argument", "module", "fold") if params.get(key)}
    return f"{reverse('case_detail', args=[case.pk])}?{urlencode({**keep, 'node': ''})}"


def _node_context(case, node, argument, assessment) -> dict:
    statuses = assessment.statuses if assessment else {}
    reasons = assessment.reasons if assessment else {}
    flags = assessment.flags if assessment else []
    return {
        "node": node,
        "assessment": assessment,
        "status": statuses.get(node.identifier),
        "reason": reasons.get(node.identifier),
        "flags": [f for f in flags if f["node"] == node.identifier],
        "chain": navigation.node_chain(argument, node.identifier, statuses, reasons),
        "node_view": navigation.view_of(argument, node.identifier),
        "evidence": selectors.node_evidence(case=case, node=node),
        "attestations": selectors.node_attestations(node=node),
        "findings": [f for f in check_argument(argument) if f.node == node.identifier],
        "root_causes": _root_causes(argument, node.identifier, statuses, flags),
    }


ROOT_CAUSES_SHOWN = 8


def _root_causes(argument: Argument, identifier: str, statuses, flags) -> dict:
    """Why a defeated or at-risk node is so, at the bottom: the flags (failing evidence,
    violated assumptions, ...) on the elements below it, i.e. its supported_by descendants and
    the assumptions attached to them, errors first. One click from the node's panel to each.
    {"flags": [...], "more": n}; empty for other nodes."""
    if statuses.get(identifier) not in ("defeated", "at_risk"):
        return {}
    supported_by: dict[str, list[str]] = {}
    attached: dict[str, list[str]] = {}
    for relation in argument.relations:
        if relation.type == RelationType.SUPPORTED_BY:
            supported_by.setdefault(relation.source, []).append(relation.target)
        elif relation.type == RelationType.IN_CONTEXT_OF:
            attached.setdefault(relation.source, []).append(relation.target)
    below: set[str] = set()
    stack = [identifier]
    while stack:
        current = stack.pop()
        for child in supported_by.get(current, []) + attached.get(current, []):
            if child not in below and child != identifier:
                below.add(child)
                stack.append(child)
    order = {"error": 0, "warning": 1, "info": 2}
    found = sorted(
        (f for f in flags if f.get("node") in below and f.get("severity") != "info"),
        key=lambda f: (order.get(f.get("severity"), 3), f["node"], f.get("type") or ""),
    )
    if not found:
        return {}
    return {"flags": found[:ROOT_CAUSES_SHOWN], "more": max(0, len(found) - ROOT_CAUSES_SHOWN)}


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """Provenance, metrics and statistics, and the per-sample table (50 a page, filterable);
    to htmx (the filter form and the pager) only the table and its pager."""
    run = _get_run_for_user(request, run_id)
    statistics = list(run.statistics.all())
    form = SampleFilterForm(request.GET or None, scores=[s.name for s in statistics])
    filters = form.cleaned_data if form.is_valid() else {}
    samples = evidence_selectors.run_samples(
        run=run,
        score=filters.get("score", ""),
        outcome=filters.get("outcome", ""),
        errors_only=bool(filters.get("errors_only")),
    )
    page = Paginator(samples, SAMPLES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "run": run,
        "statistics": statistics,
        "metrics": list(run.metrics.all()),
        "form": form,
        "page": page,
        "score_names": _score_names(page.object_list, statistics),
        "query": _query_without_page(request),
    }
    if request.htmx and request.htmx.target == "sample-results":
        return render(request, "evidence/_run_sample_results.html", context)
    return render(request, "evidence/run_detail.html", context)


def _score_names(samples, statistics) -> list[str]:
    """The score columns: the run's pass-fail scores first, then any other score the shown
    samples carry."""
    names = [s.name for s in statistics]
    for sample in samples:
        names += [name for name in sample.scores or {} if name not in names]
    return names


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The ingestion status line. The page polls it every second while the run is queued or
    parsing; once it is done, htmx reloads the page to show the results."""
    run = _get_run_for_user(request, run_id)
    response = render(request, "evidence/_run_progress.html", {"run": run})
    if request.htmx and request.GET.get("polling") and run.status in FINISHED:
        response["HX-Refresh"] = "true"
    return response


@login_required
def run_log(request: HttpRequest, run_id: int) -> FileResponse:
    """The original log file as uploaded (or, with ?file=samples, an lm-eval samples file)."""
    run = _get_run_for_user(request, run_id)
    log = run.samples_file if request.GET.get("file") == "samples" else run.log_file
    if log is None:
        raise Http404(f"Run {run.pk} has no samples file.")
    return _download_response(log)


def _download_response(log) -> FileResponse:
    """An uploaded file is never rendered by the browser from our origin (a `.js` or `.html`
    log would otherwise run as the site): always bytes, always a download, never sniffed."""
    response = FileResponse(
        log.file.open("rb"),
        as_attachment=True,
        filename=log.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker health for load balancers and compose healthchecks."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
