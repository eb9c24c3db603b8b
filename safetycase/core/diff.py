"""What changed: between two assessments of a case, and between two signed versions.

One diff for both. An assessment's change list compares statuses and flags with the previous
assessment; a version diff compares two snapshots (nodes, and their assessments' statuses,
overall status and flags). Flags are matched by `flag_key` in both, so a flag that only changed
its wording is neither new nor cleared. Pure: plain dicts in, plain dicts out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The node fields a version diff reports as changed.
NODE_FIELDS = ("type", "statement", "undeveloped")


def flag_key(flag: Mapping[str, Any]) -> tuple:
    """What identifies a flag across assessments: its type, node, run and rule."""
    return (
        flag.get("type", ""),
        flag.get("node") or "",
        flag.get("run") or 0,
        flag.get("rule", ""),
    )


def flag_changes(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> tuple[list, list]:
    """(flags new in `after`, flags of `before` cleared in `after`), each in key order."""
    before_flags = {flag_key(f): f for f in before}
    after_flags = {flag_key(f): f for f in after}
    added = [after_flags[k] for k in sorted(after_flags) if k not in before_flags]
    cleared = [before_flags[k] for k in sorted(before_flags) if k not in after_flags]
    return added, cleared


def status_changes(
    before: Mapping[str, str | None], after: Mapping[str, str | None], *, removed_last: bool
) -> list[dict[str, Any]]:
    """The nodes whose status differs (`after` None: the node is gone), by identifier; with
    `removed_last`, the nodes gone from `after` come after all the others."""
    changed = [
        {"identifier": identifier, "before": before.get(identifier), "after": after.get(identifier)}
        for identifier in sorted(before.keys() | after.keys())
        if before.get(identifier) != after.get(identifier)
    ]
    if removed_last:
        changed.sort(key=lambda change: change["identifier"] not in after)  # stable
    return changed


def assessment_changes(
    previous: Mapping[str, Any] | None, statuses: Mapping[str, str], flags: Sequence[Mapping]
) -> dict[str, Any]:
    """Which nodes changed status and which flags appeared or cleared since the `previous`
    assessment (its `statuses` and `flags`; None for a case's first assessment)."""
    previous = previous or {}
    added, cleared = flag_changes(previous.get("flags") or [], flags)
    return {
        "nodes": status_changes(previous.get("statuses") or {}, statuses, removed_last=True),
        "flags_added": added,
        "flags_cleared": cleared,
    }


def diff_snapshots(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from snapshot `a` to snapshot `b`: nodes added, removed and changed
    (statement, type, undeveloped), status changes, and flags new in `b` (and cleared)."""
    nodes_a = {n["identifier"]: n for n in a.get("nodes", [])}
    nodes_b = {n["identifier"]: n for n in b.get("nodes", [])}
    changed = []
    for identifier in sorted(nodes_a.keys() & nodes_b.keys()):
        fields = {
            field: {
                "before": nodes_a[identifier].get(field),
                "after": nodes_b[identifier].get(field),
            }
            for field in NODE_FIELDS
            if nodes_a[identifier].get(field) != nodes_b[identifier].get(field)
        }
        if fields:
            changed.append({"identifier": identifier, "fields": fields})
    assessment_a = a.get("assessment") or {}
    assessment_b = b.get("assessment") or {}
    added, cleared = flag_changes(assessment_a.get("flags") or [], assessment_b.get("flags") or [])
    return {
        "nodes_added": [nodes_b[i] for i in sorted(nodes_b.keys() - nodes_a.keys())],
        "nodes_removed": [nodes_a[i] for i in sorted(nodes_a.keys() - nodes_b.keys())],
        "nodes_changed": changed,
        "status_changes": status_changes(
            assessment_a.get("statuses") or {},
            assessment_b.get("statuses") or {},
            removed_last=False,
        ),
        "overall_status": {
            "before": assessment_a.get("overall_status"),
            "after": assessment_b.get("overall_status"),
        },
        "flags_added": added,
        "flags_cleared": cleared,
    }
