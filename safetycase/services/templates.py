"""Cases and sub-arguments instantiated from the template library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from simple_history.utils import bulk_create_with_history

from safetycase import facts
from safetycase.choices import LinkType, NodeType
from safetycase.core.gsn.model import Severity
from safetycase.core.gsn.rules import check_argument
from safetycase.errors import ApplicationError, Conflict, NotFound
from safetycase.models import EvidenceBinding, Link, Node, SafetyCase
from safetycase.services.arguments import bulk_create_nodes, case_create
from safetycase.services.checks import require_permission, validate_identifier
from safetycase.services.queue import reassesses_case


@dataclass
class InstantiationResult:
    case: SafetyCase
    top: str
    created: list[str]
    reused: list[str]
    bindings: int


def _library(library=None):
    from safetycase.core.library import default_library

    return library if library is not None else default_library()


def _instance(library, template: str, values: dict[str, Any], prefix: str | None):
    from safetycase.core.library import InstantiationError, instantiate

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
        validate_identifier(node.identifier)
    by_identifier = dict(reuse)
    by_identifier.update(
        bulk_create_nodes(
            case,
            [facts.node_row(case, n) for n in instance.nodes if n.identifier not in reuse],
        )
    )
    bulk_create_with_history(
        [facts.link_row(case, r, by_identifier) for r in instance.relations], Link
    )
    bulk_create_with_history(
        [
            facts.binding_row(case, b, by_identifier[b.node])
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


@reassesses_case("template instantiated")
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
    require_permission(actor, "safetycase.edit_argument", case, "instantiate templates")
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
        validate_identifier(prefix)
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
