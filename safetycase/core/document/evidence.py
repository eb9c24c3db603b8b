"""Which evaluation runs a case cites, and what each binding's expression says about them.

Pure (no Django): facts in (`safetycase.core.assessment` dataclasses), plain dicts out. The run
selection mirrors the assessment (DESIGN §3, `safetycase.core.assessment`): a binding's evidence is
the latest run that its selector picks (`assessment.binding_matches`), whose harness reported
success and that is inside the freshness window at `now` (the assessment's time, so the result
is the one the assessment saw). A binding without such a run cites the latest run that explains
why (stale, unsuccessful, or of another model or version), as its flags do. A check with an
empty selector applies to the evidence runs of the solutions in its assumption's scope (below
the nodes it is in the context of), each read with that solution binding's scorer.

Every citation is a dict: binding id, node, run id, `role` (see ROLES), `via` (for scope checks,
the solution whose evidence the run is), `outcome` (True / False / None when not evaluated or
not evaluable) and `detail` (k/n, or why the expression could not be evaluated).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from safetycase.core import assessment, criteria
from safetycase.core.assessment.paired import PairingError, paired_difference, paired_selector
from safetycase.core.assessment.runs import statistic_for
from safetycase.core.gsn.model import Relation
from safetycase.core.keys import id_key, natural_key, timestamp

EVIDENCE = "evidence"
STALE = "stale"
UNSUCCESSFUL = "unsuccessful"
MISMATCH = "model_mismatch"
SCOPE = "scope"
ROLES = {
    EVIDENCE: "evidence",
    SCOPE: "evidence in scope",
    STALE: "stale: outside the freshness window",
    UNSUCCESSFUL: "not successful: the harness reported an error",
    MISMATCH: "another model or version",
}
_DAY = 86400.0
_MODEL_KEYS = ("model", "model_version")


def citations(
    *,
    case: assessment.CaseFacts,
    nodes: Sequence[assessment.NodeFacts],
    relations: Sequence[Relation],
    bindings: Sequence[assessment.BindingFacts],
    runs: Sequence[assessment.RunFacts],
    now: datetime,
) -> list[dict[str, Any]]:
    """Every (binding, run) citation of the case, ordered by node, binding and run."""
    ordered = sorted(runs, key=_run_key, reverse=True)  # newest first
    by_node: dict[str, list[assessment.BindingFacts]] = {}
    for binding in bindings:
        by_node.setdefault(binding.node, []).append(binding)
    type_of = {node.identifier: node.type for node in nodes}
    now_ts = timestamp(now)

    out: list[dict[str, Any]] = []
    evidence_of: dict[Any, assessment.RunFacts | None] = {}
    scope_checks = []
    for binding in sorted(bindings, key=lambda b: (natural_key(b.node), id_key(b.id))):
        selector = binding.selector if isinstance(binding.selector, Mapping) else {}
        if not selector and type_of.get(binding.node) == "assumption":
            scope_checks.append(binding)
            continue
        chosen = _select(binding, selector, ordered, case, now_ts)
        evidence_of[binding.id] = chosen.get(EVIDENCE)
        # A paired check cites the other condition's run too, and is judged on the pair.
        control = paired_selector(selector)
        other = _select(binding, control, ordered, case, now_ts) if control is not None else {}
        for role in (EVIDENCE, STALE, UNSUCCESSFUL, MISMATCH):
            for run in (chosen.get(role), other.get(role)):
                if run is None:
                    continue
                row = _row(binding, run, role, "")
                if role == EVIDENCE and run is chosen.get(EVIDENCE):
                    if control is None:
                        row.update(_outcome(binding.expression, run, selector, now))
                    else:
                        row.update(
                            _paired_outcome(
                                binding.expression, run, other.get(EVIDENCE), selector, now
                            )
                        )
                elif role == EVIDENCE and chosen.get(EVIDENCE) is not None:
                    row["detail"] = f"the other condition, paired with run {chosen[EVIDENCE].id}"
                out.append(row)

    if scope_checks:
        scope = _scope_solutions(nodes, relations)
        for binding in scope_checks:
            for solution in scope.get(binding.node, ()):
                for sol_binding in by_node.get(solution, ()):
                    run = evidence_of.get(sol_binding.id)
                    if run is None:
                        continue
                    row = _row(binding, run, SCOPE, solution)
                    sol_selector = (
                        sol_binding.selector if isinstance(sol_binding.selector, Mapping) else {}
                    )
                    row.update(_outcome(binding.expression, run, sol_selector, now))
                    out.append(row)

    out.sort(
        key=lambda r: (
            natural_key(r["node"]),
            id_key(r["binding"]),
            list(ROLES).index(r["role"]),
            natural_key(r["via"]),
            id_key(r["run"]),
        )
    )
    # One row per (binding, run, role, via): two solution bindings may share a run.
    unique: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for row in out:
        key = (row["binding"], row["run"], row["role"], row["via"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _select(
    binding: assessment.BindingFacts,
    selector: Mapping[str, Any],
    ordered: Iterable[assessment.RunFacts],
    case: assessment.CaseFacts,
    now_ts: float,
) -> dict[str, assessment.RunFacts]:
    """The binding's evidence run, or the latest run of each kind that explains its absence."""
    without_model = {k: v for k, v in selector.items() if k not in _MODEL_KEYS}
    freshness = _freshness(binding.freshness_days)
    found: dict[str, assessment.RunFacts] = {}
    for run in ordered:
        if run.status != "ingested":
            continue
        if not assessment.binding_matches(selector, run, case):
            if assessment.binding_matches(without_model, run, assessment.CaseFacts()):
                found.setdefault(MISMATCH, run)
            continue
        if run.log_status != "success":
            found.setdefault(UNSUCCESSFUL, run)
            continue
        if freshness is not None and (
            run.finished_at is None or now_ts > timestamp(run.finished_at) + freshness * _DAY
        ):
            found.setdefault(STALE, run)
            continue
        return {EVIDENCE: run}
    return found


