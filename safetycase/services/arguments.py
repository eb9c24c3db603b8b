"""Writes to a case's argument: cases, nodes, links, combinations, and gsn2x imports.

Authoring refuses a change that would add a structural error — a supported_by cycle, a link
type the GSN rules forbid, a link to a node that does not exist, a self-link or duplicate
(rules R4–R9 in safetycase.core.gsn.rules, the same rules gsn2x import applies) — with the
rule's sentence. Completeness findings (undeveloped goals, unreachable new nodes) stay allowed,
so an argument can be built a node at a time; errors the case already had are not blamed on
the change.

Public services take the acting user and check their permission first; the `_do` parts are for
callers that already hold authority (management commands, importers, Celery tasks).
History is recorded by django-simple-history through save()/delete(), so no service uses
QuerySet.update() on these models.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from simple_history.utils import bulk_create_with_history

from safetycase import facts, projects
from safetycase.choices import LinkType, NodeType, Role
from safetycase.core.gsn.gsn2x import Gsn2xError, load_files
from safetycase.core.gsn.model import Argument, Severity
from safetycase.core.gsn.rules import check_argument
from safetycase.errors import ApplicationError, Conflict, NotFound
from safetycase.models import Link, Node, SafetyCase
from safetycase.services.checks import (
    check_unchanged,
    require_permission,
    validate_choice,
    validate_identifier,
)
from safetycase.services.memberships import membership_set
from safetycase.services.queue import reassesses_case


def case_create(
    *,
    name: str,
    model_name: str = "",
    model_version: str = "",
    deployment: str = "",
    description: str = "",
    modules: dict | None = None,
    owner=None,
    project=None,
) -> SafetyCase:
    """Create a case in a project (see safetycase.projects); the owner, if given, becomes its
    owner (an author who also manages the case's members)."""
    with transaction.atomic():
        project = projects.project_for_new_case(name=name, owner=owner, project=project)
        # Names are unique per project, and only members of the project learn of a conflict.
        if SafetyCase.objects.filter(project=project, name=name).exists():
            raise Conflict(f"A case named {name!r} already exists in project {project.name!r}.")
        case = SafetyCase.objects.create(
            project=project,
            name=name,
            model_name=model_name,
            model_version=model_version,
            deployment=deployment,
            description=description,
            modules=modules or {},
        )
        if owner is not None:
            membership_set(case=case, user=owner, role=Role.OWNER)
    return case


@reassesses_case("node added")
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
    parent: str = "",
    relation: str = LinkType.SUPPORTED_BY,
) -> Node:
    """Add a node; with `parent`, also the link from the parent to it (both or neither)."""
    require_permission(actor, "safetycase.edit_argument", case, "add nodes")
    if parent and not Node.objects.filter(case=case, identifier=parent).exists():
        raise NotFound(f"Case {case.pk} has no node {parent!r}.")
    with transaction.atomic():
        node = node_create_do(
            case=case,
            identifier=identifier,
            type=type,
            statement=statement,
            undeveloped=undeveloped,
            module=module,
            attributes=attributes,
        )
        if parent:
            link = {"source": parent, "target": identifier, "type": relation, "target_relation": ""}
            refuse_structural_errors(case, extra_links=[link])
            link_create_do(case=case, source=parent, target=node.identifier, type=relation)
    return node


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
    validate_identifier(identifier)
    validate_choice(type, NodeType, "node type")
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


@reassesses_case("node edited")
@transaction.atomic
def node_update(*, actor, node: Node, expected_updated_at=None, **changes: Any) -> Node:
    """Change fields of a node. With `expected_updated_at` (when the editor loaded the node),
    the change is refused with Conflict if the node was saved since: no silent overwrite."""
    require_permission(actor, "safetycase.edit_argument", node.case, "edit nodes")
    return _node_update_do(node=node, expected_updated_at=expected_updated_at, **changes)


def _node_update_do(*, node: Node, expected_updated_at=None, **changes: Any) -> Node:
    check_unchanged(node, node.identifier, expected_updated_at)
    unknown = set(changes) - set(NODE_EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            f"These node fields cannot be changed: {', '.join(sorted(unknown))}."
        )
    if "identifier" in changes and changes["identifier"] != node.identifier:
        validate_identifier(changes["identifier"])
        if Node.objects.filter(case=node.case_id, identifier=changes["identifier"]).exists():
            raise Conflict(f"Case {node.case_id} already has a node {changes['identifier']!r}.")
    if "type" in changes:
        validate_choice(changes["type"], NodeType, "node type")
    for field, value in changes.items():
        setattr(node, field, value)
    if "type" in changes:
        # A new type can make the node's links forbidden (a goal turned into a context).
        others = [n for n in Node.objects.filter(case=node.case_id) if n.pk != node.pk]
        refuse_structural_errors(node.case, nodes=[*others, node])
    node.save()
    return node


@reassesses_case("node edited")
@transaction.atomic
def node_edit(
    *, actor, node: Node, combination: str, expected_updated_at=None, **changes: Any
) -> Node:
    """The node edit form's save: fields and combination in one transaction, so the case is
    re-assessed once and a refused combination leaves the fields unchanged too."""
    require_permission(actor, "safetycase.edit_argument", node.case, "edit nodes")
    _node_update_do(node=node, expected_updated_at=expected_updated_at, **changes)
    if combination != node.combination:
        _node_set_combination_do(node=node, combination=combination)
    return node


