"""Facts for the pure assessment (safetycase.core.assessment), in a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from evidence import projects as evidence_projects
from evidence.choices import RunStatus
from evidence.models import EvaluationRun, SampleResult, Share
from safetycase import facts
from safetycase.choices import AssessmentStatus, BindingKind
from safetycase.core import assessment
from safetycase.core.assessment.paired import paired_selector
from safetycase.core.outcome_meaning import combined_meaning, counted_outcome_meaning
from safetycase.models import (
    Assessment,
    Attestation,
    CriterionChange,
    EvidenceBinding,
    Link,
    Node,
    RunWithdrawal,
    SafetyCase,
)
from safetycase.selectors.cases import case_links, case_nodes, cases_for_user


def case_assessment_facts(*, case: SafetyCase) -> dict[str, Any]:
    """Everything `assessment.assess` needs about a case, as plain data."""
    bindings = list(EvidenceBinding.objects.filter(case=case).select_related("node"))
    attestations = Attestation.objects.filter(case=case).select_related("node", "attested_by")
    return {
        "case": facts.case_facts(case),
        "nodes": facts.node_facts(case_nodes(case=case)),
        "relations": facts.relations(case_links(case=case)),
        "bindings": facts.binding_facts(
            bindings,
            withdrawals=RunWithdrawal.objects.filter(case=case).select_related("withdrawn_by"),
            criterion_changes=CriterionChange.objects.filter(
                case=case, acknowledged_at__isnull=True
            ).select_related("node"),
        ),
        "runs": assessment_run_facts(
            runs=candidate_runs(tasks=bound_tasks(bindings), project_id=case.project_id),
            bindings=bindings,
        ),
        "attestations": facts.attestation_facts(attestations),
    }


def _selector_tasks(selector: Any) -> set[str]:
    task = selector.get("task") if isinstance(selector, dict) else None
    if isinstance(task, list | tuple):
        return {str(t) for t in task if t}
    return {str(task)} if task else set()


def bound_tasks(bindings) -> set[str]:
    """The task names the bindings select (the runs a case can cite); a selector's `task` is
    one name or a list of names, and a paired check selects the runs of its `paired_with`
    condition too."""
    tasks: set[str] = set()
    for binding in bindings:
        tasks |= _selector_tasks(binding.selector)
        if isinstance(binding.selector, dict):
            tasks |= _selector_tasks(paired_selector(binding.selector))
    return tasks


def paired_tasks(bindings) -> set[str]:
    """The tasks of the runs that paired checks compare sample by sample (both conditions)."""
    tasks: set[str] = set()
    for binding in bindings:
        control = paired_selector(binding.selector) if isinstance(binding.selector, dict) else None
        if control is not None:
            tasks |= _selector_tasks(binding.selector) | _selector_tasks(control)
    return tasks


def assessment_run_facts(*, runs, bindings) -> list[assessment.RunFacts]:
    """RunFacts of `runs` (statistics and metrics prefetched), with the per-sample results of
    the runs paired checks compare: one query for all of them, and none when no check pairs."""
    runs = list(runs)
    wanted = paired_tasks(bindings)
    samples: dict[int, list[dict[str, Any]]] = {}
    ids = [run.pk for run in runs if run.task in wanted]
    if ids:
        rows = (
            SampleResult.objects.filter(run_id__in=ids)
            .order_by("run_id", "sample_id", "epoch")
            .values_list("run_id", "sample_id", "epoch", "scores", "error")
        )
        for run_id, sample_id, epoch, scores, error in rows:
            samples.setdefault(run_id, []).append(
                {"id": sample_id, "epoch": epoch, "scores": scores or {}, "error": error}
            )
    return facts.run_facts(
        runs=runs,
        samples={run.pk: tuple(samples.get(run.pk, ())) for run in runs if run.pk in ids},
    )


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
        tuple(RunWithdrawal.objects.filter(case=case).aggregate(Count("id"), Max("id")).values()),
        tuple(
            CriterionChange.objects.filter(case=case)
            .aggregate(Count("id"), Max("id"), Max("acknowledged_at"))
            .values()
        ),
        # The runs the case may use change without a new ingestion when a share is made or
        # revoked, or a run is superseded: those make the next assessment load runs afresh.
        tuple(
            Share.objects.filter(to_project_id=case.project_id)
            .aggregate(Count("id"), Max("created_at"), Max("revoked_at"))
            .values()
        ),
        EvaluationRun.objects.aggregate(Max("superseded_at"))["superseded_at__max"],
    )


def previous_assessment_for_changes(*, case: SafetyCase) -> dict[str, Any] | None:
    """The statuses and flags of the case's latest assessment: only what the change list
    compares (a large case's reasons are most of the stored JSON)."""
    return (
        Assessment.objects.filter(case=case, status=AssessmentStatus.COMPLETE)
        .order_by("-created_at", "-id")
        .values("statuses", "flags")
        .first()
    )


def cases_bound_to_run(*, run) -> list[int]:
    """Ids of the cases with a binding that selects this run (harnesses never name nodes)."""
    run_facts = facts.run_facts(runs=[run])[0]
    case_ids = set()
    # A selector names one task or a list of them; the text match narrows, binding_matches decides.
    # Only cases of the run's project and of projects it is shared with.
    bindings = EvidenceBinding.objects.filter(
        Q(selector__task=run.task)
        | Q(selector__task__icontains=run.task)
        | Q(selector__paired_with__task=run.task),
        case__project_id__in=evidence_projects.projects_using_run(run=run),
    ).select_related("case")
    for binding in bindings:
        case_facts = facts.case_facts(binding.case)
        # A paired check also depends on the runs of its other condition.
        control = paired_selector(binding.selector) if isinstance(binding.selector, dict) else None
        if assessment.binding_matches(binding.selector, run_facts, case_facts) or (
            control is not None and assessment.binding_matches(control, run_facts, case_facts)
        ):
            case_ids.add(binding.case_id)
    return sorted(case_ids)


def binding_ledger(*, binding: EvidenceBinding, now=None) -> tuple:
    """The ledger of one criterion (or check with a selector) as it stands (or would stand with
    unsaved field values on `binding`): every eligible run with its value on it and its role,
    from the pure assessment of that binding alone (withdrawals included)."""
    from django.utils import timezone

    case = binding.case
    bindings = facts.binding_facts(
        [binding],
        withdrawals=RunWithdrawal.objects.filter(binding_id=binding.pk).select_related(
            "withdrawn_by"
        )
        if binding.pk
        else (),
    )
    result = assessment.assess(
        facts.case_facts(case),
        facts.node_facts([binding.node]),
        [],
        bindings,
        assessment_run_facts(
            runs=candidate_runs(tasks=bound_tasks([binding]), project_id=case.project_id),
            bindings=[binding],
        ),
        [],
        now or timezone.now(),
    )
    return result.evidence.get(bindings[0].id, ())


def usable_run_for_case(*, case: SafetyCase, run_id: Any) -> EvaluationRun | None:
    """An ingested run the case may cite (its project's own or shared with it), or None."""
    try:
        run_id = int(run_id)
    except (TypeError, ValueError):
        return None
    return (
        EvaluationRun.objects.filter(
            evidence_projects.runs_usable_in_project(project_id=case.project_id), pk=run_id
        )
        .select_related("log_file")
        .first()
    )


def run_ledger_entries(*, run: EvaluationRun, user) -> list[dict[str, Any]]:
    """Where the run stands in the ledgers of the criteria of the user's cases, as their latest
    assessments saw it: [{case, node, binding, policy, run, k, n, holds, role, note}]. One
    query: the latest assessment of each of the user's cases with a binding of the run's task
    (the ledgers themselves say whether the run is in them)."""
    if not run.task:
        return []
    newest = Assessment.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-id")
    bound = EvidenceBinding.objects.filter(
        Q(selector__task=run.task) | Q(selector__task__icontains=run.task),
        case_id__in=cases_for_user(user=user).values("pk"),
    ).values("case_id")
    latest = SafetyCase.objects.filter(pk__in=bound).annotate(
        latest_id=Subquery(newest.values("pk")[:1])
    )
    out = []
    rows = Assessment.objects.filter(pk__in=latest.values("latest_id")).select_related("case")
    for stored in rows.order_by("case__name", "case_id"):
        for binding_id, ledger in sorted((stored.evidence or {}).items()):
            for entry in ledger.get("evidence", ()):
                if entry.get("run") == run.pk:
                    out.append(
                        {
                            "case": stored.case,
                            "node": ledger.get("node", ""),
                            "binding": int(binding_id),
                            "policy": ledger.get("policy", ""),
                            **entry,
                        }
                    )
    return out


def run_score_meanings(
    *, run: EvaluationRun, entries: list[dict[str, Any]], statistics
) -> dict[str, str]:
    """Score name -> what its counted outcome means ("dangerous" / "desired") for the
    criteria whose ledgers hold the run (`entries` from run_ledger_entries): one query."""
    binding_ids = {entry["binding"] for entry in entries}
    if not binding_ids:
        return {}
    trials = {s.name: s.n for s in statistics if s.k is not None and s.n}
    meanings: dict[str, list[str]] = {}
    rows = EvidenceBinding.objects.filter(pk__in=binding_ids, kind=BindingKind.CRITERION)
    for expression, selector in rows.values_list("expression", "selector"):
        name = (selector or {}).get("scorer") or (next(iter(trials)) if len(trials) == 1 else "")
        if name in trials:
            meanings.setdefault(name, []).append(
                counted_outcome_meaning(expression, trials[name], run.metadata)
            )
    return {name: combined_meaning(found) for name, found in meanings.items()}
