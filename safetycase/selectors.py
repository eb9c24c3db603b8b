"""Reads that span relations. Both the web UI and the API go through these."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse

from evidence.choices import RunStatus
from evidence.models import EvaluationRun
from safetycase import assessment
from safetycase.diagrams import argument_dot
from safetycase.errors import NotFound
from safetycase.gsn.model import Argument, Element, Finding, Relation
from safetycase.gsn.rules import check_argument
from safetycase.models import (
    Assessment,
    Attestation,
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
    return (
        SafetyCase.objects.filter(memberships__user=user)
        .annotate(node_count=Count("nodes", distinct=True))
        .order_by("name")
    )


def case_for_user(*, user, case_id: int) -> SafetyCase:
    """The case, if the user is a member; otherwise NotFound, so that case names do not leak."""
    memberships = Membership.objects.filter(user=user) if user.is_authenticated else None
    case = (
        SafetyCase.objects.filter(pk=case_id, memberships__user=user)
        .prefetch_related(Prefetch("memberships", queryset=memberships, to_attr="own"))
        .first()
        if user.is_authenticated
        else None
    )
    if case is None:
        raise NotFound(f"There is no case {case_id} that you can see.")
    case._role_cache = {user.pk: case.own[0].role}
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
                finished_at=run.completed_at or run.ingested_at or run.created_at,
                metadata=run.metadata,
                statistics={s.name: (s.k, s.n) for s in run.statistics.all()},
                metrics=metrics,
                error_count=run.error_count,
                sample_count=run.sample_count,
            )
        )
    return facts


def case_assessment_facts(*, case: SafetyCase) -> dict[str, Any]:
    """Everything `assessment.assess` needs about a case, as plain data."""
    nodes = list(case_nodes(case=case))
    links = list(case_links(case=case))
    bindings = list(EvidenceBinding.objects.filter(case=case).select_related("node"))
    runs = candidate_runs(tasks=bound_tasks(bindings))
    attestations = Attestation.objects.filter(case=case).select_related("node", "attested_by")
    return {
        "case": case_facts(case),
        "nodes": [
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
        ],
        "relations": [
            Relation(
                source=link.source.identifier,
                target=link.target.identifier,
                type=link.type,
                target_relation=link.target_relation,
            )
            for link in links
        ],
        "bindings": [
            assessment.BindingFacts(
                id=b.pk,
                node=b.node.identifier,
                kind=b.kind,
                selector=b.selector,
                freshness_days=b.freshness_days,
                expression=b.expression,
            )
            for b in bindings
        ],
        "runs": run_facts(runs=runs),
        "attestations": [
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
        ],
    }


def bound_tasks(bindings) -> set[str]:
    """The task names the bindings select (the runs a case can cite)."""
    return {b.selector.get("task") for b in bindings if isinstance(b.selector, dict)} - {None, ""}


def candidate_runs(*, tasks: set[str], ingested_after=None) -> QuerySet[EvaluationRun]:
    """Ingested runs of these tasks (only those ingested after a time, for incremental loads)."""
    runs = EvaluationRun.objects.filter(task__in=tasks, status=RunStatus.INGESTED)
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
    )


def top_goal_identifier(*, nodes, relations) -> str | None:
    """The root goal of the argument (the first, when several): the case's overall verdict."""
    targets = {r.target for r in relations if r.type in ("supported_by", "in_context_of")}
    roots = sorted(n.identifier for n in nodes if n.type == "goal" and n.identifier not in targets)
    return roots[0] if roots else None


def latest_assessment(*, case: SafetyCase) -> Assessment | None:
    return Assessment.objects.filter(case=case).order_by("-created_at", "-id").first()
