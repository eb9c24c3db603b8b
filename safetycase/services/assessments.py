"""Assessing a case: load its facts, run the pure assessment, store the result with what
changed since the previous assessment.

A process remembers the facts of the cases it assessed recently (`_CaseMemo`), so re-assessing
after one new run loads only that run; the result always equals a fresh assessment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from safetycase import selectors
from safetycase.choices import AssessmentStatus
from safetycase.core import assessment, diff
from safetycase.core.argument_walks import top_goal_identifier
from safetycase.models import Assessment, SafetyCase


@dataclass
class _CaseMemo:
    """What a process remembers of a case between assessments: its facts as plain data (with
    the fingerprint they were loaded under and the newest run ingestion seen) and the pure
    assessment's cache. Re-assessing after one new run then loads only that run and
    recomputes only what it touches; the result always equals a fresh assessment."""

    fingerprint: tuple
    facts: dict[str, Any]
    runs: dict[int, Any]
    runs_seen_until: Any
    cache: assessment.AssessmentEngine


ASSESSMENT_CACHE_CASES = 16
_CASE_MEMOS: OrderedDict[int, _CaseMemo] = OrderedDict()
_CASE_MEMOS_LOCK = threading.Lock()


def _case_facts(case: SafetyCase) -> tuple[dict[str, Any], assessment.AssessmentEngine]:
    fingerprint = selectors.argument_fingerprint(case=case)
    with _CASE_MEMOS_LOCK:
        memo = _CASE_MEMOS.pop(case.pk, None)
    if memo is None or memo.fingerprint != fingerprint:
        started = timezone.now()
        loaded = selectors.case_assessment_facts(case=case)
        memo = _CaseMemo(
            fingerprint=fingerprint,
            facts=loaded,
            runs={run.id: run for run in loaded["runs"]},
            # Runs ingested while we loaded are read again next time, never missed.
            runs_seen_until=started - timedelta(seconds=5),
            cache=memo.cache if memo else assessment.AssessmentEngine(),
        )
    else:
        started = timezone.now()
        tasks = selectors.bound_tasks(memo.facts["bindings"])
        fresh = selectors.candidate_runs(
            tasks=tasks, ingested_after=memo.runs_seen_until, project_id=case.project_id
        )
        for run in selectors.assessment_run_facts(runs=fresh, bindings=memo.facts["bindings"]):
            memo.runs[run.id] = run
        memo.runs_seen_until = started - timedelta(seconds=5)
        memo.facts = {**memo.facts, "runs": [memo.runs[key] for key in sorted(memo.runs)]}
    with _CASE_MEMOS_LOCK:
        _CASE_MEMOS[case.pk] = memo  # most recently used last
        while len(_CASE_MEMOS) > ASSESSMENT_CACHE_CASES:
            _CASE_MEMOS.popitem(last=False)
    return memo.facts, memo.cache


def forget_assessment_memos() -> None:
    """Drop what this process remembers of cases (tests and benchmarks start cold)."""
    with _CASE_MEMOS_LOCK:
        _CASE_MEMOS.clear()


def case_assess(*, case: SafetyCase, trigger: str, detail: str = "", now=None) -> Assessment:
    """Assess the case now and store the result with what changed since the last assessment."""
    now = now or timezone.now()
    loaded, cache = _case_facts(case)
    result = assessment.assess(now=now, cache=cache, **loaded)
    flags = [flag_as_dict(flag) for flag in result.flags]
    previous = selectors.previous_assessment_for_changes(case=case)
    top = top_goal_identifier(nodes=loaded["nodes"], relations=loaded["relations"])
    return Assessment.objects.create(
        case=case,
        trigger=trigger,
        trigger_detail=detail[:300],
        overall_status=result.statuses.get(top, "") if top else "",
        statuses=dict(result.statuses),
        reasons=dict(result.reasons),
        flags=flags,
        evidence=evidence_as_dict(result.evidence, loaded["bindings"]),
        summary=assessment_summary(result.statuses, flags),
        changes=diff.assessment_changes(previous, dict(result.statuses), flags),
    )


def assessment_fail(*, case: SafetyCase, trigger: str, detail: str, error: str) -> Assessment:
    """Record an assessment that stopped before a result, with why. The case's latest complete
    assessment stays the one shown; the next trigger (or the daily one) tries again."""
    return Assessment.objects.create(
        case=case,
        trigger=trigger,
        trigger_detail=detail[:300],
        status=AssessmentStatus.FAILED,
        error=error,
    )


def flag_as_dict(flag) -> dict[str, Any]:
    return {
        "type": flag.type,
        "severity": flag.severity,
        "node": flag.node,
        "run": flag.run,
        "rule": flag.rule,
        "message": flag.message,
    }


def evidence_as_dict(evidence, bindings) -> dict[str, dict[str, Any]]:
    """Each criterion binding's ledger as JSON: {binding id: {node, policy, evidence: [{run, k,
    n, holds, role, note}]}}, as the binding was when assessed."""
    by_id = {b.id: b for b in bindings}
    out: dict[str, dict[str, Any]] = {}
    for binding_id, entries in sorted(evidence.items(), key=lambda item: str(item[0])):
        binding = by_id.get(binding_id)
        out[str(binding_id)] = {
            "node": binding.node if binding else "",
            "policy": binding.policy if binding else "",
            "evidence": [
                {
                    "run": entry.run,
                    "k": entry.k,
                    "n": entry.n,
                    "holds": entry.holds,
                    "role": entry.role,
                    "note": entry.note,
                }
                for entry in entries
            ],
        }
    return out


def assessment_summary(statuses: dict[str, str], flags: list[dict]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for status in statuses.values():
        by_status[status] = by_status.get(status, 0) + 1
    by_severity: dict[str, int] = {}
    for flag in flags:
        by_severity[flag["severity"]] = by_severity.get(flag["severity"], 0) + 1
    return {"statuses": by_status, "flags": by_severity, "flag_count": len(flags)}
