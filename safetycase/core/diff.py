"""What changed: between two assessments of a case, and between two signed versions.

One diff for both. An assessment's change list compares statuses and flags with the previous
assessment; a version diff compares two snapshots: nodes, links, evidence bindings and their
policies, the runs that count as evidence, attestations, challenges, sign-off conditions and
the assessments' statuses, overall status and flags. A snapshot made before a part was
recorded has none of it, so everything of that part shows as added. Flags are matched by
`flag_key` in both, so a flag that only changed its wording is neither new nor cleared.
Pure: plain dicts in, plain dicts out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The node fields a version diff reports as changed.
NODE_FIELDS = ("type", "statement", "undeveloped")
# Per part of a snapshot: what identifies an item across versions, and the fields whose change
# is reported (the rest of an item is its identity).
LINK_KEY = ("source", "type", "target", "target_relation")
BINDING_FIELDS = ("expression", "freshness_days", "description")
PARTS = {
    "runs": (("id",), ("status", "superseded")),
    "attestations": (("id",), ("statement", "scope", "expires_at")),
    "challenges": (("id",), ("state", "response", "resolution")),
    "conditions": (("id",), ("state",)),
}


def _key(item: Mapping[str, Any], fields: Sequence[str]) -> tuple:
    return tuple(str(item.get(field)) for field in fields)


def keyed_changes(
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    fields: Sequence[str],
) -> dict[str, list]:
    """Items added, removed and changed (in `fields`) between two lists matched by `key`."""
    items_a = {_key(i, key): i for i in before}
    items_b = {_key(i, key): i for i in after}
    changed = []
    for k in sorted(items_a.keys() & items_b.keys()):
        diff = {
            field: {"before": items_a[k].get(field), "after": items_b[k].get(field)}
            for field in fields
            if items_a[k].get(field) != items_b[k].get(field)
        }
        if diff:
            changed.append({"item": items_b[k], "fields": diff})
    return {
        "added": [items_b[k] for k in sorted(items_b.keys() - items_a.keys())],
        "removed": [items_a[k] for k in sorted(items_a.keys() - items_b.keys())],
        "changed": changed,
    }


def _binding_key(binding: Mapping[str, Any]) -> dict[str, Any]:
    # A binding is its node, kind and selector; its policy (criterion, freshness) may change.
    selector = binding.get("selector") or {}
    return {
        **binding,
        "selector_key": sorted(selector.items()) if isinstance(selector, dict) else selector,
    }


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
    (statement, type, undeveloped), status changes, flags new in `b` (and cleared), and for
    links, bindings, runs, attestations, challenges and conditions the items `added`,
    `removed` and `changed` (with each changed field's before and after)."""
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
        "links": keyed_changes(a.get("links") or [], b.get("links") or [], LINK_KEY, ()),
        "bindings": keyed_changes(
            [_binding_key(x) for x in a.get("bindings") or []],
            [_binding_key(x) for x in b.get("bindings") or []],
            ("node", "kind", "selector_key"),
            BINDING_FIELDS,
        ),
        **{
            part: keyed_changes(a.get(part) or [], b.get(part) or [], key, fields)
            for part, (key, fields) in PARTS.items()
        },
    }
