"""Reads for the PDF export: everything the document shows, as plain JSON-ready data.

`case_export_data` reads the working copy (the live case); `version_export_data` reads a signed
Version: its frozen snapshot (case, nodes, links, bindings, assessment) plus what the snapshot
does not hold but which never changes afterwards — the evaluation runs ingested by the time of
the snapshot's assessment, the attestations as they stood then (from their history) and the
signatures. So a version always exports to the same document, whatever happens to the live case.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from evidence.models import EvaluationRun
from safetycase import facts
from safetycase.choices import AssessmentStatus
from safetycase.core import document
from safetycase.core.argument_walks import top_goal_identifier
from safetycase.core.diff import diff_snapshots
from safetycase.core.document import evidence
from safetycase.errors import NotFound
from safetycase.models import (
    Assessment,
    Attestation,
    Challenge,
    Node,
    PdfExport,
    SafetyCase,
    Version,
)
from safetycase.selectors.assessments import assessment_run_facts, bound_tasks, candidate_runs
from safetycase.selectors.cases import case_bindings, case_links, case_nodes, template_library

DEFAULT_SYNC_MAX_NODES = 300


def export_setting(name: str, default):
    return getattr(settings, "SAFETYCASE", {}).get(name, default)


def case_node_count(*, case: SafetyCase) -> int:
    return case.nodes.count()


def case_is_large(*, case: SafetyCase) -> bool:
    """Whether the case is exported in a Celery task rather than within the request."""
    return case_node_count(case=case) > export_setting("PDF_SYNC_MAX_NODES", DEFAULT_SYNC_MAX_NODES)


def version_is_large(*, version: Version) -> bool:
    """Whether the version (by the elements of its snapshot) is exported in a Celery task."""
    nodes = version.snapshot.get("nodes") or []
    return len(nodes) > export_setting("PDF_SYNC_MAX_NODES", DEFAULT_SYNC_MAX_NODES)


def export_for_case(*, case: SafetyCase, export_id: int) -> PdfExport:
    export = case.pdf_exports.select_related("created_by", "version").filter(pk=export_id).first()
    if export is None:
        raise NotFound(f"Case {case.pk} has no export {export_id}.")
    export.case = case  # keeps the membership cache of the selector that loaded the case
    return export


def recent_exports(*, case: SafetyCase, user, version: Version | None, limit: int = 5):
    """The user's latest exports of the case (or of one of its versions)."""
    return case.pdf_exports.filter(created_by=user, version=version)[:limit]


def case_export_data(*, case: SafetyCase, assessment: Assessment | None) -> dict[str, Any]:
    """The exported data of a case (see safetycase.core.document.assembly for its shape), with the
    assessment given (normally the latest). Deterministic: everything is ordered, and the only
    timestamps are the data's own. Runs a fixed number of queries."""
    nodes = list(case_nodes(case=case))
    links = list(case_links(case=case))
    bindings = list(case_bindings(case=case))
    attestations = list(
        Attestation.objects.filter(case=case)
        .select_related("node", "attested_by")
        .order_by("node__identifier", "created_at", "id")
    )

    node_facts = facts.node_facts(nodes)
    relations = facts.relations(links)
    binding_facts = facts.binding_facts(bindings)
    runs_of_tasks = candidate_runs(tasks=bound_tasks(bindings), project_id=case.project_id)
    now = assessment.created_at if assessment else _latest(case, nodes, bindings, attestations)
    citations, runs = _citations_and_runs(
        facts.case_facts(case),
        node_facts,
        relations,
        binding_facts,
        runs_of_tasks,
        now=now,
        flags=assessment.flags if assessment else [],
    )

    previous = _previous_assessment_time(case, assessment)
    exported_nodes = [facts.export_node(n) for n in nodes]
    latest_version = (
        Version.objects.filter(case=case).select_related("created_by").order_by("-number").first()
    )
    changes = None
    if latest_version is not None:
        # The working copy in the shape of a snapshot, as far as the version diff reads it.
        now_snapshot = {
            "nodes": exported_nodes,
            "assessment": {
                "overall_status": assessment.overall_status,
                "statuses": assessment.statuses,
                "flags": assessment.flags,
            }
            if assessment
            else None,
        }
        changes = diff_snapshots(latest_version.snapshot, now_snapshot)

    return {
        "schema": document.SCHEMA,
        "case": facts.case_record(case),
        "version": dict(document.VERSION_WORKING_COPY),
        "as_of": _iso(_latest(case, nodes, bindings, attestations, assessment)),
        "group_titles": _group_titles(case.modules or {}),
        "nodes": sorted(exported_nodes, key=lambda n: document.natural_key(n["identifier"])),
        "links": [facts.link_record(link) for link in links],
        "bindings": [{"id": b.pk, **facts.binding_record(b)} for b in bindings],
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
        "previous_version": _version_ref(latest_version),
        "version_changes": changes,
        "review": review_record(case=case),
    }


