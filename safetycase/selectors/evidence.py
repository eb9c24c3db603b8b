"""The evidence a node's page shows: its bindings with the runs of their tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from evidence import projects as evidence_projects
from evidence import selectors as evidence_selectors
from evidence.choices import RunStatus
from evidence.models import EvaluationRun
from safetycase import facts
from safetycase.core import assessment, criteria
from safetycase.core.assessment.paired import PairingError, paired_difference, paired_selector
from safetycase.core.assessment.runs import statistic_for
from safetycase.core.ledger_chart import RunInfo
from safetycase.errors import NotFound
from safetycase.models import CriterionChange, EvidenceBinding, Node, SafetyCase
from safetycase.selectors import cases as selectors_cases
from safetycase.selectors.assessments import assessment_run_facts, bound_tasks


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
    # For a paired check: "the other condition" on the runs its `paired_with` selects.
    paired_role: str = ""


@dataclass
class BindingEvidence:
    binding: EvidenceBinding
    runs: list[BoundRun]  # counted runs first, newest first within each group
    scope_checked: bool  # an empty selector: checked on the evidence of the solutions in scope
    # Every run of the binding's task the node page looked at, whatever model it evaluated,
    # with its counts: the ledger chart's dates and models, and the bound's trend.
    run_infos: list[RunInfo] = field(default_factory=list)


def node_evidence(
    *, case: SafetyCase, node: Node, now=None, runs_per_binding: int = 10
) -> list[BindingEvidence]:
    """The node's bindings (criteria or checks) with the ingested runs of their tasks, newest
    first: those the selector picks for this case, with the expression evaluated on each, and
    those of the task it does not pick (another model or version), with the reason; a paired
    check also shows the runs of its other condition and is evaluated on each of its runs paired
    with the latest of those. Four queries (five when a check pairs runs: their samples)."""
    now = now or timezone.now()
    bindings = list(EvidenceBinding.objects.filter(node=node).order_by("id"))
    tasks = bound_tasks(bindings)
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
    # Samples only when a check pairs runs (one more query then).
    by_run = dict(
        zip(
            (r.pk for r in candidates),
            assessment_run_facts(runs=candidates, bindings=bindings),
            strict=True,
        )
    )
    candidates.sort(key=lambda r: (by_run[r.pk].finished_at or r.created_at, r.pk), reverse=True)
    own_case = facts.case_facts(case)
    evidence = []
    for binding in bindings:
        selector = binding.selector if isinstance(binding.selector, dict) else {}
        try:
            compiled = criteria.compile_expression(binding.expression)
        except criteria.ExpressionError:
            compiled = None
        shown: list[BoundRun] = []
        control = paired_selector(selector)
        # A paired check is judged on each of its runs with the other condition's latest run.
        partner = (
            next(
                (
                    by_run[r.pk]
                    for r in candidates
                    if by_run[r.pk].log_status in ("", "success")
                    and assessment.binding_matches(control, by_run[r.pk], own_case)
                    and _fresh(by_run[r.pk], binding.freshness_days, now)
                ),
                None,
            )
            if control is not None
            else None
        )
        for run in candidates:
            fact = by_run[run.pk]
            picked = assessment.binding_matches(selector, fact, own_case)
            if (
                control is not None
                and not picked
                and assessment.binding_matches(control, fact, own_case)
            ):
                shown.append(
                    BoundRun(
                        run=run,
                        statistic=_statistic_for(run, control),
                        metric=_metric_for(run, control),
                        counted=fact is partner,
                        note="" if fact is partner else "an older run of the other condition",
                        result=None,
                        result_error="",
                        paired_role="the other condition",
                    )
                )
                continue
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
                    variables = assessment.run_variables(fact, selector, now)
                    if control is not None:
                        variables["paired"] = _paired_table(fact, partner, selector)
                    value = criteria.evaluate(compiled, variables)
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
                run_infos=[_run_info(b, by_run[b.run.pk]) for b in shown],
            )
        )
    return evidence


def _run_info(bound: BoundRun, fact: assessment.RunFacts) -> RunInfo:
    statistic = bound.statistic
    return RunInfo(
        run=bound.run.pk,
        model=fact.model,
        model_version=str(fact.model_version or ""),
        task_version=str(fact.task_version or ""),
        finished=fact.finished_at or bound.run.created_at,
        k=statistic.k if statistic is not None else None,
        n=statistic.n if statistic is not None else None,
        counted=bound.counted,
    )


def _fresh(fact: assessment.RunFacts, freshness_days, now) -> bool:
    if not freshness_days:
        return True
    if fact.finished_at is None:
        return False
    return (now - fact.finished_at).total_seconds() / 86400 <= freshness_days


def _paired_table(
    fact: assessment.RunFacts, partner: assessment.RunFacts | None, selector: dict
) -> dict:
    """The `paired` variable of a paired check on `fact`, as the assessment computes it; an
    EvaluationError with the reason when there is nothing to pair with or the samples differ."""
    if partner is None:
        raise criteria.EvaluationError("there is no run of the other condition to pair with")
    try:
        return paired_difference(
            fact,
            partner,
            scorer_a=statistic_for(fact, selector).key,
            scorer_b=str((paired_selector(selector) or {}).get("scorer") or ""),
        )
    except PairingError as exc:
        raise criteria.EvaluationError(f"The samples cannot be paired: {exc}.") from exc


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


def node_criterion_changes(*, node: Node) -> list[CriterionChange]:
    """The node's criteria changed after failing evidence, oldest first (one query)."""
    return list(
        CriterionChange.objects.filter(node=node)
        .select_related("changed_by", "acknowledged_by")
        .order_by("changed_at", "id")
    )


