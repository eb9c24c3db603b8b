"""Reads that span relations. Both the web UI and the API go through these."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, OuterRef, Prefetch, QuerySet, Subquery
from django.urls import NoReverseMatch, reverse

from evidence import projects as evidence_projects
from evidence import selectors as evidence_selectors
from evidence.choices import RunStatus
from evidence.models import EvaluationRun, Share
from safetycase import assessment, projects
from safetycase.choices import AssessmentTrigger
from safetycase.diagrams import argument_dot
from safetycase.errors import NotFound
from safetycase.gsn import navigation
from safetycase.gsn.model import Argument, Element, Finding, Relation
from safetycase.gsn.rules import check_argument
from safetycase.models import (
    Assessment,
    Attestation,
    Challenge,
    EvidenceBinding,
    Link,
    Membership,
    Node,
    SafetyCase,
)
from safetycase.rendering import render_svg


def cases_for_user(*, user) -> QuerySet[SafetyCase]:
    """The cases a user is a member of, with node counts; empty for anonymous users."""
    if not user.is_authenticated:
        return SafetyCase.objects.none()
    mine = SafetyCase.objects.filter(projects.member_of_case_q(user)).values("pk")
    return (
        SafetyCase.objects.filter(pk__in=mine)
        .annotate(node_count=Count("nodes", distinct=True))
        .order_by("name")
    )


def case_for_user(*, user, case_id: int) -> SafetyCase:
    """The case, if the user is a member; otherwise NotFound, so that case names do not leak."""
    memberships = Membership.objects.filter(user=user) if user.is_authenticated else None
    case = (
        SafetyCase.objects.filter(pk=case_id)
        .select_related("project")
        .prefetch_related(Prefetch("memberships", queryset=memberships, to_attr="own"))
        .first()
        if user.is_authenticated
        else None
    )
    role = (
        projects.effective_role(
            user=user, case=case, case_role=case.own[0].role if case.own else None
        )
        if case is not None
        else None
    )
    if role is None:
        raise NotFound(f"There is no case {case_id} that you can see.")
    case._role_cache = {user.pk: role}
    return case


def case_nodes(*, case: SafetyCase) -> QuerySet[Node]:
    return Node.objects.filter(case=case).order_by("identifier")


def case_links(*, case: SafetyCase) -> QuerySet[Link]:
    return (
        Link.objects.filter(case=case)
        .select_related("source", "target")
        .order_by("source__identifier", "type", "target__identifier")
    )


def node_for_case(*, case: SafetyCase, identifier: str) -> Node:
    node = Node.objects.filter(case=case, identifier=identifier).first()
    if node is None:
        raise NotFound(f"Case {case.pk} has no node {identifier!r}.")
    return node


def argument_from_rows(*, case: SafetyCase, nodes: list[Node], links: list[Link]) -> Argument:
    return Argument(
        elements=[
            Element(
                identifier=node.identifier,
                type=node.type,
                statement=node.statement,
                undeveloped=node.undeveloped,
                module=node.module,
                attributes=node.attributes,
            )
            for node in nodes
        ],
        relations=[
            Relation(
                source=link.source.identifier,
                target=link.target.identifier,
                type=link.type,
                target_relation=link.target_relation,
            )
            for link in links
        ],
        modules=case.modules,
    )


def case_argument(*, case: SafetyCase) -> Argument:
    """The case as a plain Argument for the pure GSN code (two queries)."""
    return argument_from_rows(
        case=case, nodes=list(case_nodes(case=case)), links=list(case_links(case=case))
    )


def case_findings(*, case: SafetyCase) -> list[Finding]:
    """GSN well-formedness findings (rules R1–R16) for the case as it is stored."""
    return check_argument(case_argument(case=case))


def case_diagram_svg(
    *, case: SafetyCase, module: str | None = None, statuses: dict[str, str] | None = None
) -> str:
    """The case's GSN diagram (or one module of it) as inline SVG; every node links to its page.

    `statuses` maps identifiers to "supported" / "defeated" / "at_risk" / "undeveloped" fills.
    """

    def node_url(identifier: str) -> str | None:
        try:
            return reverse("node_detail", args=[case.pk, identifier])
        except NoReverseMatch:  # an imported identifier the URL pattern cannot carry
            return None

    dot_source = argument_dot(
        case_argument(case=case), node_url=node_url, statuses=statuses, module=module
    )
    return render_svg(dot_source)


def case_by_id_or_name(*, reference: str) -> SafetyCase:
    """The case with this id (when `reference` is all digits) or else this exact name."""
    case = None
    if reference.isdigit():
        case = SafetyCase.objects.filter(pk=int(reference)).first()
    if case is None:
        case = SafetyCase.objects.filter(name=reference).first()
    if case is None:
        raise NotFound(f"There is no case with the id or name {reference!r}.")
    return case


def case_bindings(*, case: SafetyCase) -> QuerySet[EvidenceBinding]:
    """Evidence bindings and assumption checks of the case, with their nodes."""
    return (
        EvidenceBinding.objects.filter(case=case)
        .select_related("node")
        .order_by("node__identifier", "id")
    )


def template_library():
    """The scheming argument library (loaded and validated once per process)."""
    from safetycase.library import default_library

    return default_library()


# ---------------------------------------------------------------------------------------------
# Facts for the pure assessment (safetycase.assessment), loaded in a fixed number of queries.


def case_facts(case: SafetyCase) -> assessment.CaseFacts:
    return assessment.CaseFacts(model_name=case.model_name, model_version=case.model_version)


def run_facts(*, runs) -> list[assessment.RunFacts]:
    """RunFacts for EvaluationRuns whose statistics and metrics are loaded (or loadable)."""
    facts = []
    for run in runs:
        metrics: dict[str, dict[str, float | None]] = {}
        for metric in run.metrics.all():
            metrics.setdefault(metric.name, {})[metric.metric] = metric.value
        facts.append(
            assessment.RunFacts(
                id=run.pk,
                task=run.task,
                task_version=run.task_version,
                model=run.model,
                model_version=run.model_version,
                status=run.status,
                log_status=run.log_status,
                # Never later than we received it: a harness clock cannot keep a run fresh.
                finished_at=min(
                    run.completed_at or run.ingested_at or run.created_at,
                    run.ingested_at or run.created_at,
                ),
                metadata=run.metadata,
                statistics={s.name: (s.k, s.n) for s in run.statistics.all()},
                metrics=metrics,
                error_count=run.error_count,
                sample_count=run.sample_count,
            )
        )
    return facts


def node_facts(nodes) -> list[assessment.NodeFacts]:
    return [
        assessment.NodeFacts(
            identifier=node.identifier,
            type=node.type,
            statement=node.statement,
            undeveloped=node.undeveloped,
            combination=node.combination,
            catalogue_id=node.catalogue_id,
            attributes=node.attributes,
        )
        for node in nodes
    ]


def link_relations(links) -> list[Relation]:
    return [
        Relation(
            source=link.source.identifier,
            target=link.target.identifier,
            type=link.type,
            target_relation=link.target_relation,
        )
        for link in links
    ]


def binding_facts(bindings) -> list[assessment.BindingFacts]:
    return [
        assessment.BindingFacts(
            id=b.pk,
            node=b.node.identifier,
            kind=b.kind,
            selector=b.selector,
            freshness_days=b.freshness_days,
            expression=b.expression,
        )
        for b in bindings
    ]


def attestation_facts(attestations) -> list[assessment.AttestationFacts]:
    return [
        assessment.AttestationFacts(
            id=a.pk,
            node=a.node.identifier,
            by=a.attested_by.get_username(),
            statement=a.statement,
            scope=a.scope,
            expires_at=a.expires_at,
            created_at=a.created_at,
        )
        for a in attestations
    ]


def case_assessment_facts(*, case: SafetyCase) -> dict[str, Any]:
    """Everything `assessment.assess` needs about a case, as plain data."""
    bindings = list(EvidenceBinding.objects.filter(case=case).select_related("node"))
    attestations = Attestation.objects.filter(case=case).select_related("node", "attested_by")
    return {
        "case": case_facts(case),
        "nodes": node_facts(case_nodes(case=case)),
        "relations": link_relations(case_links(case=case)),
        "bindings": binding_facts(bindings),
        "runs": run_facts(
            runs=candidate_runs(tasks=bound_tasks(bindings), project_id=case.project_id)
        ),
        "attestations": attestation_facts(attestations),
    }


def bound_tasks(bindings) -> set[str]:
    """The task names the bindings select (the runs a case can cite); a selector's `task` is
    one name or a list of names."""
    tasks: set[str] = set()
    for binding in bindings:
        task = binding.selector.get("task") if isinstance(binding.selector, dict) else None
        if isinstance(task, list | tuple):
            tasks.update(str(t) for t in task if t)
        elif task:
            tasks.add(str(task))
    return tasks


def candidate_runs(
    *, tasks: set[str], project_id: int, ingested_after=None
) -> QuerySet[EvaluationRun]:
    """Ingested runs of these tasks that the cases of the project may use: its own and those
    shared with it, never superseded ones (only those ingested after a time, for incremental
    loads)."""
    runs = EvaluationRun.objects.filter(
        evidence_projects.runs_usable_in_project(project_id=project_id),
        task__in=tasks,
        status=RunStatus.INGESTED,
    )
    if ingested_after is not None:
        runs = runs.filter(ingested_at__gt=ingested_after)
    return runs.prefetch_related("statistics", "metrics").order_by("id")


def argument_fingerprint(*, case: SafetyCase) -> tuple:
    """Changes whenever the argument, its bindings or attestations change: a new or edited
    row moves a max, a deleted one changes a count (one small aggregate per table)."""
    case_row = SafetyCase.objects.filter(pk=case.pk).values_list(
        "updated_at", "model_name", "model_version"
    )
    return (
        tuple(case_row.get()),
        tuple(Node.objects.filter(case=case).aggregate(Count("id"), Max("updated_at")).values()),
        tuple(Link.objects.filter(case=case).aggregate(Count("id"), Max("id")).values()),
        tuple(
            EvidenceBinding.objects.filter(case=case)
            .aggregate(Count("id"), Max("updated_at"))
            .values()
        ),
        tuple(Attestation.objects.filter(case=case).aggregate(Count("id"), Max("id")).values()),
        # The runs the case may use change without a new ingestion when a share is made or
        # revoked, or a run is superseded: those make the next assessment load runs afresh.
        tuple(
            Share.objects.filter(to_project_id=case.project_id)
            .aggregate(Count("id"), Max("created_at"), Max("revoked_at"))
            .values()
        ),
        EvaluationRun.objects.aggregate(Max("superseded_at"))["superseded_at__max"],
    )


def top_goal_identifier(*, nodes, relations) -> str | None:
    """The root goal of the argument (the first, when several): the case's overall verdict."""
    targets = {r.target for r in relations if r.type in ("supported_by", "in_context_of")}
    roots = sorted(n.identifier for n in nodes if n.type == "goal" and n.identifier not in targets)
    return roots[0] if roots else None