def version_export_data(*, version: Version) -> dict[str, Any]:
    """The exported data of a signed version (same shape as `case_export_data`), built from its
    frozen snapshot; `version_changes` are the changes since the version before it."""
    case = version.case
    snapshot = version.snapshot
    frozen = snapshot.get("assessment")
    # What the snapshot's statuses were computed from: the runs and attestations of that time.
    cutoff = datetime.fromisoformat(frozen["created_at"]) if frozen else version.created_at

    nodes = [facts.export_node(n) for n in snapshot.get("nodes", [])]
    links = [facts.link_record(link) for link in snapshot.get("links", [])]
    # Snapshot bindings have no ids; their place in the (canonically sorted) snapshot is stable.
    bindings = [
        {"id": number, **facts.binding_record(b)}
        for number, b in enumerate(snapshot.get("bindings", []), start=1)
    ]
    snapshot_case = snapshot.get("case") or {}
    node_facts = facts.node_facts(snapshot.get("nodes", []))
    relations = facts.relations(links)
    binding_facts = facts.binding_facts(bindings)
    runs_of_tasks = candidate_runs(
        tasks=bound_tasks(binding_facts), project_id=version.case.project_id
    ).filter(ingested_at__lte=cutoff)
    flags = (frozen or {}).get("flags") or []
    citations, runs = _citations_and_runs(
        facts.case_facts(snapshot_case),
        node_facts,
        relations,
        binding_facts,
        runs_of_tasks,
        now=cutoff,
        flags=flags,
    )

    exported_assessment = None
    if frozen:
        # The stored assessment (never edited) adds its trigger and its own changes; the
        # statuses, reasons and flags are the snapshot's.
        row = Assessment.objects.filter(pk=frozen.get("id"), case=case).first()
        exported_assessment = {
            "id": frozen.get("id"),
            "created_at": _iso(cutoff),
            "trigger": row.trigger if row else "",
            "trigger_label": row.get_trigger_display() if row else "",
            "trigger_detail": row.trigger_detail if row else "",
            "top_goal": top_goal_identifier(nodes=node_facts, relations=relations),
            "overall_status": frozen.get("overall_status") or "",
            "statuses": frozen.get("statuses") or {},
            "reasons": frozen.get("reasons") or {},
            "flags": flags,
            "summary": row.summary if row else {},
            "changes": row.changes if row else {},
            "previous_created_at": _iso(_previous_assessment_time(case, row)) if row else None,
        }

    previous = (
        Version.objects.filter(case=case, number__lt=version.number)
        .select_related("created_by")
        .order_by("-number")
        .first()
    )
    signatures = version.signatures.select_related("user").order_by("signed_at", "id")
    modules = {n["module"]: {} for n in nodes if n.get("module")}
    return {
        "schema": document.SCHEMA,
        "case": {
            "id": case.pk,
            **{
                key: snapshot_case.get(key, "")
                for key in ("name", "model_name", "model_version", "deployment", "description")
            },
        },
        "version": {
            "id": version.number,
            "label": f"version {version.number}",
            "hash": version.content_hash,
            "previous_hash": version.previous_hash,
            "note": version.note,
            "signed_at": _iso(version.created_at),
            "verdict": version.get_verdict_display(),
            "reasons": version.reasons,
            "conditions": [
                {"node": c.node_identifier, "text": c.text}
                for c in version.conditions.order_by("id")
            ],
            "signature": version.server_signature,
            "key_id": version.key_id,
            "signers": [
                {"name": s.user.get_username(), "role": "reviewer", "at": _iso(s.signed_at)}
                for s in signatures
            ],
        },
        "as_of": _iso(version.created_at),
        "group_titles": _group_titles(modules),
        "nodes": sorted(nodes, key=lambda n: document.natural_key(n["identifier"])),
        "links": links,
        "bindings": bindings,
        "attestations": _attestations_as_of(case, cutoff, {n["identifier"] for n in nodes}),
        "assessment": exported_assessment,
        "citations": citations,
        "runs": [_run(run) for run in runs],
        "previous_version": _version_ref(previous),
        "version_changes": diff_snapshots(previous.snapshot, snapshot) if previous else None,
        "review": review_record(case=case, until=version.created_at),
    }


