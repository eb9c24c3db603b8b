"""Instantiation: a template plus parameter values → a plain argument with binding specs.

Pure and Django-free. The result (`Instance`) holds every node with the template node it came
from (R24: `template_ref` = "<template id>:<node id>[#<item index>]"), every link, and the
evidence bindings and assumption checks to create; it contains no unresolved {placeholders}
(R22) and one copy of each repeated part per item of its list (R23).

Rules, in the order they apply:
1. Unknown parameter names are refused; values are converted to their declared types; every
   required parameter without a value (also a required field of a list item) is reported in
   `InstantiationError.missing`.
2. A part is instantiated when its `when` condition holds, once per item of its `for_each` list.
   Copies of a repeated node are numbered `<id>.<k>` (k from 1).
3. A link between two nodes of the same repeated part joins the copies of the same item; a link
   from or to a repeated node joins every copy. A link to a node that was not instantiated is
   dropped.
4. Catalogue assumptions become one node each (identifier = catalogue id, e.g. A06), shared by
   every node that refers to them; those without checks get attributes.requires_attestation.
5. Included templates are instantiated with their own prefix and linked under their `under` node.
6. A goal or strategy left without support (its children were optional or repeated over an
   empty list) is marked undeveloped. `at_least: k` must not exceed the children it has.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from safetycase.core.criteria import (
    DOMAIN_FUNCTIONS,
    ROOT_RULE_VARIABLES,
    ExpressionError,
    compile_expression,
    evaluate,
)
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.core.library.types import (
    CATALOGUE_ID,
    PLACEHOLDER,
    Library,
    MissingField,
    Parameter,
    Template,
)
from safetycase.core.library.values import coerce_value, render_cel, render_data, render_text

SUPPORTED_BY = "supported_by"
IN_CONTEXT_OF = "in_context_of"


class InstantiationError(ValueError):
    """Parameter values a template cannot be instantiated with."""

    def __init__(
        self,
        message: str,
        *,
        missing: list[str] | None = None,
        unknown: list[str] | None = None,
        invalid: list[str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.missing = missing or []
        self.unknown = unknown or []
        self.invalid = invalid or []


@dataclass
class InstanceNode:
    identifier: str
    type: str
    statement: str
    template_ref: str
    undeveloped: bool = False
    combination: str = "all"
    catalogue_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class InstanceBinding:
    node: str
    kind: str
    expression: str
    selector: dict[str, Any] = field(default_factory=dict)
    freshness_days: int | None = None
    description: str = ""
    policy: str = ""
    policy_justification: str = ""


@dataclass
class Instance:
    template: str
    top: str
    nodes: list[InstanceNode]
    relations: list[Relation]
    bindings: list[InstanceBinding]
    values: dict[str, Any]

    def argument(self) -> Argument:
        return Argument(
            elements=[
                Element(
                    identifier=n.identifier,
                    type=n.type,
                    statement=n.statement,
                    undeveloped=n.undeveloped,
                    attributes=n.attributes,
                )
                for n in self.nodes
            ],
            relations=list(self.relations),
        )

    def node(self, identifier: str) -> InstanceNode:
        return next(n for n in self.nodes if n.identifier == identifier)


def instantiate(
    library: Library,
    template_id: str,
    values: Mapping[str, Any] | None = None,
    *,
    prefix: str | None = None,
) -> Instance:
    """Instantiate `template_id` with `values`; InstantiationError says what is wrong."""
    try:
        template = library.template(template_id)
    except KeyError as exc:
        raise InstantiationError(exc.args[0]) from None
    values = dict(values or {})
    known = {p.name for p in library.parameters(template_id)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InstantiationError(
            f"Template {template_id} has no parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}.",
            unknown=unknown,
        )
    with_braces = sorted(n for n, v in values.items() if _has_placeholder(v))
    if with_braces:
        raise InstantiationError(
            "Parameter values cannot contain {placeholders}; "
            + ", ".join(with_braces)
            + (" does." if len(with_braces) == 1 else " do."),
            invalid=with_braces,
        )
    plan = _plan(library, template, values, prefix)
    builder = _Builder(library)
    builder.add(plan)
    return builder.finish(plan)


# --------------------------------------------------------------------------------------------
# Phase 1: resolve parameter values for the template and every included template


@dataclass
class _Plan:
    template: Template
    values: dict[str, Any]
    prefix: str
    children: list[tuple[str, _Plan]]  # (under node id, plan)


def _plan(
    library: Library, template: Template, given: Mapping[str, Any], prefix: str | None
) -> _Plan:
    missing: list[str] = []
    invalid: list[str] = []
    plan = _resolve(library, template, dict(given), prefix, missing, invalid)
    if missing or invalid:
        parts = []
        if missing:
            parts.append(f"Template {template.id} needs values for: {', '.join(missing)}.")
        parts += invalid
        raise InstantiationError(" ".join(parts), missing=missing, invalid=invalid)
    return plan


def _resolve(
    library: Library,
    template: Template,
    given: dict[str, Any],
    prefix: str | None,
    missing: list[str],
    invalid: list[str],
) -> _Plan:
    values = _values(library.own_parameters(template), given, missing, invalid)
    plan = _Plan(
        template=template,
        values=values,
        prefix=template.prefix if prefix is None else prefix,
        children=[],
    )
    complete = not missing and not invalid
    for include in template.includes:
        if include.when is not None and not complete:
            # The condition needs values we do not have; the child's own needs are still
            # reported when the condition's parameters have defaults.
            try:
                active = _condition(include.when, template, values)
            except InstantiationError:
                continue
        else:
            active = include.when is None or _condition(include.when, template, values)
        if not active:
            continue
        child = library.templates[include.template]
        child_given = dict(given)
        for name, text in include.parameters.items():
            if name not in given:
                try:
                    child_given[name] = render_data(text, values)
                except KeyError:
                    continue
        plan.children.append(
            (include.under, _resolve(library, child, child_given, None, missing, invalid))
        )
    return plan


def _values(
    params: list[Parameter], given: Mapping[str, Any], missing: list[str], invalid: list[str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for p in params:
        if p.name in given:
            try:
                values[p.name] = coerce_value(p, given[p.name])
            except MissingField as exc:
                if exc.path not in missing:
                    missing.append(exc.path)
            except ValueError as exc:
                if str(exc) not in invalid:
                    invalid.append(str(exc))
        elif not p.required:
            values[p.name] = copy.deepcopy(p.default)
        elif p.name not in missing:
            missing.append(p.name)
    return values


def _condition(text: str, template: Template, values: Mapping[str, Any]) -> bool:
    try:
        result = evaluate(compile_expression(text, variables=values, functions=()), values)
    except ExpressionError as exc:
        raise InstantiationError(f"Template {template.id}: condition {text!r}: {exc}") from exc
    if not isinstance(result, bool):
        raise InstantiationError(
            f"Template {template.id}: condition {text!r} gave {result!r}, not true or false."
        )
    return result


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return bool(PLACEHOLDER.search(value))
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return False


# --------------------------------------------------------------------------------------------
# Phase 2: build nodes, links and bindings


class _Builder:
    def __init__(self, library: Library):
        self.library = library
        self.nodes: dict[str, InstanceNode] = {}
        self.relations: list[Relation] = []
        self._relation_keys: set[tuple[str, str, str]] = set()
        self.bindings: list[InstanceBinding] = []
        self.at_least: dict[str, int] = {}

    def add(self, plan: _Plan) -> str:
        """Add the plan's nodes; return the identifier of its top node."""
        template, values = plan.template, plan.values
        copies = self._copies(template, values)
        identifiers: dict[str, list[tuple[int | None, str]]] = {}

        for node in template.nodes.values():
            out = []
            for index, item in copies[node.id]:
                identifier = template.identifier(node.id, plan.prefix)
                ref = f"{template.id}:{node.id}"
                if index is not None:
                    identifier, ref = f"{identifier}.{index}", f"{ref}#{index}"
                if identifier in self.nodes:
                    raise InstantiationError(
                        f"Two templates would create the node {identifier}; instantiate "
                        "one of them with another prefix."
                    )
                combination = node.combination
                if combination.startswith("at_least:"):
                    k = combination.split(":", 1)[1]
                    k = int(render_text(k, values, item))
                    combination = f"at_least:{k}"
                    self.at_least[identifier] = k
                attributes = render_data(copy.deepcopy(node.attributes), values, item)
                if node.type == "assumption" and node.requires_attestation:
                    attributes["requires_attestation"] = True
                self.nodes[identifier] = InstanceNode(
                    identifier=identifier,
                    type=node.type,
                    statement=render_text(node.text, values, item),
                    template_ref=ref,
                    undeveloped=node.undeveloped,
                    combination=combination,
                    attributes=attributes,
                )
                for spec in node.bindings:
                    self._binding(identifier, spec, values, item)
                out.append((index, identifier))
            identifiers[node.id] = out

        for node in template.nodes.values():
            for kind, targets in (
                (SUPPORTED_BY, node.supported_by),
                (IN_CONTEXT_OF, node.in_context_of),
            ):
                for target in targets:
                    for s_index, source in identifiers[node.id]:
                        if target not in template.nodes:
                            self._relation(source, self._catalogue_node(target, values), kind)
                            continue
                        paired = _same_repeat(template, node.id, target)
                        for t_index, target_id in identifiers[target]:
                            if not paired or s_index == t_index:
                                self._relation(source, target_id, kind)

        # A refuting solution names the goal it refutes by its template id: the instance's.
        for node in template.nodes.values():
            refuted = node.attributes.get("refutes")
            if node.type != "solution" or refuted not in identifiers:
                continue
            paired = _same_repeat(template, node.id, refuted)
            for s_index, source in identifiers[node.id]:
                self.nodes[source].attributes["refutes"] = next(
                    target
                    for t_index, target in identifiers[refuted]
                    if not paired or s_index == t_index
                )

        top = identifiers[template.root][0][1]
        for under, child in plan.children:
            child_top = self.add(child)
            for _, parent in identifiers[under]:
                self._relation(parent, child_top, SUPPORTED_BY)

        if template.root_rules is not None:
            self.nodes[top].attributes["root_rules"] = self._root_rules(
                template, values, identifiers
            )
        return top

    def finish(self, plan: _Plan) -> Instance:
        supported = {r.source for r in self.relations if r.type == SUPPORTED_BY}
        children: dict[str, int] = {}
        for r in self.relations:
            if r.type == SUPPORTED_BY:
                children[r.source] = children.get(r.source, 0) + 1
        for node in self.nodes.values():
            if node.type in ("goal", "strategy") and node.identifier not in supported:
                node.undeveloped = True
        for identifier, k in self.at_least.items():
            have = children.get(identifier, 0)
            if have and k > have:
                raise InstantiationError(
                    f"{identifier} needs at least {k} of its children to hold but has only "
                    f"{have}; lower the parameter or include more of the argument."
                )
        leftovers = [
            n.identifier for n in self.nodes.values() if PLACEHOLDER.search(n.statement)
        ] + [b.node for b in self.bindings if PLACEHOLDER.search(b.expression)]
        if leftovers:  # cannot happen for a validated library; R22 says it must not
            raise InstantiationError(
                f"Unresolved parameters remain in {', '.join(sorted(set(leftovers)))} (R22)."
            )
        top = self.nodes[_top(plan)].identifier
        return Instance(
            template=plan.template.id,
            top=top,
            nodes=list(self.nodes.values()),
            relations=self.relations,
            bindings=self.bindings,
            values=_all_values(plan),
        )

    # helpers ---------------------------------------------------------------------------

    def _copies(
        self, template: Template, values: Mapping[str, Any]
    ) -> dict[str, list[tuple[int | None, dict[str, Any]]]]:
        active: dict[str, list[tuple[int | None, dict[str, Any]]]] = {}
        for part in template.parts.values():
            if part.when is not None and not _condition(part.when, template, values):
                active[part.id] = []
            elif part.repeats:
                active[part.id] = [
                    (index, {part.alias: item})
                    for index, item in enumerate(values[part.for_each], start=1)
                ]
            else:
                active[part.id] = [(None, {})]
        return {
            node.id: active[node.part] if node.part else [(None, {})]
            for node in template.nodes.values()
        }

    def _relation(self, source: str, target: str, kind: str) -> None:
        key = (source, target, kind)
        if key not in self._relation_keys:
            self._relation_keys.add(key)
            self.relations.append(Relation(source=source, target=target, type=kind))

    def _binding(self, node: str, spec, values: Mapping[str, Any], item: Mapping) -> None:
        expression = render_cel(spec.expression, values, item)
        try:
            compile_expression(expression)
        except ExpressionError as exc:
            raise InstantiationError(
                f"The {spec.kind} of {node} does not compile with these values: {exc}"
            ) from exc
        freshness = spec.freshness_days
        if isinstance(freshness, str):
            freshness = render_data(freshness, values, item)
        self.bindings.append(
            InstanceBinding(
                node=node,
                kind=spec.kind,
                expression=expression,
                selector=render_data(copy.deepcopy(spec.selector), values, item),
                freshness_days=freshness,
                description=render_text(spec.description, values, item),
                policy=spec.policy,
                policy_justification=render_text(spec.policy_justification, values, item),
            )
        )

    def _catalogue_node(self, catalogue_id: str, values: Mapping[str, Any]) -> str:
        if catalogue_id in self.nodes:
            return catalogue_id
        entry = self.library.catalogue[catalogue_id]
        defaults = {p.name: copy.deepcopy(p.default) for p in self.library.catalogue_parameters}
        merged = {**defaults, **values}
        self.nodes[catalogue_id] = InstanceNode(
            identifier=catalogue_id,
            type="assumption",
            statement=entry.statement,
            template_ref=f"{CATALOGUE_ID}:{catalogue_id}",
            catalogue_id=catalogue_id,
            attributes={"requires_attestation": True} if entry.requires_attestation else {},
        )
        for spec in entry.checks:
            self._binding(catalogue_id, spec, merged, {})
        return catalogue_id

    def _root_rules(
        self, template: Template, values: Mapping[str, Any], identifiers
    ) -> dict[str, Any]:
        rules = copy.deepcopy(template.root_rules or {})
        out: dict[str, Any] = {}
        for key, value in rules.items():
            if key == "rules":
                out[key] = [
                    {
                        **render_data({k: v for k, v in r.items() if k != "check"}, values),
                        "check": render_cel(r["check"], values),
                    }
                    for r in value
                ]
            elif key == "factors":
                out[key] = []
                for factor in value:
                    rendered = render_data(factor, values)
                    rendered["goal"] = identifiers[factor["goal"]][0][1]
                    out[key].append(rendered)
            else:
                out[key] = render_data(value, values)
        for rule in out.get("rules", []):
            try:
                compile_expression(
                    rule["check"],
                    variables=ROOT_RULE_VARIABLES,
                    functions=DOMAIN_FUNCTIONS,
                )
            except ExpressionError as exc:
                raise InstantiationError(f"Root rule {rule.get('code')}: {exc}") from exc
        return out


def _same_repeat(template: Template, source: str, target: str) -> bool:
    a, b = template.nodes[source].part, template.nodes[target].part
    return a is not None and a == b and template.parts[a].repeats


def _top(plan: _Plan) -> str:
    return plan.template.identifier(plan.template.root, plan.prefix)


def _all_values(plan: _Plan) -> dict[str, Any]:
    values = {}
    for _, child in plan.children:
        values.update(_all_values(child))
    values.update(plan.values)
    return values
