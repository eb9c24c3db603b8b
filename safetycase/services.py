"""All writes to cases, nodes, links and memberships.

Public services take the acting user and check their permission first; the `_do` parts are for
callers that already hold authority (management commands, importers, later Celery tasks).
History is recorded by django-simple-history through save()/delete(), so no service uses
QuerySet.update() on these models.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from simple_history.utils import bulk_create_with_history

from safetycase.choices import LinkType, NodeType, Role
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.gsn.gsn2x import Gsn2xError, load_files
from safetycase.gsn.model import Argument, Severity
from safetycase.gsn.rules import check_argument
from safetycase.models import Link, Membership, Node, SafetyCase

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _require(actor, perm: str, case: SafetyCase, doing: str) -> None:
    if not actor.has_perm(perm, case):
        raise PermissionDenied(f"Only authors of case {case.pk} may {doing}.")


def _validate_identifier(identifier: str) -> None:
    if not IDENTIFIER_PATTERN.match(identifier or "") or len(identifier) > 100:
        raise ApplicationError(
            f"{identifier!r} is not a valid node identifier: use letters, digits, '_', '-' "
            "or '.', starting with a letter or digit (at most 100 characters)."
        )


def _validate_choice(value: str, choices: type, what: str) -> None:
    if value not in choices.values:
        raise ApplicationError(
            f"{value!r} is not a {what}; expected one of: {', '.join(choices.values)}."
        )


def case_create(
    *,
    name: str,
    model_name: str = "",
    model_version: str = "",
    deployment: str = "",
    description: str = "",
    modules: dict | None = None,
    owner=None,
) -> SafetyCase:
    """Create a case; the owner, if given, becomes its first author."""
    if SafetyCase.objects.filter(name=name).exists():
        raise Conflict(f"A case named {name!r} already exists.")
    with transaction.atomic():
        case = SafetyCase.objects.create(
            name=name,
            model_name=model_name,
            model_version=model_version,
            deployment=deployment,
            description=description,
            modules=modules or {},
        )
        if owner is not None:
            membership_set(case=case, user=owner, role=Role.AUTHOR)
    return case


def membership_set(*, case: SafetyCase, user, role: str) -> Membership:
    _validate_choice(role, Role, "role")
    membership = Membership.objects.filter(case=case, user=user).first()
    if membership is None:
        return Membership.objects.create(case=case, user=user, role=role)
    membership.role = role
    membership.save()
    return membership


def node_create(
    *,
    actor,
    case: SafetyCase,
    identifier: str,
    type: str,
    statement: str = "",
    undeveloped: bool = False,
    module: str = "",
    attributes: dict[str, Any] | None = None,
) -> Node:
    _require(actor, "safetycase.edit_argument", case, "add nodes")
    return node_create_do(
        case=case,
        identifier=identifier,
        type=type,
        statement=statement,
        undeveloped=undeveloped,
        module=module,
        attributes=attributes,
    )


def node_create_do(
    *,
    case: SafetyCase,
    identifier: str,
    type: str,
    statement: str = "",
    undeveloped: bool = False,
    module: str = "",
    attributes: dict[str, Any] | None = None,
) -> Node:
    _validate_identifier(identifier)
    _validate_choice(type, NodeType, "node type")
    if Node.objects.filter(case=case, identifier=identifier).exists():
        raise Conflict(f"Case {case.pk} already has a node {identifier!r}.")
    try:
        with transaction.atomic():
            return Node.objects.create(
                case=case,
                identifier=identifier,
                type=type,
                statement=statement,
                undeveloped=undeveloped,
                module=module,
                attributes=attributes or {},
            )
    except IntegrityError as exc:  # a concurrent create of the same identifier
        raise Conflict(f"Case {case.pk} already has a node {identifier!r}.") from exc


NODE_EDITABLE_FIELDS = ("identifier", "type", "statement", "undeveloped", "module", "attributes")


def node_update(*, actor, node: Node, **changes: Any) -> Node:
    _require(actor, "safetycase.edit_argument", node.case, "edit nodes")
    unknown = set(changes) - set(NODE_EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            f"These node fields cannot be changed: {', '.join(sorted(unknown))}."
        )
    if "identifier" in changes and changes["identifier"] != node.identifier:
        _validate_identifier(changes["identifier"])
        if Node.objects.filter(case=node.case_id, identifier=changes["identifier"]).exists():
            raise Conflict(f"Case {node.case_id} already has a node {changes['identifier']!r}.")
    if "type" in changes:
        _validate_choice(changes["type"], NodeType, "node type")
    for field, value in changes.items():
        setattr(node, field, value)
    node.save()
    return node


def node_delete(*, actor, node: Node) -> None:
    """Delete a node and every link to or from it."""
    _require(actor, "safetycase.edit_argument", node.case, "delete nodes")
    with transaction.atomic():
        for link in Link.objects.filter(case=node.case_id, source=node) | Link.objects.filter(
            case=node.case_id, target=node
        ):
            link.delete()
        node.delete()


def link_create(
    *, actor, case: SafetyCase, source: str, target: str, type: str, target_relation: str = ""
) -> Link:
    _require(actor, "safetycase.edit_argument", case, "add links")
    return link_create_do(
        case=case, source=source, target=target, type=type, target_relation=target_relation
    )


def link_create_do(
    *, case: SafetyCase, source: str, target: str, type: str, target_relation: str = ""
) -> Link:
    _validate_choice(type, LinkType, "link type")
    nodes = {
        n.identifier: n for n in Node.objects.filter(case=case, identifier__in=[source, target])
    }
    for identifier in (source, target):
        if identifier not in nodes:
            raise NotFound(f"Case {case.pk} has no node {identifier!r}.")
    if Link.objects.filter(
        source=nodes[source], target=nodes[target], type=type, target_relation=target_relation
    ).exists():
        raise Conflict(f"{source} is already linked to {target} by {type}.")
    return Link.objects.create(
        case=case,
        source=nodes[source],
        target=nodes[target],
        type=type,
        target_relation=target_relation,
    )


def link_delete(*, actor, link: Link) -> None:
    _require(actor, "safetycase.edit_argument", link.case, "delete links")
    link.delete()


@transaction.atomic
def case_import_argument(
    *,
    name: str,
    argument: Argument,
    model_name: str = "",
    model_version: str = "",
    deployment: str = "",
    description: str = "",
    owner=None,
) -> SafetyCase:
    """Create a case holding a whole argument (import). All or nothing."""
    case = case_create(
        name=name,
        model_name=model_name,
        model_version=model_version,
        deployment=deployment,
        description=description,
        modules=argument.modules,
        owner=owner,
    )
    for element in argument.elements:
        _validate_identifier(element.identifier)
        _validate_choice(element.type, NodeType, "node type")
    nodes = bulk_create_with_history(
        [
            Node(
                case=case,
                identifier=e.identifier,
                type=e.type,
                statement=e.statement,
                undeveloped=e.undeveloped,
                module=e.module,
                attributes=e.attributes,
            )
            for e in argument.elements
        ],
        Node,
    )
    by_identifier = {node.identifier: node for node in nodes}
    if any(node.pk is None for node in nodes):  # backends that do not return primary keys
        by_identifier = {n.identifier: n for n in Node.objects.filter(case=case)}
    links = []
    for relation in argument.relations:
        for end in (relation.source, relation.target):
            if end not in by_identifier:
                raise ApplicationError(f"{relation.source} refers to {end}, which does not exist.")
        _validate_choice(relation.type, LinkType, "link type")
        links.append(
            Link(
                case=case,
                source=by_identifier[relation.source],
                target=by_identifier[relation.target],
                type=relation.type,
                target_relation=relation.target_relation,
            )
        )
    bulk_create_with_history(links, Link)
    return case


def case_import_gsn2x(
    *,
    name: str,
    paths: list,
    model_name: str = "",
    model_version: str = "",
    deployment: str = "",
    description: str = "",
    owner=None,
) -> tuple[SafetyCase | None, Argument, list]:
    """Read gsn2x files (and the files their `module.uses` name), check them with the GSN rules
    and create the case only if no rule reports an error. All or nothing.

    Returns (case or None when refused, the argument read, every finding). Files that are not
    gsn2x YAML, a case name already taken and identifiers the case cannot store raise
    ApplicationError.
    """
    try:
        argument = load_files(paths)
    except Gsn2xError as exc:
        raise ApplicationError(str(exc)) from exc
    findings = check_argument(argument)
    if any(finding.severity == Severity.ERROR for finding in findings):
        return None, argument, findings
    try:
        case = case_import_argument(
            name=name,
            argument=argument,
            model_name=model_name,
            model_version=model_version,
            deployment=deployment,
            description=description,
            owner=owner,
        )
    except IntegrityError as exc:  # e.g. a link listed twice, if the rules let it through
        raise ApplicationError(f"The argument cannot be stored: {exc}") from exc
    return case, argument, findings
