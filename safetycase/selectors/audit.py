"""The audit trail of a case: every recorded change, newest first, with who, when and what.

Changes come from the django-simple-history tables of the case and of its nodes, links,
evidence bindings (criteria and checks), attestations, memberships, comments and challenges,
plus the sign-offs and co-signatures of versions (immutable rows, so their creation is the
record). API tokens belong to users, not cases: their history (created, revoked) is in the
admin's history of each token.

Reading a page costs a fixed number of queries whatever the number of records: one union over
the tables picks the page, then per kind of record one query loads the page's rows (each with
the id of its previous record, by subquery) and one the previous records for
`diff_against`, and two more resolve node identifiers and usernames.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import CharField, F, OuterRef, Q, QuerySet, Subquery, Value

from safetycase.models import (
    Attestation,
    Challenge,
    Comment,
    CriterionChange,
    EvidenceBinding,
    Link,
    Membership,
    Node,
    RunWithdrawal,
    SafetyCase,
    Signature,
    Version,
)

# kind → (model with history, field naming the case in its history table)
AUDITED: dict[str, tuple[type, str]] = {
    "case": (SafetyCase, "id"),
    "node": (Node, "case_id"),
    "link": (Link, "case_id"),
    "binding": (EvidenceBinding, "case_id"),
    "attestation": (Attestation, "case_id"),
    "membership": (Membership, "case_id"),
    "comment": (Comment, "case_id"),
    "challenge": (Challenge, "case_id"),
    "withdrawal": (RunWithdrawal, "case_id"),
    "criterion_change": (CriterionChange, "case_id"),
}
ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
# Bookkeeping fields that say nothing a reader of the trail needs.
NOT_SHOWN = {"id", "case", "created_at", "updated_at"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    who: str | None  # username; None for changes made by the system (commands, tasks)
    action: str  # created, changed, deleted, signed off, co-signed
    object_type: str  # one of AUDITED's kinds, or version / signature
    object: str  # what it was about, e.g. "G2", "G1 supported_by S1", "bob"
    changes: list[FieldChange] = field(default_factory=list)
    reason: str = ""


def case_audit_refs(*, case: SafetyCase) -> QuerySet:
    """(kind, id, when) of every recorded change in the case, newest first, as one union
    query: slice it for a page and pass the page to `audit_entries`."""
    parts = [
        model.history.model.objects.filter(**{case_field: case.pk})
        .order_by()
        .annotate(
            audit_kind=Value(kind, output_field=CharField()),
            audit_ref=F("history_id"),
            audit_at=F("history_date"),
        )
        .values_list("audit_kind", "audit_ref", "audit_at")
        for kind, (model, case_field) in AUDITED.items()
    ]
    parts.append(
        Version.objects.filter(case=case)
        .order_by()
        .annotate(
            audit_kind=Value("version", output_field=CharField()),
            audit_ref=F("id"),
            audit_at=F("created_at"),
        )
        .values_list("audit_kind", "audit_ref", "audit_at")
    )
    # The signature of the reviewer who signed off is part of the sign-off itself.
    parts.append(
        Signature.objects.filter(version__case=case)
        .exclude(user=F("version__created_by"))
        .order_by()
        .annotate(
            audit_kind=Value("signature", output_field=CharField()),
            audit_ref=F("id"),
            audit_at=F("signed_at"),
        )
        .values_list("audit_kind", "audit_ref", "audit_at")
    )
    first, *rest = parts
    return first.union(*rest, all=True).order_by("-audit_at", "-audit_ref", "audit_kind")


def _previous_record(history_model) -> Subquery:
    """The history id of the same object's record just before this one."""
    earlier = Q(history_date__lt=OuterRef("history_date")) | Q(
        history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id")
    )
    return Subquery(
        history_model.objects.filter(earlier, id=OuterRef("id"))
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )


def _relations(model) -> tuple[set[str], set[str]]:
    """Names of the model's foreign keys to nodes and to users."""
    user_model = get_user_model()
    to_nodes, to_users = set(), set()
    for f in model._meta.concrete_fields:
        if f.is_relation and f.related_model is Node:
            to_nodes.add(f.name)
        elif f.is_relation and f.related_model is user_model:
            to_users.add(f.name)
    return to_nodes, to_users


