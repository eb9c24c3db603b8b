"""The template file format: plain data types, the YAML loader and its validation.

Pure and Django-free. `load_library(directory)` reads every `*.yaml` file of the directory:
`sources.yaml` (the bibliography), `assumptions.yaml` (the assumption catalogue) and one file per
template. Everything is validated on load; all problems are collected and raised together as one
TemplateError whose lines name the file and the place ("harm_inability.yaml: node G3: ...").
The format itself is described in docs/templates/README.md.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from safetycase.core.criteria import (
    DOMAIN_FUNCTIONS,
    ExpressionError,
    cel_literal,
    compile_expression,
)
from safetycase.core.gsn.model import ElementType

LIBRARY_DIR = Path(__file__).resolve().parent
CATALOGUE_FILE = "assumptions.yaml"
SOURCES_FILE = "sources.yaml"
CATALOGUE_ID = "assumptions"

PARAMETER_TYPES = ("string", "integer", "number", "probability", "boolean", "choice", "list")
NODE_TYPES = tuple(
    t.value
    for t in ElementType
    if t not in (ElementType.COUNTER_GOAL, ElementType.COUNTER_SOLUTION)
)
SELECTOR_KEYS = ("task", "task_version", "model", "conditions", "scorer", "metric")
# Variables of the ROOT rules (evaluated over the factors of the top goal, not over a run).
ROOT_RULE_VARIABLES = {
    "factors": "map of factor id to {goal, bound, supported, developed, supporting_only}",
    "threshold": "the risk threshold of the top goal",
    "outcomes": "the unacceptable outcomes the case covers",
    "covered_outcomes": "the outcomes covered by a developed capability or harm branch",
}

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CATALOGUE_REF = re.compile(r"^A\d+$")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
COMBINATION = re.compile(r"^(all|any|at_least:([1-9]\d*))$")

_MISSING = object()


class TemplateError(ValueError):
    """One or more problems in the template files, one sentence per line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------------------------
# Data types


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str = ""
    default: Any = _MISSING
    choices: tuple[str, ...] = ()
    fields: tuple[Parameter, ...] = ()  # for lists of records; the first field is the label
    min_items: int = 0
    max_items: int | None = None
    declared_by: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "required": self.required,
            "default": None if self.required else copy.deepcopy(self.default),
        }
        if self.choices:
            data["choices"] = list(self.choices)
        if self.type == "list":
            data["min_items"] = self.min_items
            data["max_items"] = self.max_items
            data["fields"] = [f.as_dict() for f in self.fields]
        if self.declared_by:
            data["declared_by"] = self.declared_by
        return data


@dataclass(frozen=True)
class BindingSpec:
    """Default evidence binding of a solution (kind "criterion") or check of an assumption
    (kind "check"). Text fields may hold {placeholders}; the expression is CEL."""

    kind: str
    expression: str
    selector: dict[str, Any] = field(default_factory=dict)
    freshness_days: int | str | None = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "selector": copy.deepcopy(self.selector),
            "freshness_days": self.freshness_days,
            "expression": self.expression,
        }


@dataclass(frozen=True)
class Part:
    """Nodes instantiated zero or more times: once per item of `for_each` (multiplicity), and
    only when the CEL condition `when` over the parameters is true (optionality)."""

    id: str
    for_each: str | None = None
    alias: str | None = None
    when: str | None = None
    description: str = ""

    @property
    def repeats(self) -> bool:
        return self.for_each is not None


@dataclass(frozen=True)
class TemplateNode:
    id: str
    type: str
    text: str
    part: str | None = None
    supported_by: tuple[str, ...] = ()
    in_context_of: tuple[str, ...] = ()
    combination: str = "all"  # "all", "any", "at_least:<k>" or "at_least:{param}"
    undeveloped: bool = False
    bindings: tuple[BindingSpec, ...] = ()
    requires_attestation: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Include:
    template: str
    under: str
    when: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRef:
    key: str
    where: str = ""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    authors: str = ""
    year: int | None = None
    url: str = ""


