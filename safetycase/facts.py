"""Translation between stored rows (and version snapshots) and the pure core's types.

The only place that knows both sides: ORM rows and snapshot dicts in, the core's facts,
elements and relations out; the core's elements and template instances in, unsaved rows out;
and the JSON shapes of a node, link and binding in a version snapshot and in an export.
Each function takes a row or a snapshot dict alike, so a new node field is one edit here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from safetycase.core import assessment
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.models import EvidenceBinding, Link, Node, SafetyCase


def _read(source: Any, name: str) -> Any:
    """A field of a row (attribute) or of a snapshot / export dict (key); None when absent."""
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _identifier(end: Any) -> str:
    """A link end or a binding's node: a Node row, or already its identifier."""
    return end if isinstance(end, str) else end.identifier


# ---------------------------------------------------------------------------------------------
# Rows and snapshots → the core's input types


def case_facts(case: SafetyCase | Mapping[str, Any]) -> assessment.CaseFacts:
    """A case row, or the `case` part of a version snapshot."""
    return assessment.CaseFacts(
        model_name=_read(case, "model_name") or "",
        model_version=_read(case, "model_version") or "",
    )


def node_facts(nodes: Iterable[Any]) -> list[assessment.NodeFacts]:
    return [
        assessment.NodeFacts(
            identifier=_read(n, "identifier"),
            type=_read(n, "type"),
            statement=_read(n, "statement"),
            undeveloped=_read(n, "undeveloped"),
            combination=_read(n, "combination") or "all",
            catalogue_id=_read(n, "catalogue_id") or "",
            attributes=_read(n, "attributes") or {},
        )
        for n in nodes
    ]


def elements(nodes: Iterable[Any]) -> list[Element]:
    return [
        Element(
            identifier=_read(n, "identifier"),
            type=_read(n, "type"),
            statement=_read(n, "statement"),
            undeveloped=_read(n, "undeveloped"),
            module=_read(n, "module") or "",
            attributes=_read(n, "attributes")
            or ({"refutes": _read(n, "refutes")} if _read(n, "refutes") else {}),
        )
        for n in nodes
    ]


def relations(links: Iterable[Any]) -> list[Relation]:
    return [
        Relation(
            source=_identifier(_read(link, "source")),
            target=_identifier(_read(link, "target")),
            type=_read(link, "type"),
            target_relation=_read(link, "target_relation"),
        )
        for link in links
    ]


def argument(
    *, nodes: Iterable[Any], links: Iterable[Any], modules: Mapping | None = None
) -> Argument:
    """The argument of stored or exported nodes and links, for the pure GSN code."""
    return Argument(
        elements=elements(nodes), relations=relations(links), modules=dict(modules or {})
    )


def binding_facts(
    bindings: Iterable[Any],
    withdrawals: Iterable[Any] = (),
    criterion_changes: Iterable[Any] = (),
) -> list[assessment.BindingFacts]:
    """BindingFacts of binding rows or snapshot dicts, with the RunWithdrawal rows and the
    unacknowledged CriterionChange rows of those bindings."""
    withdrawn: dict[Any, list[tuple[Any, str]]] = {}
    for w in withdrawals:
        who = w.withdrawn_by.get_username() if w.withdrawn_by_id else "a reviewer"
        withdrawn.setdefault(w.binding_id, []).append((w.run_id, f"by {who}: {w.reason}"))
    changed: dict[Any, list[tuple[str, str, Any]]] = {}
    orphaned: dict[str, list[tuple[str, str, Any]]] = {}  # node -> changes of deleted bindings
    for c in criterion_changes:
        change = (c.old_expression, c.new_expression, c.run_id)
        if c.binding_id is None:
            orphaned.setdefault(c.node.identifier, []).append(change)
        else:
            changed.setdefault(c.binding_id, []).append(change)
    return [
        assessment.BindingFacts(
            id=_read(b, "id"),
            node=_identifier(_read(b, "node")),
            kind=_read(b, "kind"),
            selector=_read(b, "selector"),
            freshness_days=_read(b, "freshness_days"),
            expression=_read(b, "expression"),
            policy=_read(b, "policy") or assessment.POLICY_ALL,
            policy_justification=_read(b, "policy_justification") or "",
            withdrawn=tuple(sorted(withdrawn.get(_read(b, "id"), ()), key=lambda w: w[0])),
            criterion_changes=(
                *changed.get(_read(b, "id"), ()),
                *orphaned.get(_identifier(_read(b, "node")), ()),
            ),
        )
        for b in bindings
    ]


def attestation_facts(attestations: Iterable[Any]) -> list[assessment.AttestationFacts]:
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