def review_record(*, case: SafetyCase, until: datetime | None = None) -> dict[str, Any]:
    """The review of the case as the document prints it: comments, challenges (claim, response,
    resolution, who and when), the conditions of conditional approvals, withdrawn runs and
    criterion changes after evidence — up to `until` (a version's sign-off time) when given.
    Models that a deployment does not have yet are read as having no rows. Five queries."""

    def upto(queryset, field: str):
        return queryset.filter(**{f"{field}__lte": until}) if until is not None else queryset

    def name(user) -> str:
        return user.get_username() if user is not None else ""

    comments = upto(case.comments.select_related("node", "author"), "created_at").order_by(
        "created_at", "id"
    )
    challenges = upto(
        case.challenges.select_related(
            "node",
            "raised_by",
            "resolved_by",
            *(["responded_by"] if hasattr(Challenge, "responded_by") else []),
        ),
        "created_at",
    ).order_by("created_at", "id")
    record: dict[str, Any] = {
        "comments": [
            {
                "node": c.node.identifier,
                "by": name(c.author),
                "at": _iso(c.created_at),
                "text": c.text,
            }
            for c in comments
        ],
        "challenges": [
            {
                "node": c.node.identifier,
                "claim": c.claim,
                "raised_by": name(c.raised_by),
                "raised_at": _iso(c.created_at),
                "state": c.state,
                "response": getattr(c, "response", "") or "",
                "responded_by": name(getattr(c, "responded_by", None)),
                "responded_at": _iso(getattr(c, "responded_at", None)),
                # A resolution after the version was signed is not part of that version.
                "resolution": c.resolution if _before(c.resolved_at, until) else "",
                "resolved_by": name(c.resolved_by) if _before(c.resolved_at, until) else "",
                "resolved_at": _iso(c.resolved_at) if _before(c.resolved_at, until) else None,
            }
            for c in challenges
        ],
        "conditions": [],
        "withdrawals": [],
        "criterion_changes": [],
    }
    if hasattr(case, "conditions"):
        record["conditions"] = [
            {
                "node": c.node_identifier,
                "text": c.text,
                "version": c.version.number,
                "state": c.state if _before(c.closed_at, until) else "open",
                "closed_by": name(c.closed_by) if _before(c.closed_at, until) else "",
                "closed_at": _iso(c.closed_at) if _before(c.closed_at, until) else None,
            }
            for c in case.conditions.select_related("version", "closed_by").order_by("id")
            if until is None or c.version.created_at <= until
        ]
    if hasattr(case, "withdrawals"):
        record["withdrawals"] = [
            {
                "node": w.binding.node.identifier,
                "run": w.run_id,
                "reason": w.reason,
                "by": name(w.withdrawn_by),
                "at": _iso(w.created_at),
            }
            for w in upto(
                case.withdrawals.select_related("binding__node", "withdrawn_by"), "created_at"
            ).order_by("created_at", "id")
        ]
    if hasattr(case, "criterion_changes"):
        record["criterion_changes"] = [
            {
                "node": c.binding.node.identifier,
                "before": c.old_expression,
                "after": c.new_expression,
                "by": name(c.changed_by),
                "at": _iso(c.changed_at),
            }
            for c in upto(
                case.criterion_changes.select_related("binding__node", "changed_by"),
                "changed_at",
            ).order_by("changed_at", "id")
        ]
    return record


