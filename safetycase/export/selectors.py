"""Reads for the PDF export: everything the document shows, as plain JSON-ready data."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from evidence.models import EvaluationRun
from safetycase import selectors
from safetycase.export import document, evidence
from safetycase.models import Assessment, Attestation, SafetyCase


def case_export_data(*, case: SafetyCase, assessment: Assessment | None) -> dict[str, Any]:
    """The exported data of a case (see safetycase.export.document for its shape), with the
    assessment given (normally the latest). Deterministic: everything is ordered, and the only
    timestamps are the data's own. Runs a fixed number of queries."""
    nodes = list(selectors.case_nodes(case=case))
    links = list(selectors.case_links(case=case))
    bindings = list(selectors.case_bindings(case=case))
    attestations = list(
        Attestation.objects.filter(case=case)
        .select_related("node", "attested_by")
        .order_by("node__identifier", "created_at", "id")
    )

    node_facts = selectors.node_facts(nodes)
    relations = selectors.link_relations(links)
    binding_facts = selectors.binding_facts(bindings)
    candidate_runs = selectors.candidate_runs(tasks=selectors.bound_tasks(bindings))
    now = assessment.created_at if assessment else _latest(case, nodes, bindings, attestations)
    citations = evidence.citations(
        case=selectors.case_facts(case),
        nodes=node_facts,
        relations=relations,
        bindings=binding_facts,
        runs=selectors.run_facts(runs=candidate_runs),
        now=now,
    )
    flags = assessment.flags if assessment else []
    run_ids = document.cited_run_ids(citations, flags)
    runs = (
        EvaluationRun.objects.filter(pk__in=[r for r in run_ids if isinstance(r, int)])
        .select_related("log_file__uploaded_by", "samples_file")
        .prefetch_related("statistics", "metrics")
        .order_by("id")
    )

    previous = (
        Assessment.objects.filter(case=case, created_at__lte=assessment.created_at)
        .exclude(pk=assessment.pk)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
        if assessment
        else None
    )
    library = selectors.template_library()
    group_titles = {tid: template.title for tid, template in library.templates.items()}
    for name in sorted(case.modules or {}):
        group_titles[name] = f"Module {name}"

    return {
        "schema": document.SCHEMA,
        "case": {
            "id": case.pk,
            "name": case.name,
            "model_name": case.model_name,
            "model_version": case.model_version,
            "deployment": case.deployment,
            "description": case.description,
        },
        "version": dict(document.VERSION_WORKING_COPY),
        "as_of": _iso(_latest(case, nodes, bindings, attestations, assessment)),
        "group_titles": group_titles,
        "nodes": [
            {
                "identifier": n.identifier,
                "type": n.type,
                "statement": n.statement,
                "undeveloped": n.undeveloped,
                "module": n.module,
                "template_ref": n.template_ref,
                "combination": n.combination,
                "catalogue_id": n.catalogue_id,
                "requires_attestation": bool((n.attributes or {}).get("requires_attestation")),
            }
            for n in sorted(nodes, key=lambda n: document.natural_key(n.identifier))
        ],
        "links": [
            {
                "source": link.source.identifier,
                "target": link.target.identifier,
                "type": link.type,
                "target_relation": link.target_relation,
            }
            for link in links
        ],
        "bindings": [
            {
                "id": b.pk,
                "node": b.node.identifier,
                "kind": b.kind,
                "selector": b.selector,
                "freshness_days": b.freshness_days,
                "expression": b.expression,
                "description": b.description,
            }
            for b in bindings
        ],
        "attestations": [
            {
                "id": a.pk,
                "node": a.node.identifier,
                "by": a.attested_by.get_username(),
                "statement": a.statement,
                "scope": a.scope,
                "created_at": _iso(a.created_at),
                "expires_at": _iso(a.expires_at),
            }
            for a in attestations
        ],
        "assessment": _assessment(assessment, previous, node_facts, relations),
        "citations": citations,
        "runs": [_run(run) for run in runs],
    }


def _assessment(assessment: Assessment | None, previous, node_facts, relations) -> dict | None:
    if assessment is None:
        return None
    return {
        "id": assessment.pk,
        "created_at": _iso(assessment.created_at),
        "trigger": assessment.trigger,
        "trigger_label": assessment.get_trigger_display(),
        "trigger_detail": assessment.trigger_detail,
        "top_goal": selectors.top_goal_identifier(nodes=node_facts, relations=relations),
        "overall_status": assessment.overall_status,
        "statuses": assessment.statuses,
        "reasons": assessment.reasons,
        "flags": assessment.flags,
        "summary": assessment.summary,
        "changes": assessment.changes,
        "previous_created_at": _iso(previous),
    }


def _run(run: EvaluationRun) -> dict[str, Any]:
    log = run.log_file
    return {
        "id": run.pk,
        "harness": run.harness,
        "harness_version": run.harness_version,
        "format": run.format,
        "task": run.task,
        "task_version": run.task_version,
        "model": run.model,
        "model_version": run.model_version,
        "status": run.status,
        "log_status": run.log_status,
        "started_at": _iso(run.started_at),
        # The time the assessment ages the run from (selectors.run_facts).
        "finished_at": _iso(run.completed_at or run.ingested_at or run.created_at),
        "ingested_at": _iso(run.ingested_at),
        "sample_count": run.sample_count,
        "total_samples": run.total_samples,
        "error_count": run.error_count,
        "uploaded_by": log.uploaded_by.get_username() if log.uploaded_by else "",
        "uploaded_at": _iso(log.uploaded_at),
        "log_name": log.name,
        "log_sha256": log.sha256,
        "samples_sha256": run.samples_file.sha256 if run.samples_file else "",
        "statistics": [
            {
                "name": s.name,
                "k": s.k,
                "n": s.n,
                "rate": _num(s.rate),
                "cp_lower": _num(s.cp_lower),
                "cp_upper": _num(s.cp_upper),
                "cp_upper_one_sided": _num(s.cp_upper_one_sided),
                "wilson_lower": _num(s.wilson_lower),
                "wilson_upper": _num(s.wilson_upper),
            }
            for s in sorted(run.statistics.all(), key=lambda s: s.name)
        ],
        "metrics": [
            {
                "name": m.name,
                "scorer": m.scorer,
                "reducer": m.reducer,
                "metric": m.metric,
                "group": m.group,
                "value": _num(m.value),
            }
            for m in sorted(
                run.metrics.all(), key=lambda m: (m.name, m.scorer, m.reducer, m.metric, m.group)
            )
        ],
    }


def _latest(case, nodes, bindings, attestations, assessment=None) -> datetime:
    """The latest timestamp of the exported data: what the document is the state of."""
    stamps = [case.updated_at]
    stamps += [n.updated_at for n in nodes]
    stamps += [b.updated_at for b in bindings]
    stamps += [a.created_at for a in attestations]
    if assessment is not None:
        stamps.append(assessment.created_at)
    return max(s for s in stamps if s is not None)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _num(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: those become their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