def latest_assessment(*, case: SafetyCase) -> Assessment | None:
    return Assessment.objects.filter(case=case).order_by("-created_at", "-id").first()


# ---------------------------------------------------------------------------------------------
# Reviewer web UI: each page in a fixed number of queries, whatever the size of the case.


def case_overviews_for_user(*, user) -> list[SafetyCase]:
    """The user's cases for the case list (two queries). Each case carries `latest`, its latest
    assessment, and `last_evidence`, the latest assessment that new evidence triggered (None
    when there is none); both without their per-node data."""
    newest = Assessment.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-id")
    cases = list(
        cases_for_user(user=user).annotate(
            latest_id=Subquery(newest.values("pk")[:1]),
            evidence_id=Subquery(
                newest.filter(trigger=AssessmentTrigger.RUN_INGESTED).values("pk")[:1]
            ),
        )
    )
    wanted = {c.latest_id for c in cases} | {c.evidence_id for c in cases}
    wanted.discard(None)
    by_id = (
        Assessment.objects.defer("statuses", "reasons", "flags", "changes").in_bulk(wanted)
        if wanted
        else {}
    )
    for case in cases:
        case.latest = by_id.get(case.latest_id)
        case.last_evidence = by_id.get(case.evidence_id)
    return cases


def assessment_history(*, case: SafetyCase, limit: int = 10) -> list[Assessment]:
    """The case's latest assessments, newest first, with what changed in each (one query)."""
    return list(
        Assessment.objects.filter(case=case)
        .order_by("-created_at", "-id")
        .defer("statuses", "reasons", "flags")[:limit]
    )


