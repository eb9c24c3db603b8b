"""Plain data types for a GSN argument, shared by the rules, the gsn2x converter and diagrams."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ElementType(StrEnum):
    GOAL = "goal"
    STRATEGY = "strategy"
    SOLUTION = "solution"
    CONTEXT = "context"
    ASSUMPTION = "assumption"
    JUSTIFICATION = "justification"
    # Dialectic extension: counter-claims and counter-evidence that challenge other elements.
    COUNTER_GOAL = "counter_goal"
    COUNTER_SOLUTION = "counter_solution"


class RelationType(StrEnum):
    SUPPORTED_BY = "supported_by"
    IN_CONTEXT_OF = "in_context_of"
    CHALLENGES = "challenges"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


CONTEXTUAL_TYPES = frozenset(
    {ElementType.CONTEXT, ElementType.ASSUMPTION, ElementType.JUSTIFICATION}
)
COUNTER_TYPES = frozenset({ElementType.COUNTER_GOAL, ElementType.COUNTER_SOLUTION})


@dataclass(frozen=True)
class Element:
    identifier: str
    type: str
    statement: str = ""
    undeveloped: bool = False
    module: str = ""
    # Everything else the author or an importer attached (url, layers, layout hints, acp,
    # defeated, ...). Kept so that interchange round-trips; the rules ignore it.
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Relation:
    source: str
    target: str
    type: str
    # For a challenge of a relationship rather than of an element ("G2 -> CG1"): the other end
    # of the challenged relationship. Empty for ordinary relations.
    target_relation: str = ""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    node: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "node": self.node,
            "message": self.message,
        }


@dataclass
class Argument:
    """A whole argument: its elements, relations and (for modular arguments) module metadata."""

    elements: list[Element] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    # module name -> {"brief": ..., "uses": [...], "extends": [...], other keys}
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