@dataclass(frozen=True)
class CatalogueAssumption:
    id: str
    statement: str
    used_by: tuple[str, ...] = ()
    sources: tuple[SourceRef, ...] = ()
    fails_when: str = ""
    checks: tuple[BindingSpec, ...] = ()
    attestation: str = ""

    @property
    def requires_attestation(self) -> bool:
        return not self.checks


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    version: int
    prefix: str
    summary: str
    guidance: str
    sources: tuple[SourceRef, ...]
    parameters: tuple[Parameter, ...]
    parts: dict[str, Part]
    nodes: dict[str, TemplateNode]
    includes: tuple[Include, ...]
    root_rules: dict[str, Any] | None
    example: dict[str, Any]
    filename: str

    @property
    def root(self) -> str:
        supported = {t for n in self.nodes.values() for t in (*n.supported_by, *n.in_context_of)}
        return next(i for i in self.nodes if i not in supported)

    @property
    def catalogue_refs(self) -> list[str]:
        refs: list[str] = []
        for node in self.nodes.values():
            for target in (*node.supported_by, *node.in_context_of):
                if target not in self.nodes and target not in refs:
                    refs.append(target)
        return refs

    def identifier(self, node_id: str, prefix: str | None = None) -> str:
        prefix = self.prefix if prefix is None else prefix
        return f"{prefix}-{node_id}" if prefix else node_id


@dataclass
class Library:
    templates: dict[str, Template]
    catalogue: dict[str, CatalogueAssumption]
    catalogue_parameters: tuple[Parameter, ...]
    sources: dict[str, Source]
    catalogue_title: str = "Assumption catalogue"
    catalogue_summary: str = ""

    def template(self, template_id: str) -> Template:
        try:
            return self.templates[template_id]
        except KeyError:
            raise KeyError(
                f"There is no template {template_id!r}; the library has "
                f"{', '.join(self.templates)}."
            ) from None

    def own_parameters(self, template: Template) -> list[Parameter]:
        """The template's parameters and those the catalogue assumptions it uses need."""
        params = {p.name: p for p in template.parameters}
        needed = set()
        for ref in template.catalogue_refs:
            for check in self.catalogue[ref].checks:
                needed |= _binding_placeholders(check)
        for p in self.catalogue_parameters:
            if p.name in needed and p.name not in params:
                params[p.name] = p
        return list(params.values())

    def parameters(self, template_id: str) -> list[Parameter]:
        """Every parameter an instantiation of the template may take, included templates'
        and catalogue ones too, each name once (the including template's declaration wins)."""
        seen: dict[str, Parameter] = {}
        for template in self._closure(self.template(template_id)):
            for p in self.own_parameters(template):
                seen.setdefault(p.name, p)
        return list(seen.values())

    def assumptions_used(self, template_id: str) -> list[CatalogueAssumption]:
        refs: list[str] = []
        for template in self._closure(self.template(template_id)):
            refs += [r for r in template.catalogue_refs if r not in refs]
        return [self.catalogue[r] for r in sorted(refs, key=_natural)]

    def _closure(self, template: Template) -> list[Template]:
        out = [template]
        for include in template.includes:
            for t in self._closure(self.templates[include.template]):
                if t not in out:
                    out.append(t)
        return out


# --------------------------------------------------------------------------------------------
# Loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key repeated in one mapping (a node defined twice)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice", mark
            )
        seen.add(key)
    return loader.construct_mapping_plain(node, deep=deep)


_UniqueKeyLoader.construct_mapping_plain = yaml.SafeLoader.construct_mapping
_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError([f"{path.name}: not valid YAML{where}: {problem}."]) from exc