def _node_url_for(case: SafetyCase):
    def node_url(identifier: str) -> str | None:
        try:
            return reverse("node_detail", args=[case.pk, identifier])
        except NoReverseMatch:  # an imported identifier the URL pattern cannot carry
            return None

    return node_url


def case_view_svg(
    *,
    case: SafetyCase,
    argument: Argument,
    statuses: dict[str, str] | None = None,
    view: str | None = None,
    module: str | None = None,
    folded: Collection[str] = (),
    challenged: Mapping[str, int] | None = None,
) -> str:
    """The diagram of the whole case, one argument view (`navigation.argument_views`) or one
    module, drawn from an Argument the caller already loaded (no queries); the sub-arguments
    of the `folded` elements are left out (`navigation.fold`); `challenged` marks elements with
    open review challenges (`open_challenge_counts`)."""
    if view:
        argument, module = navigation.argument_view(argument, view)
    argument, hidden = navigation.fold(argument, folded)
    dot_source = argument_dot(
        argument,
        node_url=_node_url_for(case),
        statuses=statuses,
        module=module,
        folded=hidden,
        challenged=challenged,
    )
    return render_svg(dot_source)


def open_challenge_counts(*, case: SafetyCase) -> dict[str, int]:
    """Node identifier → number of open review challenges on it (one query)."""
    rows = (
        Challenge.objects.filter(case=case, state=Challenge.State.OPEN)
        .values("node__identifier")
        .annotate(count=Count("id"))
    )
    return {row["node__identifier"]: row["count"] for row in rows}


