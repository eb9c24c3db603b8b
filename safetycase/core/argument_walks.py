"""Walks over an argument that the pages need: the top goal, the reading order of the nodes a
diagram draws, the elements a view folds, and the root causes below a node. Pure."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from safetycase.core.gsn import navigation
from safetycase.core.gsn.model import CONTEXTUAL_TYPES, Argument, Element, RelationType

ROOT_CAUSES_SHOWN = 8


def top_goal_identifier(*, nodes: Iterable[Any], relations: Iterable[Any]) -> str | None:
    """The root goal of the argument (the first, when several): the case's overall verdict."""
    return navigation.top_goal(
        ((n.identifier, n.type) for n in nodes), ((r.target, r.type) for r in relations)
    )


def foldable(argument: Argument, asked: Iterable[str]) -> set[str]:
    """Of the elements asked to be folded, those with something below them."""
    return set(asked) & {r.source for r in argument.relations}


def has_sub_argument(argument: Argument, identifier: str) -> bool:
    return any(
        r.source == identifier and r.type == RelationType.SUPPORTED_BY for r in argument.relations
    )


def supported_by_levels(argument: Argument, *, view: str = "", module: str = "") -> dict[str, int]:
    """The level of each goal, strategy and solution the diagram draws as its own (whole
    argument, one argument view or one module): 1 for a root of that part, then one more per
    `supported_by` step down, by the shortest way. Context is not counted: it sits beside its
    node."""
    if view:
        argument, module = navigation.argument_view(argument, view)
    own = {
        e.identifier
        for e in argument.elements
        if e.type not in CONTEXTUAL_TYPES and (not module or e.module == module)
    }
    children: dict[str, list[str]] = {}
    for relation in argument.relations:
        if (
            relation.type == RelationType.SUPPORTED_BY
            and relation.source in own
            and relation.target in own
        ):
            children.setdefault(relation.source, []).append(relation.target)
    below = {child for targets in children.values() for child in targets}
    levels = {root: 1 for root in own - below}
    queue = deque(sorted(levels))
    while queue:
        current = queue.popleft()
        for child in children.get(current, []):
            if child not in levels:
                levels[child] = levels[current] + 1
                queue.append(child)
    return levels


def folds_to_depth(argument: Argument, depth: int, *, view: str = "", module: str = "") -> set[str]:
    """The elements to fold so that the diagram shows its part of the argument down to level
    `depth` (`supported_by_levels`): those on that level with a sub-argument below them."""
    levels = supported_by_levels(argument, view=view, module=module)
    return {
        identifier
        for identifier, level in levels.items()
        if level == depth and has_sub_argument(argument, identifier)
    }


def reading_order(
    argument: Argument, *, view: str = "", module: str = "", folded: Iterable[str] = ()
) -> list[tuple[Element, int]]:
    """The elements the diagram draws (whole argument, one argument view or one module, with
    the sub-arguments of `folded` left out), in reading order with their depth: depth first
    from its roots, each element's context right after it."""
    if view:
        argument, module = navigation.argument_view(argument, view)
    argument, _hidden = navigation.fold(argument, folded)
    elements = {e.identifier: e for e in argument.elements}
    if module:
        own = {i for i, e in elements.items() if e.module == module}
        drawn = own | {r.target for r in argument.relations if r.source in own}
    else:
        drawn = set(elements)
    children: dict[str, list[str]] = {}
    has_parent: set[str] = set()
    # Context first (it is drawn beside its node), then the supporting elements.
    for relation in sorted(
        argument.relations,
        key=lambda r: (r.type != RelationType.IN_CONTEXT_OF, r.source, r.target),
    ):
        if relation.source in drawn and relation.target in drawn:
            if relation.type in (RelationType.SUPPORTED_BY, RelationType.IN_CONTEXT_OF):
                children.setdefault(relation.source, []).append(relation.target)
                has_parent.add(relation.target)
    listed: list[tuple[Element, int]] = []
    seen: set[str] = set()
    for root in sorted(drawn - has_parent) + sorted(drawn):  # then any left in cycles
        stack = [(root, 0)]
        while stack:
            current, level = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            listed.append((elements[current], level))
            stack.extend((child, level + 1) for child in reversed(children.get(current, [])))
    return listed


def root_causes(
    argument: Argument,
    identifier: str,
    statuses: Mapping[str, str],
    flags: Sequence[Mapping[str, Any]],
) -> dict:
    """Why a defeated or at-risk node is so, at the bottom: the flags (failing evidence,
    violated assumptions, ...) on the elements below it, i.e. its supported_by descendants and
    the assumptions attached to them, errors first. One click from the node's panel to each.
    {"flags": [...], "more": n}; empty for other nodes."""
    if statuses.get(identifier) not in ("defeated", "at_risk"):
        return {}
    supported_by: dict[str, list[str]] = {}
    attached: dict[str, list[str]] = {}
    for relation in argument.relations:
        if relation.type == RelationType.SUPPORTED_BY:
            supported_by.setdefault(relation.source, []).append(relation.target)
        elif relation.type == RelationType.IN_CONTEXT_OF:
            attached.setdefault(relation.source, []).append(relation.target)
    below: set[str] = set()
    stack = [identifier]
    while stack:
        current = stack.pop()
        for child in supported_by.get(current, []) + attached.get(current, []):
            if child not in below and child != identifier:
                below.add(child)
                stack.append(child)
    order = {"error": 0, "warning": 1, "info": 2}
    found = sorted(
        (f for f in flags if f.get("node") in below and f.get("severity") != "info"),
        key=lambda f: (order.get(f.get("severity"), 3), f["node"], f.get("type") or ""),
    )
    if not found:
        return {}
    return {"flags": found[:ROOT_CAUSES_SHOWN], "more": max(0, len(found) - ROOT_CAUSES_SHOWN)}


# The search words that ask for the paths to failures instead of matching text.
FAILURE_PATHS_QUERY = "path:failures"
NOT_SUPPORTED = frozenset({"defeated", "at_risk", "undeveloped"})


def failure_paths(argument: Argument, statuses: Mapping[str, str]) -> list[str]:
    """The elements on the chains that keep the top goal from being supported: from the top
    goal down through every supporting element and attached assumption that is itself not
    supported (defeated, at risk or undeveloped), to the failures at the bottom — in reading
    order. [] when the top goal is supported or not assessed."""
    top = navigation.top_goal(
        ((e.identifier, e.type) for e in argument.elements),
        ((r.target, r.type) for r in argument.relations),
    )
    if top is None or statuses.get(top) not in NOT_SUPPORTED:
        return []
    below: dict[str, list[str]] = {}
    for relation in sorted(argument.relations, key=lambda r: (r.source, r.target)):
        if relation.type in (RelationType.SUPPORTED_BY, RelationType.IN_CONTEXT_OF):
            below.setdefault(relation.source, []).append(relation.target)
    on_path: list[str] = []
    seen: set[str] = set()
    stack = [top]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        on_path.append(current)
        stack.extend(
            child
            for child in reversed(below.get(current, []))
            if statuses.get(child) in NOT_SUPPORTED and child not in seen
        )
    return on_path