def load_library(directory: Path | str = LIBRARY_DIR, *, check_examples: bool = True) -> Library:
    """Read and validate the library in `directory`. With `check_examples`, every template is
    also instantiated with its example parameters and the result checked with the GSN rules."""
    directory = Path(directory)
    problems: list[str] = []
    sources: dict[str, Source] = {}
    catalogue: dict[str, CatalogueAssumption] = {}
    catalogue_params: tuple[Parameter, ...] = ()
    catalogue_meta: dict[str, str] = {}
    templates: dict[str, Template] = {}

    sources_path = directory / SOURCES_FILE
    if sources_path.exists():
        sources = _parse_sources(_read(sources_path, problems), SOURCES_FILE, problems)
    else:
        problems.append(f"{SOURCES_FILE}: the library has no bibliography file.")
    catalogue_path = directory / CATALOGUE_FILE
    if catalogue_path.exists():
        catalogue, catalogue_params, catalogue_meta = _parse_catalogue(
            _read(catalogue_path, problems), sources, problems
        )
    else:
        problems.append(f"{CATALOGUE_FILE}: the library has no assumption catalogue.")

    for path in sorted(directory.glob("*.yaml")):
        if path.name in (SOURCES_FILE, CATALOGUE_FILE):
            continue
        data = _read(path, problems)
        if data is None and problems and problems[-1].startswith(path.name):
            continue
        template = _parse_template(data, path.name, sources, catalogue, catalogue_params, problems)
        if template is None:
            continue
        if template.id in templates:
            problems.append(
                f"{path.name}: template id {template.id!r} is already used by "
                f"{templates[template.id].filename}."
            )
            continue
        templates[template.id] = template

    library = Library(
        templates=templates,
        catalogue=catalogue,
        catalogue_parameters=catalogue_params,
        sources=sources,
        catalogue_title=catalogue_meta.get("title", "Assumption catalogue"),
        catalogue_summary=catalogue_meta.get("summary", ""),
    )
    _check_includes(library, problems)
    _check_used_by(library, problems)
    if problems:
        raise TemplateError(problems)
    if check_examples:
        _check_examples(library, problems)
        if problems:
            raise TemplateError(problems)
    return library


def _read(path: Path, problems: list[str]) -> Any:
    try:
        return read_yaml(path)
    except TemplateError as exc:
        problems.extend(exc.problems)
        return None


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
        where.add(f"{what} must be a mapping, not {_kind(value)}.")
        return {}
    return value


def _list(value: Any, where: _Where, what: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        where.add(f"{what} must be a list, not {_kind(value)}.")
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
        where.add(f"{what} must be text, not {_kind(value)}.")
        return ""
    return str(value).strip()


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "empty",
    }.get(type(value), type(value).__name__)


def _natural(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def placeholders(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text or "")]


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings_in(v)]
    return []


def _binding_placeholders(binding: BindingSpec) -> set[str]:
    texts = [binding.expression, binding.description, *_strings_in(binding.selector)]
    if isinstance(binding.freshness_days, str):
        texts.append(binding.freshness_days)
    return {name for text in texts for name, _ in placeholders(text)}


# --------------------------------------------------------------------------------------------
# Sources and parameters


def _parse_sources(data: Any, filename: str, problems: list[str]) -> dict[str, Source]:
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
            where.add(f"a parameter must be a mapping, not {_kind(raw)}.")
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
                default = _MISSING
            param = Parameter(**{**param.__dict__, "default": default})
        out.append(param)
    return out