def node_attestations(*, node: Node) -> QuerySet[Attestation]:
    return (
        Attestation.objects.filter(node=node)
        .select_related("attested_by")
        .order_by("-created_at", "-id")
    )


@dataclass
class BoundRun:
    """A run of a binding's task, as the node page shows it."""

    run: EvaluationRun
    statistic: Any  # the RunStatistic giving k/n for the binding, or None
    metric: Any  # the RunMetric the selector names, or None
    counted: bool  # the selector picks it for this case (task, conditions, model)
    note: str  # why it does not count, or "" when it does
    result: bool | None  # the expression on this run; None when not evaluated
    result_error: str


@dataclass
class BindingEvidence:
    binding: EvidenceBinding
    runs: list[BoundRun]  # counted runs first, newest first within each group
    scope_checked: bool  # an empty selector: checked on the evidence of the solutions in scope


def node_evidence(
    *, case: SafetyCase, node: Node, now=None, runs_per_binding: int = 10
) -> list[BindingEvidence]:
    """The node's bindings (criteria or checks) with the ingested runs of their tasks, newest
    first: those the selector picks for this case, with the expression evaluated on each, and
    those of the task it does not pick (another model or version), with the reason. Four
    queries."""
    from django.utils import timezone

    from safetycase import criteria

    now = now or timezone.now()
    bindings = list(EvidenceBinding.objects.filter(node=node).order_by("id"))
    tasks: set[str] = set()
    for binding in bindings:
        task = binding.selector.get("task") if isinstance(binding.selector, dict) else None
        if isinstance(task, list | tuple):
            tasks.update(str(t) for t in task)
        elif task:
            tasks.add(str(task))
    candidates = (
        list(
            EvaluationRun.objects.filter(
                evidence_projects.runs_usable_in_project(project_id=case.project_id),
                task__in=tasks,
                status=RunStatus.INGESTED,
            )
            .select_related("log_file")
            .prefetch_related("statistics", "metrics")
            .order_by("-id")[:500]
        )
        if tasks
        else []
    )
    facts = dict(zip((r.pk for r in candidates), run_facts(runs=candidates), strict=True))
    candidates.sort(key=lambda r: (facts[r.pk].finished_at or r.created_at, r.pk), reverse=True)
    own_case = case_facts(case)
    evidence = []
    for binding in bindings:
        selector = binding.selector if isinstance(binding.selector, dict) else {}
        try:
            compiled = criteria.compile_expression(binding.expression)
        except criteria.ExpressionError:
            compiled = None
        shown: list[BoundRun] = []
        for run in candidates:
            fact = facts[run.pk]
            picked = assessment.binding_matches(selector, fact, own_case)
            other_model = {**selector, "model": fact.model, "model_version": fact.model_version}
            if not picked and not assessment.binding_matches(other_model, fact, own_case):
                continue  # another task or other conditions: not this binding's evidence
            note = "" if picked else _not_counted(fact, selector, own_case)
            if picked and fact.log_status not in ("", "success"):
                note = f"the harness reported the run as {fact.log_status}"
            elif picked and binding.freshness_days and fact.finished_at:
                age = (now - fact.finished_at).total_seconds() / 86400
                if age > binding.freshness_days:
                    note = f"{age:.0f} days old, older than {binding.freshness_days}"
            result, error = None, ""
            if picked and compiled is not None:
                try:
                    value = criteria.evaluate(
                        compiled, assessment.run_variables(fact, selector, now)
                    )
                    result = value if isinstance(value, bool) else None
                    error = "" if isinstance(value, bool) else f"gave {value!r}, not true/false"
                except criteria.EvaluationError as exc:
                    error = str(exc)
            shown.append(
                BoundRun(
                    run=run,
                    statistic=_statistic_for(run, selector),
                    metric=_metric_for(run, selector),
                    counted=picked and not note,
                    note=note,
                    result=result,
                    result_error=error,
                )
            )
        shown.sort(key=lambda b: not b.counted)  # stable: newest first within each group
        evidence.append(
            BindingEvidence(
                binding=binding,
                runs=shown[:runs_per_binding],
                scope_checked=not selector.get("task"),
            )
        )
    return evidence