@reassesses_case("node deleted")
def node_delete(*, actor, node: Node) -> None:
    """Delete a node and every link to or from it."""
    require_permission(actor, "safetycase.edit_argument", node.case, "delete nodes")
    with transaction.atomic():
        for link in Link.objects.filter(case=node.case_id, source=node) | Link.objects.filter(
            case=node.case_id, target=node
        ):
            link.delete()
        node.delete()


# The GSN rules about structure, which no edit may break (see the module docstring).
STRUCTURAL_RULES = frozenset({"R4", "R5", "R6", "R7", "R8", "R9"})


class StructuralError(ApplicationError):
    """A change refused because it would add a structural GSN rule error."""


def _structural_errors(argument: Argument) -> dict[tuple, str]:
    return {
        (f.rule, f.node, f.message): f"{f.rule}: {f.message}"
        for f in check_argument(argument)
        if f.severity == Severity.ERROR and f.rule in STRUCTURAL_RULES
    }


def refuse_structural_errors(case: SafetyCase, *, nodes=None, extra_links=()) -> None:
    """Raise StructuralError when the case with `nodes` (default: as stored) and its links plus
    `extra_links` (dicts with source, target, type, target_relation) has structural errors it
    does not have now."""
    stored_nodes = list(Node.objects.filter(case=case))
    links = list(Link.objects.filter(case=case).select_related("source", "target"))
    before = _structural_errors(
        facts.argument(nodes=stored_nodes, links=links, modules=case.modules)
    )
    after = _structural_errors(
        facts.argument(
            nodes=nodes if nodes is not None else stored_nodes,
            links=[*links, *extra_links],
            modules=case.modules,
        )
    )
    new = [sentence for key, sentence in sorted(after.items()) if key not in before]
    if new:
        raise StructuralError("; ".join(new[:3]) + ("; …" if len(new) > 3 else ""))


@reassesses_case("link added")
def link_create(
    *, actor, case: SafetyCase, source: str, target: str, type: str, target_relation: str = ""
) -> Link:
    require_permission(actor, "safetycase.edit_argument", case, "add links")
    validate_choice(type, LinkType, "link type")
    # Unknown nodes (404) and duplicates (409) are refused as before, with their own sentence.
    ends = {
        n.identifier: n for n in Node.objects.filter(case=case, identifier__in=[source, target])
    }
    for identifier in (source, target):
        if identifier not in ends:
            raise NotFound(f"Case {case.pk} has no node {identifier!r}.")
    if Link.objects.filter(
        source=ends[source], target=ends[target], type=type, target_relation=target_relation
    ).exists():
        raise Conflict(f"{source} is already linked to {target} by {type}.")
    link = {"source": source, "target": target, "type": type, "target_relation": target_relation}
    refuse_structural_errors(case, extra_links=[link])
    return link_create_do(
        case=case, source=source, target=target, type=type, target_relation=target_relation
    )


def link_create_do(
    *, case: SafetyCase, source: str, target: str, type: str, target_relation: str = ""
) -> Link:
    validate_choice(type, LinkType, "link type")
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


@reassesses_case("link deleted")
def link_delete(*, actor, link: Link) -> None:
    require_permission(actor, "safetycase.edit_argument", link.case, "delete links")
    link.delete()


def bulk_create_nodes(case: SafetyCase, nodes: list[Node]) -> dict[str, Node]:
    """Insert nodes in bulk with their history rows; returns identifier → saved node."""
    created = bulk_create_with_history(nodes, Node)
    if any(node.pk is None for node in created):  # backends that do not return primary keys
        identifiers = {node.identifier for node in nodes}
        created = list(Node.objects.filter(case=case, identifier__in=identifiers))
    return {node.identifier: node for node in created}


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
    project=None,
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
        project=project,
    )
    for element in argument.elements:
        validate_identifier(element.identifier)
        validate_choice(element.type, NodeType, "node type")
    by_identifier = bulk_create_nodes(case, [facts.node_row(case, e) for e in argument.elements])
    links = []
    for relation in argument.relations:
        for end in (relation.source, relation.target):
            if end not in by_identifier:
                raise ApplicationError(f"{relation.source} refers to {end}, which does not exist.")
        validate_choice(relation.type, LinkType, "link type")
        links.append(facts.link_row(case, relation, by_identifier))
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
    project=None,
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
            project=project,
        )
    except IntegrityError as exc:  # e.g. a link listed twice, if the rules let it through
        raise ApplicationError(f"The argument cannot be stored: {exc}") from exc
    return case, argument, findings


COMBINATION_PATTERN = re.compile(r"^(all|any|at_least:([1-9]\d*))$")


def _validate_combination(value: str) -> None:
    if not isinstance(value, str) or not COMBINATION_PATTERN.match(value):
        raise ApplicationError(
            f"{value!r} is not a combination; use 'all', 'any' or 'at_least:<k>' with k ≥ 1."
        )


@reassesses_case("combination changed")
def node_set_combination(*, actor, node: Node, combination: str) -> Node:
    """How a goal or strategy combines its children: all, any or at_least:<k>."""
    require_permission(actor, "safetycase.edit_argument", node.case, "edit nodes")
    return _node_set_combination_do(node=node, combination=combination)


def _node_set_combination_do(*, node: Node, combination: str) -> Node:
    _validate_combination(combination)
    if combination != "all" and node.type not in (NodeType.GOAL, NodeType.STRATEGY):
        raise ApplicationError(
            f"{node.identifier} is {node.type}; only goals and strategies combine their children."
        )
    node.combination = combination
    node.save()
    return node
