"""Refuting evidence (GSN dialectic): a solution marked `refutes: <goal>` observes the hazard the
goal rules out (an in-context scheming rate, a honeypot defection, observed sabotage). When its
criterion fails, the observation is a defeater of that goal and of every claim between them:
they are defeated whatever combination rule (`any`, `at_least`) would otherwise let another
branch carry them, because a demonstrated counterexample cannot be outvoted by other evidence.
Above the refuted goal the ordinary combination rules apply again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from safetycase.core.assessment.facts import ARGUED_TYPES, SOLUTION


def refuted_goal(attributes: Mapping[str, object] | None) -> str:
    """The goal a node's attributes say it refutes, "" when it refutes none."""
    value = (attributes or {}).get("refutes")
    return value if isinstance(value, str) else ""


def refutation_reach(
    nodes: Mapping[str, object],
    parents: Mapping[str, Sequence[str]],
    children: Mapping[str, Sequence[str]],
) -> dict[str, tuple[str, ...]]:
    """Goal or strategy -> the refuting solutions whose refutation reaches it: the nodes on a
    supported_by path from the solution up to the goal it refutes, that goal included. A
    solution whose goal is not above it refutes nothing (the template check reports it)."""
    reach: dict[str, list[str]] = {}
    for identifier, node in nodes.items():
        if node.type != SOLUTION:
            continue
        target = refuted_goal(node.attributes)
        if not target or target not in nodes or nodes[target].type not in ARGUED_TYPES:
            continue
        above = _closure(identifier, parents)
        if target not in above:
            continue
        below_target = _closure(target, children)
        for between in sorted(above & below_target):
            if nodes[between].type in ARGUED_TYPES:
                reach.setdefault(between, []).append(identifier)
    return {i: tuple(sorted(sols)) for i, sols in reach.items()}


def _closure(start: str, edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