def run_facts(*, runs, samples: Mapping[Any, tuple] | None = None) -> list[assessment.RunFacts]:
    """RunFacts for EvaluationRuns whose statistics and metrics are loaded (or loadable), with
    the per-sample results in `samples` (run id -> sample dicts) for the runs it holds."""
    samples = samples or {}
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
                finished_at=run_finished_at(run),
                metadata=run.metadata,
                # k/n of 0/1 scores only: a numeric score (mean over samples) has no k
                statistics={s.name: (s.k, s.n) for s in run.statistics.all() if s.k is not None},
                metrics=metrics,
                error_count=run.error_count,
                sample_count=run.sample_count,
                estimation=(run.details or {}).get("estimation") or {},
                samples=samples.get(run.pk),
            )
        )
    return facts


def run_finished_at(run):
    """The time the assessment ages a run from: when it finished, but never later than when we
    received it, so a harness clock (or a forged date) cannot keep a run fresh."""
    return min(
        run.completed_at or run.ingested_at or run.created_at, run.ingested_at or run.created_at
    )


# ---------------------------------------------------------------------------------------------
# The core's elements and template instances → unsaved rows


def node_row(case: SafetyCase, node: Any) -> Node:
    """An unsaved Node of `case` from an Element or a template instance's node."""
    return Node(
        case=case,
        identifier=node.identifier,
        type=node.type,
        statement=node.statement,
        undeveloped=node.undeveloped,
        module=getattr(node, "module", ""),
        attributes=node.attributes,
        template_ref=getattr(node, "template_ref", ""),
        combination=getattr(node, "combination", "all"),
        catalogue_id=getattr(node, "catalogue_id", ""),
    )


def link_row(case: SafetyCase, relation: Relation, by_identifier: Mapping[str, Node]) -> Link:
    """An unsaved Link of `case` from a Relation whose ends are in `by_identifier`."""
    return Link(
        case=case,
        source=by_identifier[relation.source],
        target=by_identifier[relation.target],
        type=relation.type,
        target_relation=getattr(relation, "target_relation", ""),
    )


def binding_row(case: SafetyCase, binding: Any, node: Node) -> EvidenceBinding:
    """An unsaved EvidenceBinding of `case` on `node` from a template instance's binding."""
    return EvidenceBinding(
        case=case,
        node=node,
        kind=binding.kind,
        selector=binding.selector,
        freshness_days=binding.freshness_days,
        expression=binding.expression,
        description=binding.description,
        policy=getattr(binding, "policy", "") or "all",
        policy_justification=getattr(binding, "policy_justification", ""),
    )


# ---------------------------------------------------------------------------------------------
# JSON shapes: a version snapshot's and an export's nodes, links and bindings


def case_record(case: SafetyCase) -> dict[str, Any]:
    return {
        "id": case.pk,
        "name": case.name,
        "model_name": case.model_name,
        "model_version": case.model_version,
        "deployment": case.deployment,
        "description": case.description,
    }


def snapshot_node(n: Node) -> dict[str, Any]:
    return {
        "identifier": n.identifier,
        "type": n.type,
        "statement": n.statement,
        "undeveloped": n.undeveloped,
        "module": n.module,
        "combination": n.combination,
        "template_ref": n.template_ref,
        "catalogue_id": n.catalogue_id,
        "attributes": n.attributes or {},
    }


def link_record(link: Any) -> dict[str, Any]:
    """A link row or snapshot link as {source, target, type, target_relation}."""
    return {
        "source": _identifier(_read(link, "source")),
        "target": _identifier(_read(link, "target")),
        "type": _read(link, "type"),
        "target_relation": _read(link, "target_relation"),
    }


BINDING_KEYS = (
    "node",
    "kind",
    "selector",
    "freshness_days",
    "expression",
    "description",
    "policy",
    "policy_justification",
)
# Bindings recorded before evidence policies existed combine their runs with the default.
BINDING_DEFAULTS = {"policy": "all", "policy_justification": ""}


def binding_record(b: Any) -> dict[str, Any]:
    """A binding row or snapshot binding as its stored fields (without id)."""
    record = {
        key: _identifier(_read(b, key)) if key == "node" else _read(b, key) for key in BINDING_KEYS
    }
    for key, default in BINDING_DEFAULTS.items():
        if record[key] is None:
            record[key] = default
    return record


def export_node(n: Any) -> dict[str, Any]:
    """A node row or snapshot node as the export document shows it."""
    return {
        "identifier": _read(n, "identifier"),
        "type": _read(n, "type"),
        "statement": _read(n, "statement"),
        "undeveloped": _read(n, "undeveloped"),
        "module": _read(n, "module") or "",
        "template_ref": _read(n, "template_ref") or "",
        "combination": _read(n, "combination") or "all",
        "catalogue_id": _read(n, "catalogue_id") or "",
        "requires_attestation": bool((_read(n, "attributes") or {}).get("requires_attestation")),
        # The goal a refuting solution refutes (dialectic): the diagrams draw it as a defeater.
        "refutes": str((_read(n, "attributes") or {}).get("refutes") or ""),
    }