def criterion_change_for_case(*, case: SafetyCase, change_id: int) -> CriterionChange:
    change = CriterionChange.objects.filter(case=case, pk=change_id).select_related("node").first()
    if change is None:
        raise NotFound(f"Case {case.pk} has no criterion change {change_id}.")
    return change


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


# ---------------------------------------------------------------------------------------------
# The runs index


def run_index(
    *,
    user,
    task: str = "",
    model: str = "",
    harness: str = "",
    status: str = "",
    uploaded_from=None,
    uploaded_to=None,
) -> QuerySet[EvaluationRun]:
    """The runs the user may see, newest upload first, narrowed by the index's filters (task,
    model and harness by a part of their name; uploaded between two dates, both included)."""
    runs = evidence_selectors.runs_visible_to(user=user).select_related("log_file")
    if task:
        runs = runs.filter(task__icontains=task)
    if model:
        runs = runs.filter(model__icontains=model)
    if harness:
        runs = runs.filter(harness__icontains=harness)
    if status:
        runs = runs.filter(status=status)
    if uploaded_from:
        runs = runs.filter(created_at__date__gte=uploaded_from)
    if uploaded_to:
        runs = runs.filter(created_at__date__lte=uploaded_to)
    return runs.order_by("-created_at", "-id")


@dataclass(frozen=True)
class Citation:
    """A node of a case whose binding selects a run."""

    case_id: int
    case_name: str
    identifier: str


def nodes_citing_runs(*, user, runs: list[EvaluationRun]) -> dict[int, list[Citation]]:
    """For each run (metrics and statistics loaded), the nodes of the user's cases whose
    bindings select it: the case's project may use the run (its own or shared with it, not
    superseded) and the binding's selector picks it for the case. Harnesses never name nodes,
    so this is what "cited" means. Two queries, plus one per project of the user's cases."""
    cited: dict[int, list[Citation]] = {run.pk: [] for run in runs}
    if not runs:
        return cited
    bindings = [
        binding
        for binding in EvidenceBinding.objects.filter(
            case__in=selectors_cases.cases_for_user(user=user).values("pk")
        )
        .select_related("case", "node")
        .order_by("case__name", "case_id", "node__identifier", "id")
        if isinstance(binding.selector, dict) and binding.selector.get("task")
    ]
    if not bindings:
        return cited
    run_ids = [run.pk for run in runs]
    usable_in = {
        project_id: set(
            EvaluationRun.objects.filter(
                evidence_projects.runs_usable_in_project(project_id=project_id), pk__in=run_ids
            ).values_list("pk", flat=True)
        )
        for project_id in {binding.case.project_id for binding in bindings}
    }
    run_facts = dict(zip(run_ids, facts.run_facts(runs=runs), strict=True))
    for binding in bindings:
        case = binding.case
        case_facts = facts.case_facts(case)
        # A paired check cites the runs of its other condition too.
        selectors = [binding.selector, paired_selector(binding.selector)]
        for run_id in usable_in[case.project_id]:
            if any(
                selector is not None
                and assessment.binding_matches(selector, run_facts[run_id], case_facts)
                for selector in selectors
            ):
                citation = Citation(case.pk, case.name, binding.node.identifier)
                if citation not in cited[run_id]:
                    cited[run_id].append(citation)
    return cited
