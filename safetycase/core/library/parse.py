"""Validation of the parsed YAML of the library's files: sources, the assumption catalogue and
templates. Every problem is collected with its place ("harm_inability.yaml: node G3: ...")."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from safetycase.core.assessment.facts import POLICIES, POLICY_LATEST, POLICY_POOLED
from safetycase.core.assessment.paired import PAIRED_SELECTOR_KEY, PAIRED_SELECTOR_KEYS
from safetycase.core.criteria import (
    DOMAIN_FUNCTIONS,
    ROOT_RULE_VARIABLES,
    ExpressionError,
    compile_expression,
)
from safetycase.core.library.types import (
    CATALOGUE_FILE,
    CATALOGUE_ID,
    CATALOGUE_REF,
    COMBINATION,
    IDENTIFIER,
    MISSING,
    NAME,
    NODE_TYPES,
    PARAMETER_TYPES,
    PLACEHOLDER,
    SELECTOR_KEYS,
    SOURCES_FILE,
    BindingSpec,
    CatalogueAssumption,
    Include,
    Parameter,
    Part,
    Source,
    SourceRef,
    Template,
    TemplateNode,
    binding_placeholders,
    kind_of,
    placeholders,
    strings_in,
)
from safetycase.core.library.values import coerce_value, render_cel, sample_value

# --------------------------------------------------------------------------------------------
# Small validation helpers


class _Where:
    """Collects problems prefixed with the file and place."""

    def __init__(self, problems: list[str], prefix: str):
        self.problems = problems
        self.prefix = prefix

    def at(self, place: str) -> _Where:
        return _Where(self.problems, f"{self.prefix}: {place}" if place else self.prefix)

    def add(self, message: str) -> None:
        self.problems.append(f"{self.prefix}: {message}")


def _mapping(value: Any, where: _Where, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        where.add(f"{what} must be a mapping, not {kind_of(value)}.")
        return {}
    return value


def _list(value: Any, where: _Where, what: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        where.add(f"{what} must be a list, not {kind_of(value)}.")
        return []
    return value


def _keys(data: dict, allowed: Iterable[str], where: _Where, what: str) -> None:
    unknown = [k for k in data if k not in allowed]
    if unknown:
        where.add(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
            f"{what}; expected {', '.join(allowed)}."
        )


def _text(value: Any, where: _Where, what: str, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            where.add(f"{what} is missing.")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        where.add(f"{what} must be text, not {kind_of(value)}.")
        return ""
    return str(value).strip()


# --------------------------------------------------------------------------------------------
# Sources and parameters


def parse_sources(data: Any, filename: str, problems: list[str]) -> dict[str, Source]:
    where = _Where(problems, filename)
    data = _mapping(data, where, "the file")
    _keys(data, ("sources",), where, "the file")
    out: dict[str, Source] = {}
    for key, entry in _mapping(data.get("sources"), where, "sources").items():
        w = where.at(f"source {key}")
        entry = _mapping(entry, w, "a source")
        _keys(entry, ("title", "authors", "year", "url"), w, "a source")
        year = entry.get("year")
        if year is not None and not isinstance(year, int):
            w.add("year must be a number.")
            year = None
        out[str(key)] = Source(
            key=str(key),
            title=_text(entry.get("title"), w, "title"),
            authors=_text(entry.get("authors"), w, "authors", required=False),
            year=year,
            url=_text(entry.get("url"), w, "url", required=False),
        )
    return out


def _parse_source_refs(value: Any, sources: dict[str, Source], where: _Where) -> list[SourceRef]:
    refs = []
    for item in _list(value, where, "sources"):
        if isinstance(item, dict):
            _keys(item, ("key", "where"), where, "a source reference")
            key = str(item.get("key", ""))
            ref = SourceRef(key=key, where=str(item.get("where") or ""))
        else:
            ref = SourceRef(key=str(item))
        if ref.key not in sources:
            where.add(f"unknown source {ref.key!r}; sources are listed in {SOURCES_FILE}.")
            continue
        refs.append(ref)
    return refs


def _parse_parameters(
    value: Any, where: _Where, declared_by: str, *, nested: bool = False
) -> list[Parameter]:
    out: list[Parameter] = []
    names: set[str] = set()
    for raw in _list(value, where, "parameters"):
        if not isinstance(raw, dict):
            where.add(f"a parameter must be a mapping, not {kind_of(raw)}.")
            continue
        name = str(raw.get("name", ""))
        w = where.at(f"parameter {name or '?'}")
        _keys(
            raw,
            (
                "name",
                "type",
                "description",
                "default",
                "choices",
                "fields",
                "min_items",
                "max_items",
            ),
            w,
            "a parameter",
        )
        if not NAME.match(name):
            w.add("the name must be lower case letters, digits and '_', starting with a letter.")
            continue
        if name in names:
            w.add("is declared twice.")
            continue
        names.add(name)
        type_ = raw.get("type", "string")
        if type_ not in PARAMETER_TYPES:
            w.add(f"unknown type {type_!r}; expected one of {', '.join(PARAMETER_TYPES)}.")
            continue
        if nested and type_ == "list":
            w.add("a field of a list item cannot itself be a list.")
            continue
        choices = tuple(str(c) for c in _list(raw.get("choices"), w, "choices"))
        if type_ == "choice" and not choices:
            w.add("a choice parameter needs choices.")
        fields = ()
        if type_ == "list" and raw.get("fields") is not None:
            fields = tuple(_parse_parameters(raw.get("fields"), w, declared_by, nested=True))
        elif raw.get("fields") is not None:
            w.add("only list parameters have fields.")
        min_items, max_items = raw.get("min_items", 0), raw.get("max_items")
        if type_ != "list" and ("min_items" in raw or "max_items" in raw):
            w.add("only list parameters have min_items / max_items.")
        if not isinstance(min_items, int) or min_items < 0:
            w.add("min_items must be a whole number ≥ 0.")
            min_items = 0
        if max_items is not None and (not isinstance(max_items, int) or max_items < min_items):
            w.add("max_items must be a whole number ≥ min_items.")
            max_items = None
        param = Parameter(
            name=name,
            type=type_,
            description=_text(raw.get("description"), w, "description", required=False),
            choices=choices,
            fields=fields,
            min_items=min_items,
            max_items=max_items,
            declared_by=declared_by,
        )
        if "default" in raw:
            try:
                default = coerce_value(param, raw["default"])
            except ValueError as exc:
                w.add(f"default: {exc}")
                default = MISSING
            param = Parameter(**{**param.__dict__, "default": default})
        out.append(param)
    return out


# --------------------------------------------------------------------------------------------
# Bindings


def check_selector(selector: Any, kind: str = "") -> str | None:
    """A sentence saying what is wrong with an evidence selector, or None when it is fine
    (`kind`, "criterion" or "check", is kept for rules that differ by kind)."""
    if not isinstance(selector, dict):
        return f"The selector must be a mapping, not {kind_of(selector)}."
    unknown = [k for k in selector if k not in SELECTOR_KEYS]
    if unknown:
        return (
            f"The selector has unknown key {unknown[0]!r}; selector keys are "
            f"{', '.join(SELECTOR_KEYS)}."
        )
    conditions = selector.get("conditions", {})
    if not isinstance(conditions, dict):
        return "The selector's conditions must be a mapping of run metadata keys to values."
    for key in ("task", "model", "scorer", "metric"):
        if key in selector and not isinstance(selector[key], str):
            return f"The selector's {key} must be text."
    if "task_version" in selector and not isinstance(selector["task_version"], str | int):
        return "The selector's task_version must be text or a number."
    if "paired_with" in selector:
        return _check_paired_selector(selector["paired_with"], kind)
    return None


def _check_paired_selector(paired: Any, kind: str) -> str | None:
    if not isinstance(paired, dict) or not paired:
        return (
            "The selector's paired_with must be a mapping that selects the run of the other "
            f"condition (keys {', '.join(PAIRED_SELECTOR_KEYS)}), not {kind_of(paired)}."
        )
    unknown = [k for k in paired if k not in PAIRED_SELECTOR_KEYS]
    if unknown:
        return (
            f"The selector's paired_with has unknown key {unknown[0]!r}; its keys are "
            f"{', '.join(PAIRED_SELECTOR_KEYS)} (the model is the check's own)."
        )
    problem = check_selector(paired)
    if problem:
        return problem.replace("The selector's", "The selector's paired_with", 1)
    return None


def _parse_bindings(
    value: Any, kind: str, where: _Where, what: str, expression_key: str
) -> list[BindingSpec]:
    out = []
    for index, raw in enumerate(_list(value, where, what), start=1):
        w = where.at(f"{what} {index}")
        if not isinstance(raw, dict):
            w.add(f"must be a mapping, not {kind_of(raw)}.")
            continue
        allowed = ("description", "selector", "freshness_days", expression_key)
        if kind == "criterion":
            allowed += ("policy", "policy_justification")
        _keys(raw, allowed, w, what)
        policy, justification = _policy(raw, selector=raw.get("selector") or {}, where=w)
        selector = raw.get("selector") or {}
        problem = check_selector(selector, kind)
        if problem:
            w.add(problem)
            selector = {}
        freshness = raw.get("freshness_days")
        if freshness is not None and not (
            (isinstance(freshness, int) and not isinstance(freshness, bool) and freshness > 0)
            or (isinstance(freshness, str) and PLACEHOLDER.fullmatch(freshness.strip()))
        ):
            w.add("freshness_days must be a positive whole number or a {parameter}.")
            freshness = None
        expression = raw.get(expression_key)
        if not isinstance(expression, str) or not expression.strip():
            w.add(f"the {expression_key} (a CEL expression) is missing.")
            continue
        out.append(
            BindingSpec(
                kind=kind,
                expression=expression.strip(),
                selector=selector,
                freshness_days=freshness.strip() if isinstance(freshness, str) else freshness,
                description=_text(raw.get("description"), w, "description", required=False),
                policy=policy,
                policy_justification=justification,
            )
        )
    return out


def _policy(raw: dict, *, selector: Any, where: _Where) -> tuple[str, str]:
    """A criterion's evidence policy and its justification, as the binding services accept
    them: one of POLICIES, `latest` only with a reason, `pooled` never on paired runs."""
    policy = raw.get("policy")
    justification = raw.get("policy_justification") or ""
    if policy is None:
        if justification:
            where.add("policy_justification is given without a policy.")
        return "", ""
    if policy not in POLICIES:
        where.add(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}.")
        return "", ""
    if not isinstance(justification, str):
        where.add("policy_justification must be text.")
        return "", ""
    if policy == POLICY_LATEST and not justification.strip():
        where.add(
            "policy latest lets the newest run decide, so it needs a policy_justification "
            "saying why earlier runs no longer count."
        )
    if policy == POLICY_POOLED and isinstance(selector, dict) and PAIRED_SELECTOR_KEY in selector:
        where.add("policy pooled cannot pool paired runs: a pool has no samples to pair.")
    return policy, justification.strip()


def _check_binding_expressions(
    bindings: Iterable[BindingSpec],
    params: Mapping[str, Parameter],
    where: _Where,
    *,
    alias: str | None = None,
    alias_param: Parameter | None = None,
) -> None:
    """Placeholders must be declared; the expression, with sample values, must compile."""
    for index, binding in enumerate(bindings, start=1):
        w = where.at(f"{'criterion' if binding.kind == 'criterion' else 'check'} {index}")
        texts = [binding.description, *strings_in(binding.selector)]
        if isinstance(binding.freshness_days, str):
            texts.append(binding.freshness_days)
            name, _ = placeholders(binding.freshness_days)[0]
            p = params.get(name)
            if p is not None and p.type != "integer":
                w.add(f"freshness_days refers to {{{name}}}, which is not an integer parameter.")
        ok = True
        for text in [*texts, binding.expression]:
            ok &= _check_placeholders(text, params, w, alias=alias, alias_param=alias_param)
        if not ok:
            continue
        sample = render_cel(
            binding.expression,
            {name: sample_value(p) for name, p in params.items()},
            _sample_item(alias, alias_param),
        )
        try:
            compile_expression(sample)
        except ExpressionError as exc:
            w.add(f"{binding.expression!r} does not compile: {exc}")


def _sample_item(alias: str | None, alias_param: Parameter | None) -> dict[str, Any]:
    if not alias or alias_param is None:
        return {}
    return {alias: sample_value(alias_param)[0]}


def _check_placeholders(
    text: str,
    params: Mapping[str, Parameter],
    where: _Where,
    *,
    alias: str | None = None,
    alias_param: Parameter | None = None,
) -> bool:
    ok = True
    for name, attribute in placeholders(text):
        shown = "{" + name + (f".{attribute}" if attribute else "") + "}"
        if alias and name == alias and alias_param is not None:
            fields = {f.name for f in alias_param.fields}
            if fields and attribute not in fields:
                where.add(
                    f"{shown}: an item of {alias_param.name} has the fields "
                    f"{', '.join(sorted(fields))}; write {{{alias}.<field>}}."
                )
                ok = False
            elif not fields and attribute:
                where.add(
                    f"{shown}: an item of {alias_param.name} is plain text; write {{{alias}}}."
                )
                ok = False
            continue
        if name not in params:
            where.add(f"unknown parameter {shown} in the text.")
            ok = False
        elif attribute:
            where.add(f"{shown}: only the item of a repeated part has fields.")
            ok = False
    return ok


# --------------------------------------------------------------------------------------------
# The catalogue


def parse_catalogue(
    data: Any, sources: dict[str, Source], problems: list[str]
) -> tuple[dict[str, CatalogueAssumption], tuple[Parameter, ...], dict[str, str]]:
    where = _Where(problems, CATALOGUE_FILE)
    data = _mapping(data, where, "the file")
    _keys(data, ("id", "title", "summary", "parameters", "assumptions"), where, "the catalogue")
    if data.get("id", CATALOGUE_ID) != CATALOGUE_ID:
        where.add(f"the catalogue's id must be {CATALOGUE_ID!r}.")
    params = _parse_parameters(data.get("parameters"), where, CATALOGUE_ID)
    for p in params:
        if p.required:
            where.at(f"parameter {p.name}").add(
                "catalogue parameters need a default, since any template may use them."
            )
    by_name = {p.name: p for p in params}
    out: dict[str, CatalogueAssumption] = {}
    for key, raw in _mapping(data.get("assumptions"), where, "assumptions").items():
        key = str(key)
        w = where.at(f"assumption {key}")
        if not CATALOGUE_REF.match(key):
            w.add("catalogue ids are 'A' followed by digits (A01, A02, …).")
            continue
        raw = _mapping(raw, w, "an assumption")
        _keys(
            raw,
            (
                "statement",
                "used_by",
                "sources",
                "fails_when",
                "checks",
                "requires_attestation",
                "attestation",
            ),
            w,
            "an assumption",
        )
        statement = _text(raw.get("statement"), w, "statement")
        if placeholders(statement):
            w.add("a catalogue statement cannot have {parameters}; put them in the checks.")
        checks = _parse_bindings(raw.get("checks"), "check", w, "check", "check")
        attest = raw.get("requires_attestation", False)
        if checks and attest:
            w.add(
                "has both checks and requires_attestation; an assumption with checks is "
                "verified by them, one without needs a reviewer's attestation."
            )
        if not checks and attest is not True:
            w.add("has no checks; mark it requires_attestation: true.")
        _check_binding_expressions(checks, by_name, w)
        out[key] = CatalogueAssumption(
            id=key,
            statement=statement,
            used_by=tuple(str(u) for u in _list(raw.get("used_by"), w, "used_by")),
            sources=tuple(_parse_source_refs(raw.get("sources"), sources, w)),
            fails_when=_text(raw.get("fails_when"), w, "fails_when", required=False),
            checks=tuple(checks),
            attestation=_text(raw.get("attestation"), w, "attestation", required=False),
        )
    meta = {
        "title": _text(data.get("title"), where, "title", required=False),
        "summary": _text(data.get("summary"), where, "summary", required=False),
    }
    return out, tuple(params), meta


# --------------------------------------------------------------------------------------------
# Templates

_TEMPLATE_KEYS = (
    "id",
    "title",
    "version",
    "prefix",
    "summary",
    "guidance",
    "sources",
    "parameters",
    "parts",
    "nodes",
    "includes",
    "root_rules",
    "example",
)
_NODE_KEYS = (
    "type",
    "text",
    "part",
    "supported_by",
    "in_context_of",
    "combination",
    "undeveloped",
    "evidence",
    "checks",
    "requires_attestation",
    "attributes",
    "refutes",
)


def parse_template(
    data: Any,
    filename: str,
    sources: dict[str, Source],
    catalogue: dict[str, CatalogueAssumption],
    catalogue_params: tuple[Parameter, ...],
    problems: list[str],
) -> Template | None:
    where = _Where(problems, filename)
    if not isinstance(data, dict):
        where.add(f"a template file must be a mapping, not {kind_of(data)}.")
        return None
    before = len(problems)
    _keys(data, _TEMPLATE_KEYS, where, "a template")
    template_id = str(data.get("id", ""))
    if not re.match(r"^[A-Z][A-Z0-9_]*$", template_id):
        where.add(
            "id must be upper-case letters, digits and '_' (e.g. SI), starting with a letter."
        )
        return None
    prefix = str(data.get("prefix", template_id) or "")
    if prefix and not IDENTIFIER.match(prefix):
        where.add(f"prefix {prefix!r} cannot start node identifiers.")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        where.add("version must be a whole number.")
        version = 1
    params = _parse_parameters(data.get("parameters"), where, template_id)
    param_map = {p.name: p for p in params}

    # parts
    parts: dict[str, Part] = {}
    for part_id, raw in _mapping(data.get("parts"), where, "parts").items():
        w = where.at(f"part {part_id}")
        raw = _mapping(raw, w, "a part")
        _keys(raw, ("for_each", "as", "when", "description"), w, "a part")
        for_each, alias, when = raw.get("for_each"), raw.get("as"), raw.get("when")
        if for_each is None and when is None:
            w.add("a part needs for_each (multiplicity), when (optional) or both.")
        if for_each is not None:
            p = param_map.get(str(for_each))
            if p is None or p.type != "list":
                w.add(f"for_each must name a list parameter; {for_each!r} is not one.")
            if not alias or not NAME.match(str(alias)):
                w.add("a repeated part needs `as`: the name its item takes in the text.")
            elif str(alias) in param_map:
                w.add(f"`as: {alias}` hides the parameter of the same name.")
        elif alias is not None:
            w.add("only a repeated part (for_each) has `as`.")
        if when is not None:
            _check_condition(str(when), param_map, w)
        parts[str(part_id)] = Part(
            id=str(part_id),
            for_each=str(for_each) if for_each is not None else None,
            alias=str(alias) if alias else None,
            when=str(when) if when is not None else None,
            description=_text(raw.get("description"), w, "description", required=False),
        )

    # nodes
    raw_nodes = _mapping(data.get("nodes"), where, "nodes")
    if not raw_nodes:
        where.add("a template needs nodes.")
    own_refs = []
    nodes: dict[str, TemplateNode] = {}
    for node_id, raw in raw_nodes.items():
        node_id = str(node_id)
        w = where.at(f"node {node_id}")
        if not IDENTIFIER.match(node_id):
            w.add("node ids are letters, digits, '_', '-' and '.', starting with a letter.")
            continue
        if CATALOGUE_REF.match(node_id):
            w.add("ids of the form A<digits> are reserved for catalogue assumptions.")
            continue
        raw = _mapping(raw, w, "a node")
        _keys(raw, _NODE_KEYS, w, "a node")
        type_ = raw.get("type")
        if type_ not in NODE_TYPES:
            w.add(f"unknown type {type_!r}; expected one of {', '.join(NODE_TYPES)}.")
            continue
        part = raw.get("part")
        if part is not None and str(part) not in parts:
            w.add(f"unknown part {part!r}.")
            part = None
        combination = _parse_combination(raw.get("combination", "all"), type_, param_map, w)
        evidence = _parse_bindings(raw.get("evidence"), "criterion", w, "evidence", "criterion")
        checks = _parse_bindings(raw.get("checks"), "check", w, "check", "check")
        if evidence and type_ != "solution":
            w.add("only solutions have evidence criteria.")
        if checks and type_ != "assumption":
            w.add("only assumptions have checks.")
        attest = bool(raw.get("requires_attestation", False))
        if attest and type_ != "assumption":
            w.add("only assumptions require attestation.")
        if type_ == "assumption" and not checks and not attest:
            w.add("an assumption needs checks or requires_attestation: true.")
        supported_by = tuple(str(t) for t in _list(raw.get("supported_by"), w, "supported_by"))
        in_context_of = tuple(str(t) for t in _list(raw.get("in_context_of"), w, "in_context_of"))
        own_refs += [t for t in (*supported_by, *in_context_of) if t not in own_refs]
        attributes = _mapping(raw.get("attributes"), w, "attributes")
        refutes = raw.get("refutes")
        if refutes is not None:
            # Observation evidence (a scheming rate, a honeypot defection): when its criterion
            # fails, the goal it names is defeated whatever combines the branches between them.
            if type_ != "solution":
                w.add("only solutions refute a claim (refutes names the goal they refute).")
            else:
                attributes = {**attributes, "refutes": str(refutes)}
        nodes[node_id] = TemplateNode(
            id=node_id,
            type=type_,
            text=_text(raw.get("text"), w, "text"),
            part=str(part) if part is not None else None,
            supported_by=supported_by,
            in_context_of=in_context_of,
            combination=combination,
            undeveloped=bool(raw.get("undeveloped", False)),
            bindings=tuple(evidence + checks),
            requires_attestation=attest,
            attributes=attributes,
        )

    # references: local nodes or catalogue assumptions
    for node in nodes.values():
        w = where.at(f"node {node.id}")
        refuted = node.attributes.get("refutes") if node.type == "solution" else None
        if refuted is not None and (refuted not in nodes or nodes[refuted].type != "goal"):
            w.add(f"refutes must name a goal of this template above it; {refuted!r} is not one.")
        for target in (*node.supported_by, *node.in_context_of):
            if target in nodes:
                _check_part_link(node, nodes[target], parts, w)
            elif CATALOGUE_REF.match(target):
                if target not in catalogue:
                    w.add(f"unknown catalogue id {target}; the catalogue has A01–A32.")
                elif target in node.supported_by:
                    w.add(f"{target} is an assumption; link it with in_context_of.")
            else:
                w.add(
                    f"refers to {target!r}, which is neither a node of this template nor a "
                    "catalogue assumption."
                )
    targets = {t for n in nodes.values() for t in (*n.supported_by, *n.in_context_of)}
    roots = [i for i in nodes if i not in targets]
    if nodes and len(roots) != 1:
        where.add(
            "a template has exactly one top node (nothing above it); "
            f"this one has {len(roots)}: {', '.join(roots) or 'none'}."
        )
    elif nodes and (nodes[roots[0]].type != "goal" or nodes[roots[0]].part):
        where.add(f"the top node {roots[0]} must be a goal outside every part.")

    # placeholders and expressions, with the parameters the template can see
    visible = dict(param_map)
    needed: set[str] = set()
    for ref in own_refs:
        if ref in catalogue:
            for check in catalogue[ref].checks:
                needed |= binding_placeholders(check)
    for p in catalogue_params:
        if p.name in needed:
            other = visible.setdefault(p.name, p)
            if other.type != p.type:
                where.at(f"parameter {p.name}").add(
                    f"is {other.type} here but {p.type} in the catalogue."
                )
    for node in nodes.values():
        w = where.at(f"node {node.id}")
        part = parts.get(node.part) if node.part else None
        alias = part.alias if part and part.repeats else None
        alias_param = visible.get(part.for_each) if part and part.repeats else None
        _check_placeholders(node.text, visible, w, alias=alias, alias_param=alias_param)
        _check_placeholders(
            " ".join(strings_in(node.attributes)), visible, w, alias=alias, alias_param=alias_param
        )
        _check_binding_expressions(node.bindings, visible, w, alias=alias, alias_param=alias_param)

    # includes
    includes = []
    for index, raw in enumerate(_list(data.get("includes"), where, "includes"), start=1):
        w = where.at(f"include {index}")
        raw = _mapping(raw, w, "an include")
        _keys(raw, ("template", "under", "when", "parameters"), w, "an include")
        under = str(raw.get("under", ""))
        if under not in nodes:
            w.add(f"under must name a node of this template; {under!r} is not one.")
        elif nodes[under].type not in ("goal", "strategy"):
            w.add(f"under must be a goal or a strategy; {under} is {nodes[under].type}.")
        elif nodes[under].part and parts[nodes[under].part].repeats:
            w.add(f"under cannot be {under}, which is in a repeated part.")
        when = raw.get("when")
        if when is not None:
            _check_condition(str(when), param_map, w)
        mapping = {
            str(k): str(v) for k, v in _mapping(raw.get("parameters"), w, "parameters").items()
        }
        for value in mapping.values():
            _check_placeholders(value, visible, w)
        includes.append(
            Include(
                template=str(raw.get("template", "")),
                under=under,
                when=str(when) if when is not None else None,
                parameters=mapping,
            )
        )

    root_rules = data.get("root_rules")
    if root_rules is not None:
        root_rules = _check_root_rules(root_rules, nodes, visible, where.at("root_rules"))

    example = _mapping(data.get("example"), where, "example")
    if len(problems) > before:
        return None
    return Template(
        id=template_id,
        title=_text(data.get("title"), where, "title"),
        version=version,
        prefix=prefix,
        summary=_text(data.get("summary"), where, "summary", required=False),
        guidance=_text(data.get("guidance"), where, "guidance", required=False),
        sources=tuple(_parse_source_refs(data.get("sources"), sources, where)),
        parameters=tuple(params),
        parts=parts,
        nodes=nodes,
        includes=tuple(includes),
        root_rules=root_rules,
        example=example,
        filename=filename,
    )


def _parse_combination(value: Any, type_: str, params: Mapping[str, Parameter], w: _Where) -> str:
    if isinstance(value, dict) and set(value) == {"at_least"}:
        k = value["at_least"]
        if isinstance(k, str) and PLACEHOLDER.fullmatch(k.strip()):
            name, attribute = placeholders(k)[0]
            p = params.get(name)
            if p is None or p.type != "integer" or attribute:
                w.add(f"combination at_least {k} must name an integer parameter.")
                return "all"
            text = f"at_least:{{{name}}}"
        elif isinstance(k, int) and not isinstance(k, bool) and k >= 1:
            text = f"at_least:{k}"
        else:
            w.add(f"combination at_least needs a whole number ≥ 1 or a {{parameter}}, not {k!r}.")
            return "all"
    elif isinstance(value, str) and COMBINATION.match(value.replace(" ", "")):
        text = value.replace(" ", "")
    else:
        w.add(
            f"unknown combination {value!r}; expected all, any or at_least: k "
            "(e.g. `combination: {at_least: 2}`)."
        )
        return "all"
    if text != "all" and type_ not in ("goal", "strategy"):
        w.add("only goals and strategies combine their children.")
    return text


def _check_condition(text: str, params: Mapping[str, Parameter], w: _Where) -> None:
    try:
        compile_expression(text, variables=params, functions=())
    except ExpressionError as exc:
        w.add(f"condition {text!r} does not compile: {exc}")


def _check_part_link(
    source: TemplateNode, target: TemplateNode, parts: Mapping[str, Part], w: _Where
) -> None:
    a = parts.get(source.part) if source.part else None
    b = parts.get(target.part) if target.part else None
    if a and b and a.repeats and b.repeats and a.id != b.id:
        w.add(
            f"links {source.id} (repeated part {a.id}) to {target.id} (repeated part {b.id}); "
            "nodes of two different repeated parts cannot be linked."
        )


def _check_root_rules(
    data: Any, nodes: Mapping[str, TemplateNode], params: Mapping[str, Parameter], w: _Where
) -> dict[str, Any] | None:
    data = _mapping(data, w, "root_rules")
    _keys(
        data,
        ("threshold", "combine", "unargued_bound", "outcomes", "factors", "rules"),
        w,
        "root_rules",
    )
    for text in strings_in({k: v for k, v in data.items() if k != "rules"}):
        _check_placeholders(text, params, w)
    for index, factor in enumerate(_list(data.get("factors"), w, "factors"), start=1):
        fw = w.at(f"factor {index}")
        factor = _mapping(factor, fw, "a factor")
        _keys(
            factor,
            ("id", "goal", "bound", "arguments", "supporting_only", "statement"),
            fw,
            "a factor",
        )
        if factor.get("goal") not in nodes:
            fw.add(f"goal must name a node of this template, not {factor.get('goal')!r}.")
    variables = {**ROOT_RULE_VARIABLES, **params}
    for index, rule in enumerate(_list(data.get("rules"), w, "rules"), start=1):
        rw = w.at(f"rule {index}")
        rule = _mapping(rule, rw, "a rule")
        _keys(rule, ("code", "statement", "check", "flag"), rw, "a rule")
        check = rule.get("check")
        if not isinstance(check, str) or not check.strip():
            rw.add("the check (a CEL expression) is missing.")
            continue
        if not _check_placeholders(check, params, rw):
            continue
        sample = render_cel(check, {n: sample_value(p) for n, p in params.items()})
        try:
            compile_expression(sample, variables=variables, functions=DOMAIN_FUNCTIONS)
        except ExpressionError as exc:
            rw.add(f"{check!r} does not compile: {exc}")
    return data