def coerce_value(param: Parameter, value: Any, *, path: str | None = None) -> Any:
    """The value converted to the parameter's type; ValueError with a sentence otherwise."""
    what = path or param.name
    t = param.type
    if value is None:
        raise ValueError(f"{what} has no value.")
    if t == "string":
        if isinstance(value, dict | list | bool):
            raise ValueError(f"{what} must be text, not {_kind(value)}.")
        return str(value)
    if t == "choice":
        value = str(value)
        if value not in param.choices:
            raise ValueError(f"{what} must be one of {', '.join(param.choices)}, not {value!r}.")
        return value
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"{what} must be true or false, not {value!r}.")
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{what} must be a whole number, not {value!r}.")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{what} must be a whole number, not {value!r}.") from None
    if t in ("number", "probability"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{what} must be a number, not {value!r}.")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{what} must be a number, not {value!r}.") from None
        if t == "probability" and not 0.0 <= number <= 1.0:
            raise ValueError(f"{what} must be a probability between 0 and 1, not {value!r}.")
        return number
    if t == "list":
        if not isinstance(value, list):
            raise ValueError(f"{what} must be a list, not {_kind(value)}.")
        if len(value) < param.min_items:
            raise ValueError(
                f"{what} needs at least {param.min_items} item"
                f"{'s' if param.min_items != 1 else ''}, not {len(value)}."
            )
        if param.max_items is not None and len(value) > param.max_items:
            raise ValueError(f"{what} takes at most {param.max_items} items, not {len(value)}.")
        if not param.fields:
            return [coerce_value(Parameter(name=what, type="string"), v) for v in value]
        items = []
        for index, item in enumerate(value, start=1):
            if not isinstance(item, dict):
                raise ValueError(f"{what}[{index}] must be a mapping, not {_kind(item)}.")
            names = {f.name for f in param.fields}
            unknown = [k for k in item if k not in names]
            if unknown:
                raise ValueError(
                    f"{what}[{index}] has unknown field {unknown[0]!r}; fields are "
                    f"{', '.join(names)}."
                )
            record = {}
            for f in param.fields:
                if f.name in item:
                    record[f.name] = coerce_value(f, item[f.name], path=f"{what}[{index}].{f.name}")
                elif not f.required:
                    record[f.name] = copy.deepcopy(f.default)
                else:
                    raise MissingField(f"{what}[{index}].{f.name}")
            items.append(record)
        return items
    raise ValueError(f"{what} has unknown type {t!r}.")  # pragma: no cover - parse refuses


class MissingField(ValueError):
    """A required field of a list item is absent (reported as a missing parameter)."""

    def __init__(self, path: str):
        super().__init__(f"{path} is missing.")
        self.path = path


def sample_value(param: Parameter) -> Any:
    """A value of the parameter's type, for checking expressions before instantiation."""
    if not param.required:
        return copy.deepcopy(param.default)
    return {
        "string": "example",
        "integer": 1,
        "number": 0.5,
        "probability": 0.5,
        "boolean": True,
        "choice": param.choices[0] if param.choices else "example",
        "list": [{f.name: sample_value(f) for f in param.fields} if param.fields else "example"]
        * max(param.min_items, 1),
    }[param.type]


# --------------------------------------------------------------------------------------------
# Bindings


def check_selector(selector: Any) -> str | None:
    """A sentence saying what is wrong with an evidence selector, or None when it is fine."""
    if not isinstance(selector, dict):
        return f"The selector must be a mapping, not {_kind(selector)}."
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
    return None


def _parse_bindings(
    value: Any, kind: str, where: _Where, what: str, expression_key: str
) -> list[BindingSpec]:
    out = []
    for index, raw in enumerate(_list(value, where, what), start=1):
        w = where.at(f"{what} {index}")
        if not isinstance(raw, dict):
            w.add(f"must be a mapping, not {_kind(raw)}.")
            continue
        _keys(raw, ("description", "selector", "freshness_days", expression_key), w, what)
        selector = raw.get("selector") or {}
        problem = check_selector(selector)
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
            )
        )
    return out


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
        texts = [binding.description, *_strings_in(binding.selector)]
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
# Rendering (shared with instantiation)


def text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return text_value(next(iter(value.values()), ""))
    if isinstance(value, list):
        return "; ".join(text_value(v) for v in value)
    return str(value)


def _lookup(name: str, attribute: str | None, values: Mapping, item: Mapping) -> Any:
    if name in item:
        value = item[name]
        return value[attribute] if attribute else value
    return values[name]


