"""Evidence bindings: acceptance criteria on solutions and checks on assumptions."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from safetycase import selectors
from safetycase.choices import BindingKind, EvidencePolicy, NodeType
from safetycase.errors import ApplicationError
from safetycase.models import CriterionChange, EvidenceBinding, Node
from safetycase.services.checks import check_unchanged, require_permission, validate_choice
from safetycase.services.queue import reassesses_case


def _validate_binding(
    *,
    node: Node,
    kind: str,
    selector: Any,
    freshness_days: Any,
    expression: Any,
    policy: Any = EvidencePolicy.ALL,
    policy_justification: Any = "",
) -> None:
    from safetycase.core.criteria import ExpressionError, compile_expression
    from safetycase.core.library import check_selector

    validate_choice(kind, BindingKind, "binding kind")
    if kind == BindingKind.CRITERION and node.type != NodeType.SOLUTION:
        raise ApplicationError(
            f"{node.identifier} is {node.type}; acceptance criteria belong on solutions."
        )
    if kind == BindingKind.CHECK and node.type != NodeType.ASSUMPTION:
        raise ApplicationError(f"{node.identifier} is {node.type}; checks belong on assumptions.")
    problem = check_selector(selector, kind)
    if problem:
        raise ApplicationError(problem)
    if freshness_days is not None and (
        isinstance(freshness_days, bool)
        or not isinstance(freshness_days, int)
        or freshness_days < 1
    ):
        raise ApplicationError("freshness_days must be a whole number of days ≥ 1, or empty.")
    try:
        compile_expression(expression)
    except ExpressionError as exc:
        what = "criterion" if kind == BindingKind.CRITERION else "check"
        raise ApplicationError(f"The {what} of {node.identifier} is not valid CEL: {exc}") from exc
    if not isinstance(policy, str) or policy not in EvidencePolicy.values:
        raise ApplicationError(
            f"{policy!r} is not an evidence policy; expected one of: "
            f"{', '.join(EvidencePolicy.values)} (all: every run must meet the criterion; "
            "pooled: k and n summed per task and model version; latest: only the newest run, "
            "with a justification)."
        )
    if not isinstance(policy_justification, str):
        raise ApplicationError("policy_justification must be text.")
    if kind == BindingKind.CHECK and policy != EvidencePolicy.ALL:
        raise ApplicationError(
            "Evidence policies other than 'all' apply to acceptance criteria, not to checks."
        )
    if policy == EvidencePolicy.LATEST and not policy_justification.strip():
        raise ApplicationError(
            "Policy 'latest' lets the newest run decide alone, so it needs a written "
            "justification (policy_justification) saying why older runs no longer count."
        )


def _default_binding_kind(node: Node) -> str:
    return BindingKind.CHECK if node.type == NodeType.ASSUMPTION else BindingKind.CRITERION


@reassesses_case("evidence binding added")
def binding_create(
    *,
    actor,
    node: Node,
    expression: str,
    kind: str | None = None,
    selector: dict | None = None,
    freshness_days: int | None = None,
    description: str = "",
    policy: str = EvidencePolicy.ALL,
    policy_justification: str = "",
) -> EvidenceBinding:
    require_permission(actor, "safetycase.edit_argument", node.case, "bind evidence")
    return binding_create_do(
        node=node,
        expression=expression,
        kind=kind,
        selector=selector,
        freshness_days=freshness_days,
        description=description,
        policy=policy,
        policy_justification=policy_justification,
    )


def binding_create_do(
    *,
    node: Node,
    expression: str,
    kind: str | None = None,
    selector: dict | None = None,
    freshness_days: int | None = None,
    description: str = "",
    policy: str = EvidencePolicy.ALL,
    policy_justification: str = "",
) -> EvidenceBinding:
    """An acceptance criterion (solution) or check (assumption); the CEL is compiled first."""
    kind = kind or _default_binding_kind(node)
    selector = {} if selector is None else selector
    _validate_binding(
        node=node,
        kind=kind,
        selector=selector,
        freshness_days=freshness_days,
        expression=expression,
        policy=policy,
        policy_justification=policy_justification,
    )
    binding = EvidenceBinding.objects.create(
        case_id=node.case_id,
        node=node,
        kind=kind,
        selector=selector,
        freshness_days=freshness_days,
        expression=expression,
        description=description,
        policy=policy,
        policy_justification=policy_justification.strip(),
    )
    if node.type == NodeType.ASSUMPTION and node.attributes.get("requires_attestation"):
        # A checked assumption is verified by data, not by a reviewer's attestation.
        node.attributes = {k: v for k, v in node.attributes.items() if k != "requires_attestation"}
        node.save()
    return binding


BINDING_EDITABLE_FIELDS = (
    "selector",
    "freshness_days",
    "expression",
    "description",
    "policy",
    "policy_justification",
)
# Changing any of these can move the bar a run is judged against (pre-registration).
CRITERION_FIELDS = ("selector", "freshness_days", "expression", "policy")


@reassesses_case("evidence binding changed")
@transaction.atomic
def binding_update(
    *, actor, binding: EvidenceBinding, expected_updated_at=None, **changes: Any
) -> EvidenceBinding:
    """Change a binding; `expected_updated_at` refuses stale edits as node_update does."""
    require_permission(actor, "safetycase.edit_argument", binding.case, "change evidence bindings")
    check_unchanged(binding, f"The {binding.kind} of {binding.node}", expected_updated_at)
    unknown = set(changes) - set(BINDING_EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            f"These binding fields cannot be changed: {', '.join(sorted(unknown))}."
        )
    merged = {field: getattr(binding, field) for field in BINDING_EDITABLE_FIELDS} | changes
    _validate_binding(
        node=binding.node,
        kind=binding.kind,
        selector=merged["selector"],
        freshness_days=merged["freshness_days"],
        expression=merged["expression"],
        policy=merged["policy"],
        policy_justification=merged["policy_justification"],
    )
    moved = [f for f in CRITERION_FIELDS if f in changes and changes[f] != getattr(binding, f)]
    failed_before = []
    if moved and binding.kind == BindingKind.CRITERION:
        failed_before = [
            entry
            for entry in selectors.binding_ledger(binding=binding)
            if entry.holds is False and entry.role != "withdrawn"
        ]
        old_text = _criterion_text(binding, moved)
    for field, value in changes.items():
        setattr(binding, field, value)
    binding.save()
    if failed_before:
        new_text = _criterion_text(binding, moved)
        for entry in failed_before:  # one per failing run (few), each with its history record
            CriterionChange.objects.create(
                case_id=binding.case_id,
                binding=binding,
                node_id=binding.node_id,
                run_id=entry.run,
                old_expression=old_text,
                new_expression=new_text,
                changed_by=actor,
            )
    return binding


def _criterion_text(binding: EvidenceBinding, moved: list[str]) -> str:
    """The criterion as a reader compares it: its expression, plus whatever else of the
    binding changed (policy, freshness window, selector)."""
    parts = [binding.expression]
    if "policy" in moved:
        parts.append(f"policy {binding.policy}")
    if "freshness_days" in moved:
        parts.append(
            f"runs within {binding.freshness_days} days"
            if binding.freshness_days
            else "runs of any age"
        )
    if "selector" in moved:
        parts.append(f"selector {json.dumps(binding.selector, sort_keys=True)}")
    return "; ".join(parts)


@reassesses_case("evidence binding deleted")
@transaction.atomic
def binding_delete(*, actor, binding: EvidenceBinding) -> None:
    require_permission(actor, "safetycase.edit_argument", binding.case, "change evidence bindings")
    if binding.kind == BindingKind.CRITERION:
        # Deleting a criterion that a run fails is a change of the bar too: it stays on the
        # node until a reviewer acknowledges it.
        for entry in selectors.binding_ledger(binding=binding):
            if entry.holds is False and entry.role != "withdrawn":
                CriterionChange.objects.create(
                    case_id=binding.case_id,
                    binding=binding,
                    node_id=binding.node_id,
                    run_id=entry.run,
                    old_expression=binding.expression,
                    new_expression="(criterion deleted)",
                    changed_by=actor,
                )
    binding.delete()
