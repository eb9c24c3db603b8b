"""All writes to cases, nodes, links and memberships.

Public services take the acting user and check their permission first; the `_do` parts are for
callers that already hold authority (management commands, importers, later Celery tasks).
History is recorded by django-simple-history through save()/delete(), so no service uses
QuerySet.update() on these models.
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from evidence import projects as evidence_projects
from safetycase import assessment, projects, selectors
from safetycase.choices import BindingKind, LinkType, NodeType, Role
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.gsn.gsn2x import Gsn2xError, load_files
from safetycase.gsn.model import Argument, Severity
from safetycase.gsn.rules import check_argument
from safetycase.models import (
    ApiToken,
    Assessment,
    Attestation,
    EvidenceBinding,
    Link,
    Membership,
    Node,
    SafetyCase,
)

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _reassesses_case(edit: str):
    """Decorate a public editing service: when its transaction commits, the edited case is
    re-assessed (trigger `case_edited`), so statuses never lag behind the argument."""

    def decorate(service):
        @functools.wraps(service)
        def wrapper(*, actor, **kwargs):
            result = service(actor=actor, **kwargs)
            subject = kwargs.get("case") or next(
                kwargs[key] for key in ("node", "link", "binding") if key in kwargs
            )
            case_id = subject.pk if isinstance(subject, SafetyCase) else subject.case_id
            _enqueue_assessment(case_id, "case_edited", f"{edit} by {actor}")
            return result

        return wrapper

    return decorate


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


def membership_set(*, case: SafetyCase, user, role: str) -> Membership:
    """Give `user` this role in the case, without a permission check (fixtures, commands,
    case creation). Owners manage members through safetycase.memberships."""
    _validate_choice(role, Role, "role")
    membership = Membership.objects.filter(case=case, user=user).first()
    if membership is None:
        return Membership.objects.create(case=case, user=user, role=role)
    membership.role = role
    membership.save()
    return membership


@_reassesses_case("node added")
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


def _check_unchanged(obj, label: str, expected_updated_at) -> None:
    """Conflict when `obj` was saved after `expected_updated_at` (a datetime or ISO string)."""
    if expected_updated_at is None:
        return
    if isinstance(expected_updated_at, str):
        from django.utils.dateparse import parse_datetime

        expected = parse_datetime(expected_updated_at)
        if expected is None:
            raise ApplicationError(f"{expected_updated_at!r} is not a timestamp.")
    else:
        expected = expected_updated_at
    # Locked until the caller's transaction ends, so two saves cannot both pass this check.
    rows = type(obj).objects.select_for_update().filter(pk=obj.pk)
    current = rows.values_list("updated_at", flat=True).first()
    if current is None:
        raise NotFound(f"{label} no longer exists; someone deleted it.")
    if current != expected:
        raise Conflict(
            f"{label} was changed by someone else since you opened this form; "
            "reload to see their change.",
            extra={"updated_at": current.isoformat()},
        )


NODE_EDITABLE_FIELDS = ("identifier", "type", "statement", "undeveloped", "module", "attributes")


@_reassesses_case("node edited")
@transaction.atomic
def node_update(*, actor, node: Node, expected_updated_at=None, **changes: Any) -> Node:
    """Change fields of a node. With `expected_updated_at` (when the editor loaded the node),
    the change is refused with Conflict if the node was saved since: no silent overwrite."""
    _require(actor, "safetycase.edit_argument", node.case, "edit nodes")
    _check_unchanged(node, node.identifier, expected_updated_at)
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


@_reassesses_case("node deleted")
def node_delete(*, actor, node: Node) -> None:
    """Delete a node and every link to or from it."""
    _require(actor, "safetycase.edit_argument", node.case, "delete nodes")
    with transaction.atomic():
        for link in Link.objects.filter(case=node.case_id, source=node) | Link.objects.filter(
            case=node.case_id, target=node
        ):
            link.delete()
        node.delete()


@_reassesses_case("link added")
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


@_reassesses_case("link deleted")
def link_delete(*, actor, link: Link) -> None:
    _require(actor, "safetycase.edit_argument", link.case, "delete links")
    link.delete()


def _bulk_create_nodes(case: SafetyCase, nodes: list[Node]) -> dict[str, Node]:
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
        _validate_identifier(element.identifier)
        _validate_choice(element.type, NodeType, "node type")
    by_identifier = _bulk_create_nodes(
        case,
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
    )
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


# --------------------------------------------------------------------------------------------
# Combinations, evidence bindings and template instantiation


COMBINATION_PATTERN = re.compile(r"^(all|any|at_least:([1-9]\d*))$")


def _validate_combination(value: str) -> None:
    if not isinstance(value, str) or not COMBINATION_PATTERN.match(value):
        raise ApplicationError(
            f"{value!r} is not a combination; use 'all', 'any' or 'at_least:<k>' with k ≥ 1."
        )


@_reassesses_case("combination changed")
def node_set_combination(*, actor, node: Node, combination: str) -> Node:
    """How a goal or strategy combines its children: all, any or at_least:<k>."""
    _require(actor, "safetycase.edit_argument", node.case, "edit nodes")
    _validate_combination(combination)
    if combination != "all" and node.type not in (NodeType.GOAL, NodeType.STRATEGY):
        raise ApplicationError(
            f"{node.identifier} is {node.type}; only goals and strategies combine their children."
        )
    node.combination = combination
    node.save()
    return node


def _validate_binding(
    *, node: Node, kind: str, selector: Any, freshness_days: Any, expression: Any
) -> None:
    from safetycase.criteria import ExpressionError, compile_expression
    from safetycase.library import check_selector

    _validate_choice(kind, BindingKind, "binding kind")
    if kind == BindingKind.CRITERION and node.type != NodeType.SOLUTION:
        raise ApplicationError(
            f"{node.identifier} is {node.type}; acceptance criteria belong on solutions."
        )
    if kind == BindingKind.CHECK and node.type != NodeType.ASSUMPTION:
        raise ApplicationError(f"{node.identifier} is {node.type}; checks belong on assumptions.")
    problem = check_selector(selector)
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


def _default_binding_kind(node: Node) -> str:
    return BindingKind.CHECK if node.type == NodeType.ASSUMPTION else BindingKind.CRITERION


@_reassesses_case("evidence binding added")
def binding_create(
    *,
    actor,
    node: Node,
    expression: str,
    kind: str | None = None,
    selector: dict | None = None,
    freshness_days: int | None = None,
    description: str = "",
) -> EvidenceBinding:
    _require(actor, "safetycase.edit_argument", node.case, "bind evidence")
    return binding_create_do(
        node=node,
        expression=expression,
        kind=kind,
        selector=selector,
        freshness_days=freshness_days,
        description=description,
    )


def binding_create_do(
    *,
    node: Node,
    expression: str,
    kind: str | None = None,
    selector: dict | None = None,
    freshness_days: int | None = None,
    description: str = "",
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
    )
    binding = EvidenceBinding.objects.create(
        case_id=node.case_id,
        node=node,
        kind=kind,
        selector=selector,
        freshness_days=freshness_days,
        expression=expression,
        description=description,
    )
    if node.type == NodeType.ASSUMPTION and node.attributes.get("requires_attestation"):
        # A checked assumption is verified by data, not by a reviewer's attestation.
        node.attributes = {k: v for k, v in node.attributes.items() if k != "requires_attestation"}
        node.save()
    return binding


BINDING_EDITABLE_FIELDS = ("selector", "freshness_days", "expression", "description")


@_reassesses_case("evidence binding changed")
@transaction.atomic
def binding_update(
    *, actor, binding: EvidenceBinding, expected_updated_at=None, **changes: Any
) -> EvidenceBinding:
    """Change a binding; `expected_updated_at` refuses stale edits as node_update does."""
    _require(actor, "safetycase.edit_argument", binding.case, "change evidence bindings")
    _check_unchanged(binding, f"The {binding.kind} of {binding.node}", expected_updated_at)
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
    )
    for field, value in changes.items():
        setattr(binding, field, value)
    binding.save()
    return binding


@_reassesses_case("evidence binding deleted")
def binding_delete(*, actor, binding: EvidenceBinding) -> None:
    _require(actor, "safetycase.edit_argument", binding.case, "change evidence bindings")
    binding.delete()


@dataclass
class InstantiationResult:
    case: SafetyCase
    top: str
    created: list[str]
    reused: list[str]
    bindings: int


def _library(library=None):
    from safetycase.library import default_library

    return library if library is not None else default_library()


def _instance(library, template: str, values: dict[str, Any], prefix: str | None):
    from safetycase.library import InstantiationError, instantiate

    if template not in library.templates:
        raise ApplicationError(
            f"There is no template {template!r}; the library has "
            f"{', '.join(sorted(library.templates))}.",
            extra={"missing": [], "unknown": [], "invalid": []},
        )
    try:
        instance = instantiate(library, template, values, prefix=prefix)
    except InstantiationError as exc:
        raise ApplicationError(
            exc.message,
            extra={"missing": exc.missing, "unknown": exc.unknown, "invalid": exc.invalid},
        ) from exc
    errors = [f for f in check_argument(instance.argument()) if f.severity == Severity.ERROR]
    if errors:  # the library is validated with its examples; other values might still break it
        raise ApplicationError(
            f"Template {template} with these values breaks GSN rule {errors[0].rule}: "
            f"{errors[0].message}"
        )
    return instance


def _case_values(library, template: str, parameters: dict[str, Any], case_fields: dict) -> dict:
    """The parameters, with model / model_version / deployment taken from the case when the
    template has them and they were not given."""
    names = {p.name for p in library.parameters(template)} if template in library.templates else ()
    values = dict(parameters or {})
    for param, value in case_fields.items():
        if param in names and param not in values and value:
            values[param] = value
    return values


def _store_instance(
    *, case: SafetyCase, instance, reuse: dict[str, Node] | None = None
) -> dict[str, Node]:
    """Create the instance's nodes (except those in `reuse`), links and bindings in bulk.
    Returns identifier → node for every node of the instance."""
    reuse = reuse or {}
    for node in instance.nodes:
        _validate_identifier(node.identifier)
    by_identifier = dict(reuse)
    by_identifier.update(
        _bulk_create_nodes(
            case,
            [
                Node(
                    case=case,
                    identifier=n.identifier,
                    type=n.type,
                    statement=n.statement,
                    undeveloped=n.undeveloped,
                    attributes=n.attributes,
                    template_ref=n.template_ref,
                    combination=n.combination,
                    catalogue_id=n.catalogue_id,
                )
                for n in instance.nodes
                if n.identifier not in reuse
            ],
        )
    )
    bulk_create_with_history(
        [
            Link(
                case=case,
                source=by_identifier[r.source],
                target=by_identifier[r.target],
                type=r.type,
            )
            for r in instance.relations
        ],
        Link,
    )
    bulk_create_with_history(
        [
            EvidenceBinding(
                case=case,
                node=by_identifier[b.node],
                kind=b.kind,
                selector=b.selector,
                freshness_days=b.freshness_days,
                expression=b.expression,
                description=b.description,
            )
            for b in instance.bindings
            if b.node not in reuse
        ],
        EvidenceBinding,
    )
    return by_identifier


@transaction.atomic
def case_instantiate_template(
    *,
    name: str,
    template: str,
    parameters: dict[str, Any] | None = None,
    model_name: str = "",
    model_version: str = "",
    deployment: str = "",
    description: str = "",
    owner=None,
    library=None,
    project=None,
) -> SafetyCase:
    """Create case `name` from a template of the library. The case's model name, version and
    deployment fill the template parameters `model`, `model_version` and `deployment` when
    those are not given, and the other way round. Missing, unknown or invalid parameters raise
    ApplicationError with `missing` / `unknown` / `invalid` lists."""
    library = _library(library)
    fields = {"model": model_name, "model_version": model_version, "deployment": deployment}
    values = _case_values(library, template, parameters or {}, fields)
    instance = _instance(library, template, values, None)
    case = case_create(
        name=name,
        model_name=model_name or str(instance.values.get("model", "")),
        model_version=model_version or str(instance.values.get("model_version", "")),
        deployment=deployment or str(instance.values.get("deployment", "")),
        description=description,
        owner=owner,
        project=project,
    )
    _store_instance(case=case, instance=instance)
    return case


@_reassesses_case("template instantiated")
def template_instantiate_into(
    *,
    actor,
    case: SafetyCase,
    template: str,
    parameters: dict[str, Any] | None = None,
    under: str,
    prefix: str | None = None,
    library=None,
) -> InstantiationResult:
    _require(actor, "safetycase.edit_argument", case, "instantiate templates")
    return template_instantiate_into_do(
        case=case,
        template=template,
        parameters=parameters,
        under=under,
        prefix=prefix,
        library=library,
    )


@transaction.atomic
def template_instantiate_into_do(
    *,
    case: SafetyCase,
    template: str,
    parameters: dict[str, Any] | None = None,
    under: str,
    prefix: str | None = None,
    library=None,
) -> InstantiationResult:
    """Instantiate a template inside an existing case and link its top goal under the goal (or
    strategy) `under`. Identifiers carry the template's prefix (SI-G1), or `prefix`; catalogue
    assumptions already in the case (A06, …) are reused, not created again."""
    library = _library(library)
    parent = Node.objects.select_for_update().filter(case=case, identifier=under).first()
    if parent is None:
        raise NotFound(f"Case {case.pk} has no node {under!r}.")
    if parent.type not in (NodeType.GOAL, NodeType.STRATEGY):
        raise ApplicationError(
            f"{under} is {parent.type}; a template can only be attached under a goal or a strategy."
        )
    if prefix is None and template in library.templates:
        prefix = library.templates[template].prefix or template
    if prefix is not None and prefix != "":
        _validate_identifier(prefix)
    fields = {
        "model": case.model_name,
        "model_version": case.model_version,
        "deployment": case.deployment,
    }
    values = _case_values(library, template, parameters or {}, fields)
    instance = _instance(library, template, values, prefix)

    identifiers = [n.identifier for n in instance.nodes]
    existing = {n.identifier: n for n in Node.objects.filter(case=case, identifier__in=identifiers)}
    catalogue_ids = {n.catalogue_id for n in instance.nodes if n.catalogue_id}
    by_catalogue = {
        n.catalogue_id: n for n in Node.objects.filter(case=case, catalogue_id__in=catalogue_ids)
    }
    reuse: dict[str, Node] = {}
    clashes = []
    for node in instance.nodes:
        if node.catalogue_id and node.catalogue_id in by_catalogue:
            reuse[node.identifier] = by_catalogue[node.catalogue_id]
        elif node.identifier in existing:
            clashes.append(node.identifier)
    if clashes:
        raise Conflict(
            f"Case {case.pk} already has node{'s' if len(clashes) > 1 else ''} "
            f"{', '.join(sorted(clashes))}; instantiate with another prefix.",
            extra={"clashes": sorted(clashes)},
        )
    by_identifier = _store_instance(case=case, instance=instance, reuse=reuse)
    top = by_identifier[instance.top]
    if parent.undeveloped:  # it is being developed now (GSN R14)
        parent.undeveloped = False
        parent.save()
    if not Link.objects.filter(source=parent, target=top, type=LinkType.SUPPORTED_BY).exists():
        Link.objects.create(case=case, source=parent, target=top, type=LinkType.SUPPORTED_BY)
    return InstantiationResult(
        case=case,
        top=top.identifier,
        created=[n.identifier for n in instance.nodes if n.identifier not in reuse],
        reused=sorted(node.identifier for node in reuse.values()),
        bindings=sum(1 for b in instance.bindings if b.node not in reuse),
    )


# ---------------------------------------------------------------------------------------------
# Assessment: load the case's facts, run the pure assessment, store it with its diff.


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
    cache: assessment.AssessmentCache


ASSESSMENT_CACHE_CASES = 16
_CASE_MEMOS: OrderedDict[int, _CaseMemo] = OrderedDict()
_CASE_MEMOS_LOCK = threading.Lock()


def _case_facts(case: SafetyCase) -> tuple[dict[str, Any], assessment.AssessmentCache]:
    fingerprint = selectors.argument_fingerprint(case=case)
    with _CASE_MEMOS_LOCK:
        memo = _CASE_MEMOS.pop(case.pk, None)
    if memo is None or memo.fingerprint != fingerprint:
        started = timezone.now()
        facts = selectors.case_assessment_facts(case=case)
        memo = _CaseMemo(
            fingerprint=fingerprint,
            facts=facts,
            runs={run.id: run for run in facts["runs"]},
            # Runs ingested while we loaded are read again next time, never missed.
            runs_seen_until=started - timedelta(seconds=5),
            cache=memo.cache if memo else assessment.AssessmentCache(),
        )
    else:
        started = timezone.now()
        tasks = selectors.bound_tasks(memo.facts["bindings"])
        fresh = selectors.candidate_runs(
            tasks=tasks, ingested_after=memo.runs_seen_until, project_id=case.project_id
        )
        for run in selectors.run_facts(runs=fresh):
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
    facts, cache = _case_facts(case)
    result = assessment.assess(now=now, cache=cache, **facts)
    flags = [flag_as_dict(flag) for flag in result.flags]
    # Only what the change list compares: a large case's reasons are most of the stored JSON.
    previous = (
        Assessment.objects.filter(case=case)
        .only("id", "statuses", "flags")
        .order_by("-created_at", "-id")
        .first()
    )
    top = selectors.top_goal_identifier(nodes=facts["nodes"], relations=facts["relations"])
    return Assessment.objects.create(
        case=case,
        trigger=trigger,
        trigger_detail=detail[:300],
        overall_status=result.statuses.get(top, "") if top else "",
        statuses=dict(result.statuses),
        reasons=dict(result.reasons),
        flags=flags,
        summary=assessment_summary(result.statuses, flags),
        changes=assessment_changes(previous, dict(result.statuses), flags),
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


def assessment_summary(statuses: dict[str, str], flags: list[dict]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for status in statuses.values():
        by_status[status] = by_status.get(status, 0) + 1
    by_severity: dict[str, int] = {}
    for flag in flags:
        by_severity[flag["severity"]] = by_severity.get(flag["severity"], 0) + 1
    return {"statuses": by_status, "flags": by_severity, "flag_count": len(flags)}


def _flag_key(flag: dict) -> tuple:
    return (flag["type"], flag["node"] or "", flag["run"] or 0, flag["rule"])


def assessment_changes(
    previous: Assessment | None, statuses: dict[str, str], flags: list[dict]
) -> dict[str, Any]:
    """Which nodes changed status and which flags appeared or cleared since `previous`."""
    before_statuses = previous.statuses if previous else {}
    before_flags = {_flag_key(f): f for f in (previous.flags if previous else [])}
    after_flags = {_flag_key(f): f for f in flags}
    return {
        "nodes": [
            {"identifier": identifier, "before": before_statuses.get(identifier), "after": after}
            for identifier, after in sorted(statuses.items())
            if before_statuses.get(identifier) != after
        ]
        + [
            {"identifier": identifier, "before": before, "after": None}
            for identifier, before in sorted(before_statuses.items())
            if identifier not in statuses
        ],
        "flags_added": [after_flags[k] for k in sorted(after_flags) if k not in before_flags],
        "flags_cleared": [before_flags[k] for k in sorted(before_flags) if k not in after_flags],
    }


def cases_bound_to_run(*, run) -> list[int]:
    """Ids of the cases with a binding that selects this run (harnesses never name nodes)."""
    run_facts = selectors.run_facts(runs=[run])[0]
    case_ids = set()
    # A selector names one task or a list of them; the text match narrows, binding_matches decides.
    # Only cases of the run's project and of projects it is shared with.
    bindings = EvidenceBinding.objects.filter(
        Q(selector__task=run.task) | Q(selector__task__icontains=run.task),
        case__project_id__in=evidence_projects.projects_using_run(run=run),
    ).select_related("case")
    for binding in bindings:
        if assessment.binding_matches(
            binding.selector, run_facts, selectors.case_facts(binding.case)
        ):
            case_ids.add(binding.case_id)
    return sorted(case_ids)


def attestation_create(
    *, actor, node: Node, statement: str, scope: str = "", expires_at=None
) -> Attestation:
    """A reviewer attests that an assumption holds; the case is re-assessed on commit."""
    if not actor.has_perm("safetycase.review_case", node.case):
        raise PermissionDenied(f"Only reviewers of case {node.case_id} may attest assumptions.")
    if node.type != NodeType.ASSUMPTION:
        raise ApplicationError(
            f"{node.identifier} is a {node.type}; only assumptions are attested."
        )
    if not statement.strip():
        raise ApplicationError("An attestation needs a statement saying why the assumption holds.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("The expiry date of an attestation must be in the future.")
    attestation = Attestation.objects.create(
        case=node.case,
        node=node,
        attested_by=actor,
        statement=statement,
        scope=scope,
        expires_at=expires_at,
    )
    _enqueue_assessment(node.case_id, "attestation", f"{node.identifier} attested by {actor}")
    return attestation


def _enqueue_assessment(case_id: int, trigger: str, detail: str) -> None:
    from safetycase.tasks import assess_case

    transaction.on_commit(lambda: assess_case.delay(case_id, trigger, detail))


# ---------------------------------------------------------------------------------------------
# API tokens


def token_create(*, user, scopes: list[str], name: str = "", project=None) -> tuple[ApiToken, str]:
    """A new API key for `user` in `project` (a Project, a project name, or None for the
    user's only project; see safetycase.projects.project_for_token). Returns the token and
    the key; the key is not stored (only its sha256), so this is the only time anyone sees it."""
    from safetycase.api.authentication import key_digest

    project = projects.project_for_token(user=user, project=project)

    unknown = sorted(set(scopes) - set(ApiToken.SCOPES))
    if unknown or not scopes:
        raise ApplicationError(
            f"Token scopes must be some of {', '.join(ApiToken.SCOPES)}; got {', '.join(scopes)}."
        )
    key = "sct_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        project=project,
        name=name,
        key_sha256=key_digest(key),
        prefix=key[:12],
        scopes=sorted(set(scopes)),
    )
    return token, key


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save()
    return token