def _freshness(value: Any) -> float | None:
    if value is None:
        return None
    try:
        days = float(value)
    except (TypeError, ValueError):
        return None
    return days if days > 0 and not math.isnan(days) else None


def _outcome(
    expression: str,
    run: assessment.RunFacts,
    selector: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    variables = assessment.run_variables(run, selector, now)
    counts = f"k/n = {variables['k']}/{variables['n']}" if "k" in variables else ""
    result = _evaluated(expression, variables)
    if result["outcome"] is not None:
        result["detail"] = counts
    return result


def _paired_outcome(
    expression: str,
    run: assessment.RunFacts,
    paired: assessment.RunFacts | None,
    selector: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A paired check on its run and the other condition's (as the assessment judges it)."""
    if paired is None:
        return {"outcome": None, "detail": "no eligible run of the other condition to pair with"}
    variables = assessment.run_variables(run, selector, now)
    scorer_b = str((paired_selector(selector) or {}).get("scorer") or "")
    stat_name = statistic_for(run, selector).key
    try:
        table = paired_difference(run, paired, scorer_a=stat_name, scorer_b=scorer_b)
    except PairingError as exc:
        return {"outcome": None, "detail": f"The samples cannot be paired: {exc}."}
    variables["paired"] = table
    result = _evaluated(expression, variables)
    if result["outcome"] is not None:
        result["detail"] = (
            f"paired with run {paired.id}: {table['only_a']} right only here, "
            f"{table['only_b']} only there, of {table['n']}; difference {table['diff']:.3f}, "
            f"McNemar p = {table['p_value']:.2g}"
        )
    return result


def _evaluated(expression: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = criteria.evaluate(criteria.compile_expression(expression), variables)
    except criteria.ExpressionError as exc:
        return {"outcome": None, "detail": str(exc)}
    except Exception as exc:  # defensive: an export never fails on an expression
        return {"outcome": None, "detail": f"The expression could not be evaluated: {exc}."}
    if not isinstance(value, bool):
        return {
            "outcome": None,
            "detail": f"The expression evaluated to {value!r}, not true/false.",
        }
    return {"outcome": value, "detail": ""}


def _row(binding: assessment.BindingFacts, run: assessment.RunFacts, role: str, via: str) -> dict:
    return {
        "binding": binding.id,
        "node": binding.node,
        "run": run.id,
        "role": role,
        "via": via,
        "outcome": None,
        "detail": "",
    }


def _scope_solutions(
    nodes: Sequence[assessment.NodeFacts], relations: Sequence[Relation]
) -> dict[str, list[str]]:
    """assumption → the solutions below the nodes it is in the context of (natural order)."""
    type_of = {node.identifier: node.type for node in nodes}
    children: dict[str, set[str]] = {}
    holders: dict[str, set[str]] = {}
    for rel in relations:
        if rel.type == "supported_by":
            children.setdefault(rel.source, set()).add(rel.target)
        elif rel.type == "in_context_of" and type_of.get(rel.target) == "assumption":
            holders.setdefault(rel.target, set()).add(rel.source)
    out: dict[str, list[str]] = {}
    for assumption_id, sources in holders.items():
        seen: set[str] = set()
        stack = list(sources)
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(children.get(current, ()))
        out[assumption_id] = sorted(
            (i for i in seen if type_of.get(i) == "solution"), key=natural_key
        )
    return out


def _run_key(run: assessment.RunFacts) -> tuple[Any, ...]:
    return (timestamp(run.finished_at), id_key(run.id))