def _before(moment: datetime | None, until: datetime | None) -> bool:
    return moment is not None and (until is None or moment <= until)


def _citations_and_runs(
    case_facts, node_facts, relations, binding_facts, runs_of_tasks, *, now, flags
):
    """The evidence each node cites (as of `now`) and the cited runs with their files and
    results, for the evidence appendix."""
    citations = evidence.citations(
        case=case_facts,
        nodes=node_facts,
        relations=relations,
        bindings=binding_facts,
        runs=assessment_run_facts(runs=runs_of_tasks, bindings=binding_facts),
        now=now,
    )
    run_ids = document.cited_run_ids(citations, flags)
    runs = (
        EvaluationRun.objects.filter(pk__in=[r for r in run_ids if isinstance(r, int)])
        .select_related("log_file__uploaded_by", "samples_file")
        .prefetch_related("statistics", "metrics")
        .order_by("id")
    )
    return citations, runs


def _group_titles(modules) -> dict[str, str]:
    library = template_library()
    titles = {tid: template.title for tid, template in library.templates.items()}
    for name in sorted(modules):
        titles[name] = f"Module {name}"
    return titles


def _version_ref(version: Version | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "number": version.number,
        "hash": version.content_hash,
        "signed_at": _iso(version.created_at),
        "signed_by": version.created_by.get_username(),
    }


def _previous_assessment_time(case: SafetyCase, assessment: Assessment | None):
    if assessment is None:
        return None
    return (
        Assessment.objects.filter(
            case=case, created_at__lte=assessment.created_at, status=AssessmentStatus.COMPLETE
        )
        .exclude(pk=assessment.pk)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )


def _attestations_as_of(
    case: SafetyCase, moment: datetime, nodes: set[str]
) -> list[dict[str, Any]]:
    """The case's attestations as they stood at `moment`, from their recorded history (later
    edits and deletions of attestations or of their nodes do not reach a signed version)."""
    latest: dict[int, Any] = {}
    for record in Attestation.history.filter(case_id=case.pk, history_date__lte=moment).order_by(
        "id", "history_date", "history_id"
    ):
        latest[record.id] = record
    alive = [r for r in latest.values() if r.history_type != "-"]
    node_ids = {r.node_id for r in alive}
    identifiers: dict[int, str] = {}
    for record in Node.history.filter(id__in=node_ids, history_date__lte=moment).order_by(
        "id", "history_date", "history_id"
    ):
        identifiers[record.id] = record.identifier
    missing = node_ids - identifiers.keys()  # history is kept by every write path; just in case
    identifiers.update(Node.objects.filter(pk__in=missing).values_list("pk", "identifier"))
    users = dict(
        get_user_model()
        .objects.filter(pk__in={r.attested_by_id for r in alive})
        .values_list("pk", get_user_model().USERNAME_FIELD)
    )
    return [
        {
            "id": r.id,
            "node": identifiers[r.node_id],
            "by": users.get(r.attested_by_id, ""),
            "statement": r.statement,
            "scope": r.scope,
            "created_at": _iso(r.created_at),
            "expires_at": _iso(r.expires_at),
        }
        for r in sorted(alive, key=lambda r: (r.created_at, r.id))
        if identifiers.get(r.node_id) in nodes
    ]


def _assessment(assessment: Assessment | None, previous, node_facts, relations) -> dict | None:
    if assessment is None:
        return None
    return {
        "id": assessment.pk,
        "created_at": _iso(assessment.created_at),
        "trigger": assessment.trigger,
        "trigger_label": assessment.get_trigger_display(),
        "trigger_detail": assessment.trigger_detail,
        "top_goal": top_goal_identifier(nodes=node_facts, relations=relations),
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
        "finished_at": _iso(facts.run_finished_at(run)),
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