def audit_entries(refs) -> list[AuditEntry]:
    """The entries of one page of `case_audit_refs`, in the same order."""
    ids_by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, ref, _ in refs:
        ids_by_kind[kind].append(ref)

    records: dict[tuple[str, int], Any] = {}
    previous: dict[tuple[str, int], Any] = {}
    node_ids: set[int] = set()
    user_ids: set[int] = set()
    for kind, (model, _) in AUDITED.items():
        if not ids_by_kind.get(kind):
            continue
        history_model = model.history.model
        rows = list(
            history_model.objects.filter(history_id__in=ids_by_kind[kind])
            .select_related("history_user")
            .annotate(previous_history_id=_previous_record(history_model))
        )
        earlier = {
            row.history_id: row
            for row in history_model.objects.filter(
                history_id__in=[r.previous_history_id for r in rows if r.previous_history_id]
            )
        }
        to_nodes, to_users = _relations(model)
        for row in rows:
            records[kind, row.history_id] = row
            if row.previous_history_id in earlier:
                previous[kind, row.history_id] = earlier[row.previous_history_id]
            for record in (row, earlier.get(row.previous_history_id)):
                if record is None:
                    continue
                node_ids.update(getattr(record, f"{name}_id") for name in to_nodes)
                user_ids.update(getattr(record, f"{name}_id") for name in to_users)
    if ids_by_kind.get("version"):
        for version in Version.objects.filter(pk__in=ids_by_kind["version"]).select_related(
            "created_by"
        ):
            records["version", version.pk] = version
    if ids_by_kind.get("signature"):
        for signature in Signature.objects.filter(pk__in=ids_by_kind["signature"]).select_related(
            "user", "version"
        ):
            records["signature", signature.pk] = signature

    labels = _Labels(nodes=_node_identifiers(node_ids - {None}), users=_usernames(user_ids))
    return [
        labels.entry(kind, records[kind, ref], previous.get((kind, ref)))
        for kind, ref, _ in refs
        if (kind, ref) in records
    ]


def _node_identifiers(ids: set[int]) -> dict[int, str]:
    """Each node's identifier: the current one, or the last it had before it was deleted."""
    identifiers = dict(Node.objects.filter(pk__in=ids).values_list("pk", "identifier"))
    deleted = ids - identifiers.keys()
    if deleted:
        for pk, identifier in (
            Node.history.filter(id__in=deleted)
            .order_by("history_date", "history_id")
            .values_list("id", "identifier")
        ):
            identifiers[pk] = identifier  # the latest record wins
    return identifiers


def _usernames(ids: set[int]) -> dict[int, str]:
    ids = {pk for pk in ids if pk is not None}
    if not ids:
        return {}
    user_model = get_user_model()
    return dict(user_model.objects.filter(pk__in=ids).values_list("pk", user_model.USERNAME_FIELD))


def _plain(value: Any) -> Any:
    """A value as JSON data (the API) and readable text (the page)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value, default=str))
    return value


@dataclass
class _Labels:
    nodes: dict[int, str]
    users: dict[int, str]

    def node(self, pk) -> str | None:
        return None if pk is None else self.nodes.get(pk, f"node {pk}")

    def user(self, pk) -> str | None:
        return None if pk is None else self.users.get(pk, f"user {pk}")

    def entry(self, kind: str, record, before) -> AuditEntry:
        if kind == "version":
            return AuditEntry(
                at=record.created_at,
                who=record.created_by.get_username(),
                action="signed off",
                object_type="version",
                object=f"version {record.number}",
                changes=[
                    FieldChange("content_hash", None, record.content_hash),
                    *([FieldChange("note", None, record.note)] if record.note else []),
                ],
            )
        if kind == "signature":
            return AuditEntry(
                at=record.signed_at,
                who=record.user.get_username(),
                action="co-signed",
                object_type="signature",
                object=f"version {record.version.number}",
            )
        return AuditEntry(
            at=record.history_date,
            who=record.history_user.get_username() if record.history_user else None,
            action=ACTIONS[record.history_type],
            object_type=kind,
            object=self._object(kind, record),
            changes=self._changes(kind, record, before),
            reason=record.history_change_reason or "",
        )

    def _object(self, kind: str, record) -> str:
        if kind == "case":
            return record.name
        if kind == "node":
            return record.identifier
        if kind == "link":
            return f"{self.node(record.source_id)} {record.type} {self.node(record.target_id)}"
        if kind == "membership":
            return self.user(record.user_id) or ""
        if kind == "binding":
            return f"{record.kind} on {self.node(record.node_id)}"
        if kind == "withdrawal":
            return f"run {record.run_id} withdrawn from {self.node(record.node_id)}"
        if kind == "criterion_change":
            return f"criterion of {self.node(record.node_id)} changed after run {record.run_id}"
        return f"{kind} {record.id} on {self.node(record.node_id)}"

    def _changes(self, kind: str, record, before) -> list[FieldChange]:
        model = AUDITED[kind][0]
        to_nodes, to_users = _relations(model)

        def shown(name: str, value):
            if name in to_nodes:
                return self.node(value)
            if name in to_users:
                return self.user(value)
            return _plain(value)

        if record.history_type == "~" and before is not None:
            delta = record.diff_against(before, excluded_fields=NOT_SHOWN)
            return [
                FieldChange(c.field, shown(c.field, c.old), shown(c.field, c.new))
                for c in delta.changes
            ]
        if record.history_type == "+":
            values = [
                (f.name, getattr(record, f.attname))
                for f in model._meta.concrete_fields
                if f.editable and f.name not in NOT_SHOWN
            ]
            return [
                FieldChange(name, None, shown(name, value))
                for name, value in values
                if value not in (None, "", {}, [])
            ]
        return []