def _not_counted(fact: assessment.RunFacts, selector: dict, case: assessment.CaseFacts) -> str:
    model = selector.get("model") or case.model_name
    version = selector.get("model_version", "" if selector.get("model") else case.model_version)
    wanted = f"{model} {version}".strip()
    return f"model {fact.model} {fact.model_version}".rstrip() + f", not {wanted}"


def _statistic_for(run: EvaluationRun, selector: dict):
    statistics = {s.name: s for s in run.statistics.all()}
    wanted = selector.get("scorer") or ""
    if not wanted and selector.get("metric") in statistics:
        wanted = selector["metric"]
    if wanted:
        return statistics.get(wanted)
    return next(iter(statistics.values())) if len(statistics) == 1 else None


def _metric_for(run: EvaluationRun, selector: dict):
    wanted = selector.get("metric")
    if not wanted:
        return None
    for metric in run.metrics.all():
        if wanted in (metric.metric, metric.name) and (
            not selector.get("scorer") or selector["scorer"] in (metric.name, metric.scorer)
        ):
            return metric
    return None


def run_for_user(*, user, run_id: int) -> EvaluationRun:
    """A run with its file, uploader, metrics and statistics, if the user may see it (a
    member of its project or of a case of it, or of a project it is shared with:
    evidence.projects.visible_runs)."""
    run = (
        evidence_selectors.runs_visible_to(user=user).filter(pk=run_id).first()
        if user.is_authenticated
        else None
    )
    if run is None:
        raise NotFound(f"There is no run {run_id} that you can see.")
    return run