def render_text(text: str, values: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> str:
    item = item or {}
    return PLACEHOLDER.sub(
        lambda m: (
            text_value(_lookup(m.group(1), m.group(2), values, item))
            if m.group(1) in item or m.group(1) in values
            else m.group(0)
        ),
        text or "",
    )


def render_cel(text: str, values: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> str:
    item = item or {}
    return PLACEHOLDER.sub(
        lambda m: (
            cel_literal(_lookup(m.group(1), m.group(2), values, item))
            if m.group(1) in item or m.group(1) in values
            else m.group(0)
        ),
        text or "",
    )


def render_data(value: Any, values: Mapping[str, Any], item: Mapping[str, Any] | None = None):
    """Strings rendered as text, except a string that is one whole placeholder, which takes the
    parameter's value with its type (a number stays a number)."""
    item = item or {}
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole and (whole.group(1) in item or whole.group(1) in values):
            return copy.deepcopy(_lookup(whole.group(1), whole.group(2), values, item))
        return render_text(value, values, item)
    if isinstance(value, dict):
        return {k: render_data(v, values, item) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(v, values, item) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# The catalogue


def _parse_catalogue(
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
)


def _parse_template(
    data: Any,
    filename: str,
    sources: dict[str, Source],
    catalogue: dict[str, CatalogueAssumption],
    catalogue_params: tuple[Parameter, ...],
    problems: list[str],
) -> Template | None:
    where = _Where(problems, filename)
    if not isinstance(data, dict):
        where.add(f"a template file must be a mapping, not {_kind(data)}.")
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
                needed |= _binding_placeholders(check)
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
            " ".join(_strings_in(node.attributes)), visible, w, alias=alias, alias_param=alias_param
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
    for text in _strings_in({k: v for k, v in data.items() if k != "rules"}):
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


def _check_includes(library: Library, problems: list[str]) -> None:
    for template in library.templates.values():
        for include in template.includes:
            if include.template not in library.templates:
                problems.append(
                    f"{template.filename}: include {include.template!r}: there is no such template."
                )
                continue
            child = library.templates[include.template]
            known = (
                {p.name for p in library.parameters(child.id)}
                if _acyclic(library, template.id)
                else set()
            )
            for name in include.parameters:
                if known and name not in known:
                    problems.append(
                        f"{template.filename}: include {include.template}: {child.id} has no "
                        f"parameter {name!r}."
                    )
        if not _acyclic(library, template.id):
            problems.append(f"{template.filename}: includes form a cycle through {template.id}.")


def _acyclic(library: Library, start: str) -> bool:
    stack, seen = [(start, (start,))], set()
    while stack:
        current, path = stack.pop()
        for include in library.templates[current].includes:
            if include.template not in library.templates:
                continue
            if include.template in path:
                return False
            if (include.template, path) not in seen:
                seen.add((include.template, path))
                stack.append((include.template, (*path, include.template)))
    return True


def _check_used_by(library: Library, problems: list[str]) -> None:
    for template in library.templates.values():
        for ref in template.catalogue_refs:
            entry = library.catalogue.get(ref)
            if entry and "all" not in entry.used_by and template.id not in entry.used_by:
                problems.append(
                    f"{CATALOGUE_FILE}: assumption {ref}: used_by does not list {template.id}, "
                    f"which uses it."
                )
    for assumption in library.catalogue.values():
        for user in assumption.used_by:
            if user != "all" and user not in library.templates:
                problems.append(
                    f"{CATALOGUE_FILE}: assumption {assumption.id}: used_by names {user!r}, "
                    "which is not a template."
                )


def _check_examples(library: Library, problems: list[str]) -> None:
    from safetycase.core.gsn.rules import check_argument
    from safetycase.core.library.instantiate import InstantiationError, instantiate

    for template in library.templates.values():
        try:
            instance = instantiate(library, template.id, template.example)
        except InstantiationError as exc:
            problems.append(f"{template.filename}: the example does not instantiate: {exc}")
            continue
        for finding in check_argument(instance.argument()):
            if finding.severity == "error":
                problems.append(
                    f"{template.filename}: the example instance breaks GSN rule {finding.rule}"
                    f" at {finding.node or 'the argument'}: {finding.message}"
                )
