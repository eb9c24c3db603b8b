"""The template library's plain data types (templates, their nodes, parameters, bindings, the
assumption catalogue, the bibliography) and the constants of the file format."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetycase.core.gsn.model import ElementType
from safetycase.core.keys import natural_key

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
SELECTOR_KEYS = (
    "task",
    "task_version",
    "model",
    "conditions",
    "scorer",
    "metric",
    "paired_with",
)
# Variables of the ROOT rules (evaluated over the factors of the top goal, not over a run).
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CATALOGUE_REF = re.compile(r"^A\d+$")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
COMBINATION = re.compile(r"^(all|any|at_least:([1-9]\d*))$")

MISSING = object()


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
    default: Any = MISSING
    choices: tuple[str, ...] = ()
    fields: tuple[Parameter, ...] = ()  # for lists of records; the first field is the label
    min_items: int = 0
    max_items: int | None = None
    declared_by: str = ""

    @property
    def required(self) -> bool:
        return self.default is MISSING

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
    # Criteria only: how the ledger combines runs (all | pooled | latest; "" = all), and why
    # when `latest` lets the newest run decide.
    policy: str = ""
    policy_justification: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "description": self.description,
            "selector": copy.deepcopy(self.selector),
            "freshness_days": self.freshness_days,
            "expression": self.expression,
        }
        if self.policy:
            data["policy"] = self.policy
            data["policy_justification"] = self.policy_justification
        return data


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
                needed |= binding_placeholders(check)
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
        return [self.catalogue[r] for r in sorted(refs, key=natural_key)]

    def _closure(self, template: Template) -> list[Template]:
        out = [template]
        for include in template.includes:
            for t in self._closure(self.templates[include.template]):
                if t not in out:
                    out.append(t)
        return out


class MissingField(ValueError):
    """A required field of a list item is absent (reported as a missing parameter)."""

    def __init__(self, path: str):
        super().__init__(f"{path} is missing.")
        self.path = path


def kind_of(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "empty",
    }.get(type(value), type(value).__name__)


def placeholders(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text or "")]


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings_in(v)]
    return []


def binding_placeholders(binding: BindingSpec) -> set[str]:
    texts = [binding.expression, binding.description, *strings_in(binding.selector)]
    if isinstance(binding.freshness_days, str):
        texts.append(binding.freshness_days)
    return {name for text in texts for name, _ in placeholders(text)}
