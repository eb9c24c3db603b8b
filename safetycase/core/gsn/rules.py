"""GSN well-formedness rules R1–R16 (see the reference notes, §2), as pure functions.

`check_argument` builds dictionary indexes over the argument once and runs every rule over them;
all graph walks are iterative and linear in the size of the argument, so a 10,000-deep chain
neither hits the recursion limit nor takes noticeable time.

Semantics in short (rule numbers as in the reference):

- R1 (E)  identifiers are non-empty and unique across all modules.
- R2 (E/W) the type is known (E); a gsn2x identifier prefix contradicting the type is W.
- R3 (W)  the statement is non-empty.
- R4 (E/W) supported_by: goal→goal|strategy|solution, strategy→goal (strategy→solution and
  strategy→strategy, which gsn2x accepts, are W),
  counter_goal→counter_goal|counter_solution; only counter elements may challenge; unknown
  relation types are E.
- R5 (E)  in_context_of: goal|strategy → context|assumption|justification, or → a goal of another
  module (away goal used as context).
- R6 (E)  solutions, contextual elements and counter-solutions have no outgoing supported_by or
  in_context_of.
- R7 (E)  no self-references, no duplicate relations.
- R8 (E)  relation ends (and a challenged relationship's other end) resolve; module `extends`
  names an existing module and an existing, undeveloped element of it, developed by existing
  elements.
- R9 (E)  supported_by is acyclic; every back edge of a depth-first walk is reported as one
  cycle, so every cyclic part of the argument is reported and no cycle twice.
- R10 (E/W) there is a root, every root is a goal (E); several roots is W.
- R11 (E) every element is reachable from a root or a challenger.
- R12 (W) a context attached to a node and again to one of its supported_by descendants.
- R13 (W) a goal or strategy without support should be marked undeveloped.
- R14 (E) an undeveloped element has no supported_by children.
- R15 (W) a supported goal reaches no solution and no undeveloped element; a strategy with a
  single child.
- R16 (W, strict only) goal→goal without a strategy between.

Module `extends` entries ("foreign undeveloped G1 is developed by local G2") count as virtual
supported_by edges G1→G2 for roots, reachability and R15 only.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from safetycase.core.gsn.model import (
    CONTEXTUAL_TYPES,
    COUNTER_TYPES,
    Argument,
    Element,
    ElementType,
    Finding,
    Relation,
    RelationType,
    Severity,
)
from safetycase.core.keys import natural_key

__all__ = ["check_argument", "type_from_identifier"]

ERROR = Severity.ERROR.value
WARNING = Severity.WARNING.value

_KNOWN_TYPES = frozenset(t.value for t in ElementType)
_KNOWN_RELATIONS = frozenset(t.value for t in RelationType)

GOAL = ElementType.GOAL.value
STRATEGY = ElementType.STRATEGY.value
SOLUTION = ElementType.SOLUTION.value
COUNTER_GOAL = ElementType.COUNTER_GOAL.value
COUNTER_SOLUTION = ElementType.COUNTER_SOLUTION.value
SUPPORTED_BY = RelationType.SUPPORTED_BY.value
IN_CONTEXT_OF = RelationType.IN_CONTEXT_OF.value
CHALLENGES = RelationType.CHALLENGES.value

_CONTEXTUAL = frozenset(t.value for t in CONTEXTUAL_TYPES)
_COUNTER = frozenset(t.value for t in COUNTER_TYPES)
# Elements that are leaves of the argument: no outgoing supported_by / in_context_of (R6).
_LEAVES = _CONTEXTUAL | {SOLUTION, COUNTER_SOLUTION}
_PERMITTED_SUPPORT = {
    GOAL: frozenset({GOAL, STRATEGY, SOLUTION}),
    STRATEGY: frozenset({GOAL}),
    COUNTER_GOAL: frozenset({COUNTER_GOAL, COUNTER_SOLUTION}),
}
_PERMITTED_SUPPORT_TEXT = {
    GOAL: "a goal can only be supported by goals, strategies or solutions",
    STRATEGY: "a strategy can only be supported by goals",
    COUNTER_GOAL: "a counter-goal can only be supported by counter-goals or counter-solutions",
}

# gsn2x infers the type from these identifier prefixes, checked in this order.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("CG", COUNTER_GOAL),
    ("G", GOAL),
    ("CSn", COUNTER_SOLUTION),
    ("Sn", SOLUTION),
    ("S", STRATEGY),
    ("C", ElementType.CONTEXT.value),
    ("A", ElementType.ASSUMPTION.value),
    ("J", ElementType.JUSTIFICATION.value),
)
_PREFIX_SEPARATORS = frozenset("0123456789-_.")

_SEVERITY_ORDER = {ERROR: 0, WARNING: 1}
_MAX_LISTED = 10
_MAX_CYCLE_SHOWN = 12


# --------------------------------------------------------------------------------------------
# Small helpers


def type_from_identifier(identifier: str) -> tuple[str, str] | None:
    """The (prefix, type) a gsn2x identifier prefix denotes, or None when it denotes nothing.

    A prefix counts only when it is the whole identifier or is followed by a digit, '-', '_'
    or '.': "G-Top" is a goal and "Sn2a" a solution, but "SI-G2" and "CCSn1" denote nothing.
    """
    for prefix, type_ in _PREFIXES:
        if identifier.startswith(prefix):
            rest = identifier[len(prefix) :]
            if not rest or rest[0] in _PREFIX_SEPARATORS:
                return prefix, type_
            # A longer prefix starting with this one would be followed by a letter too.
            return None
    return None


def _identifier_key(text: str) -> tuple[Any, ...]:
    """Sort key putting G2 before G10; the text breaks ties (G02 and G2)."""
    return natural_key(text), text


def _sorted_ids(ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=_identifier_key)


def _type_name(type_: str) -> str:
    return type_.replace("_", "-")


def _a(type_: str) -> str:
    name = _type_name(type_)
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _show(identifier: str) -> str:
    return identifier if identifier.strip() else "(empty identifier)"


def _join(items: list[str]) -> str:
    if len(items) > _MAX_LISTED:
        items = [*items[:_MAX_LISTED], f"{len(items) - _MAX_LISTED} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _phrase(relation: Relation) -> str:
    """`relation` as the start of a sentence: "G1 is supported by G2"."""
    source, target = _show(relation.source), _show(relation.target)
    if relation.type == SUPPORTED_BY:
        return f"{source} is supported by {target}"
    if relation.type == IN_CONTEXT_OF:
        return f"{source} is in the context of {target}"
    if relation.type == CHALLENGES:
        if relation.target_relation:
            return (
                f"{source} challenges the relationship "
                f"{target} -> {_show(relation.target_relation)}"
            )
        return f"{source} challenges {target}"
    return f"{source} is linked to {target} by {relation.type!r}"


def _node(identifier: str) -> str | None:
    return identifier if identifier.strip() else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


# --------------------------------------------------------------------------------------------
# Indexes


class _Index:
    """Everything the rules look up, built in one pass over the argument."""

    def __init__(self, argument: Argument) -> None:
        self.argument = argument
        self.occurrences: dict[str, list[Element]] = defaultdict(list)
        for element in argument.elements:
            if element.identifier.strip():
                self.occurrences[element.identifier].append(element)
        # First occurrence of each identifier; duplicates are R1's business.
        self.elements: dict[str, Element] = {i: els[0] for i, els in self.occurrences.items()}

        # Distinct relations in input order (duplicates are R7's business).
        self.relations: list[Relation] = list(dict.fromkeys(argument.relations))

        # Resolved, non-self edges, children sorted naturally for deterministic walks.
        children: dict[str, set[str]] = defaultdict(set)
        parents: dict[str, set[str]] = defaultdict(set)
        contexts: dict[str, set[str]] = defaultdict(set)
        context_sources: dict[str, set[str]] = defaultdict(set)
        self.support_targets: dict[str, set[str]] = defaultdict(set)  # resolved or not
        self.challengers: set[str] = set()
        for rel in self.relations:
            if rel.type == SUPPORTED_BY:
                self.support_targets[rel.source].add(rel.target)
            if rel.type == CHALLENGES and rel.source in self.elements:
                self.challengers.add(rel.source)
            if not self.resolves(rel) or rel.source == rel.target:
                continue
            if rel.type == SUPPORTED_BY:
                children[rel.source].add(rel.target)
                parents[rel.target].add(rel.source)
            elif rel.type == IN_CONTEXT_OF:
                contexts[rel.source].add(rel.target)
                context_sources[rel.target].add(rel.source)
        self.children = {k: _sorted_ids(v) for k, v in children.items()}
        self.parents = {k: _sorted_ids(v) for k, v in parents.items()}
        self.contexts = {k: _sorted_ids(v) for k, v in contexts.items()}
        self.context_sources = {k: _sorted_ids(v) for k, v in context_sources.items()}

        # Filled by the extends check: foreign undeveloped element -> local developing elements.
        self.develops: dict[str, set[str]] = defaultdict(set)
        self.developed_by: dict[str, set[str]] = defaultdict(set)

    def resolves(self, rel: Relation) -> bool:
        return (
            rel.source in self.elements
            and rel.target in self.elements
            and (not rel.target_relation or rel.target_relation in self.elements)
        )

    def type_of(self, identifier: str) -> str:
        return self.elements[identifier].type

    def known(self, identifier: str) -> bool:
        element = self.elements.get(identifier)
        return element is not None and element.type in _KNOWN_TYPES


class _Findings(list):
    def add(self, rule: int, severity: str, node: str | None, message: str) -> None:
        self.append(Finding(rule=f"R{rule}", severity=severity, node=node, message=message))


# --------------------------------------------------------------------------------------------
# R1–R3: identity and content


def _check_identity(index: _Index, out: _Findings) -> None:
    for element in index.argument.elements:
        if not element.identifier.strip():
            where = f" in module {element.module}" if element.module else ""
            out.add(1, ERROR, None, f"An element ({_a(element.type)}{where}) has no identifier.")
    for identifier, occurrences in index.occurrences.items():
        if len(occurrences) < 2:
            continue
        modules = sorted({e.module for e in occurrences}, key=_identifier_key)
        if modules == [""]:
            where = ""
        elif len(modules) == 1:
            where = f" in module {modules[0]}"
        else:
            where = " in modules " + _join([m or "(no module)" for m in modules])
        out.add(
            1,
            ERROR,
            identifier,
            f"{identifier} is defined {len(occurrences)} times{where}; "
            "identifiers must be unique across the whole argument.",
        )


def _check_types_and_statements(index: _Index, out: _Findings) -> None:
    for element in index.argument.elements:
        identifier = element.identifier
        node = _node(identifier)
        if element.type not in _KNOWN_TYPES:
            out.add(
                2,
                ERROR,
                node,
                f"{_show(identifier)} has unknown type {element.type!r}; expected one of "
                + _join([_type_name(t.value) for t in ElementType])
                + ".",
            )
        else:
            inferred = type_from_identifier(identifier)
            if inferred is not None and inferred[1] != element.type:
                prefix, type_ = inferred
                out.add(
                    2,
                    WARNING,
                    node,
                    f"{identifier} is declared as {_a(element.type)} but its identifier prefix "
                    f"{prefix!r} denotes {_a(type_)}.",
                )
        if not (element.statement or "").strip():
            out.add(3, WARNING, node, f"{_show(identifier)} has no statement.")


# --------------------------------------------------------------------------------------------
# R4–R8: edge typing and references


def _check_relations(index: _Index, out: _Findings) -> None:
    seen: dict[Relation, int] = defaultdict(int)
    for rel in index.argument.relations:
        seen[rel] += 1
    for rel, count in seen.items():
        if count > 1:
            out.add(
                7,
                ERROR,
                _node(rel.source),
                f"{_phrase(rel)} {count} times; remove the duplicate relation.",
            )

    for rel in index.relations:
        node = _node(rel.source)
        if rel.type not in _KNOWN_RELATIONS:
            out.add(
                4,
                ERROR,
                node,
                f"{_phrase(rel)}, which is not a GSN relationship "
                "(expected supported_by, in_context_of or challenges).",
            )
        if rel.source == rel.target or (rel.target_relation and rel.target == rel.target_relation):
            out.add(7, ERROR, node, f"{_phrase(rel)}: an element cannot refer to itself.")

        ends = [rel.source, rel.target] + ([rel.target_relation] if rel.target_relation else [])
        missing = list(dict.fromkeys(e for e in ends if e not in index.elements))
        if missing:
            names = [_show(m) for m in missing]
            if missing == [ends[-1]]:
                tail = "which does not exist"
            else:
                tail = (
                    "but " + _join(names) + (" does" if len(names) == 1 else " do") + " not exist"
                )
            out.add(8, ERROR, node, f"{_phrase(rel)}, {tail}.")
            continue

        if rel.source == rel.target or rel.type not in _KNOWN_RELATIONS:
            continue
        _check_relation_types(index, rel, out)


def _check_relation_types(index: _Index, rel: Relation, out: _Findings) -> None:
    source, target = rel.source, rel.target
    if not index.known(source):
        return  # unknown types are reported under R2 only
    source_type = index.type_of(source)

    if rel.type == CHALLENGES:
        if source_type not in _COUNTER:
            out.add(
                4,
                ERROR,
                source,
                f"{_phrase(rel)}, but {source} is {_a(source_type)}; "
                "only counter-goals and counter-solutions may challenge.",
            )
        return

    if source_type in _LEAVES:
        verb = "supported by" if rel.type == SUPPORTED_BY else "in the context of"
        out.add(
            6,
            ERROR,
            source,
            f"{source} is {_a(source_type)} and cannot be {verb} {target}; "
            "solutions, contexts, assumptions, justifications and counter-solutions "
            "are leaves of the argument.",
        )
        return
    if not index.known(target):
        return
    target_type = index.type_of(target)

    if rel.type == SUPPORTED_BY:
        if target_type in _PERMITTED_SUPPORT[source_type]:
            return
        if source_type == STRATEGY and target_type == SOLUTION:
            out.add(
                4,
                WARNING,
                source,
                f"Strategy {source} is supported directly by solution {target}; insert a "
                f"sub-goal between {source} and {target} stating what {target} shows.",
            )
            return
        if source_type == STRATEGY and target_type == STRATEGY:
            # gsn2x accepts this (its V04 lets strategies support strategies), so files it
            # reads import; the standard's permitted connections do not include it.
            out.add(
                4,
                WARNING,
                source,
                f"Strategy {source} is supported directly by strategy {target}; the GSN "
                "Community Standard (v3, SCSC-141C, permitted SupportedBy connections) lets a "
                f"strategy be supported only by goals: state the claim that {target} argues "
                f"over as a sub-goal between {source} and {target}.",
            )
            return
        hint = "; use in_context_of for contextual elements" if target_type in _CONTEXTUAL else ""
        out.add(
            4,
            ERROR,
            source,
            f"{source} ({_type_name(source_type)}) is supported by {target} "
            f"({_type_name(target_type)}); {_PERMITTED_SUPPORT_TEXT[source_type]}{hint}.",
        )
        return

    # in_context_of
    if source_type not in (GOAL, STRATEGY):
        out.add(
            5,
            ERROR,
            source,
            f"{source} is {_a(source_type)} and cannot be in the context of {target}; "
            "only goals and strategies have context.",
        )
        return
    if target_type in _CONTEXTUAL:
        return
    source_module = index.elements[source].module
    target_module = index.elements[target].module
    if target_type == GOAL and source_module and target_module and source_module != target_module:
        return  # an away goal used as context
    out.add(
        5,
        ERROR,
        source,
        f"{source} is in the context of {target} ({_type_name(target_type)}); the context of "
        "a goal or strategy must be a context, an assumption, a justification or a goal of "
        "another module.",
    )


def _check_extends(index: _Index, out: _Findings) -> None:
    """R8 for module `extends`, and record the develops pairs as virtual edges."""
    known_modules = set(index.argument.modules) | {
        e.module for e in index.argument.elements if e.module
    }
    for module_name, block in index.argument.modules.items():
        if not isinstance(block, dict):
            continue
        for entry in _as_list(block.get("extends")):
            if not isinstance(entry, dict):
                out.add(
                    8,
                    ERROR,
                    None,
                    f"Module {module_name} has an extends entry {entry!r} without "
                    "a module name and develops map.",
                )
                continue
            foreign_module = str(entry.get("module") or "")
            if foreign_module not in known_modules:
                out.add(
                    8,
                    ERROR,
                    None,
                    f"Module {module_name} extends module {foreign_module or '(unnamed)'}, "
                    "which does not exist.",
                )
                continue
            develops = entry.get("develops") or {}
            if not isinstance(develops, dict):
                continue
            for foreign, locals_ in develops.items():
                foreign = str(foreign)
                prefix = f"Module {module_name} develops {foreign} of module {foreign_module}"
                element = index.elements.get(foreign)
                if element is None:
                    out.add(8, ERROR, foreign, f"{prefix}, but {foreign} does not exist.")
                else:
                    if element.module != foreign_module:
                        where = f"module {element.module}" if element.module else "no module"
                        out.add(8, ERROR, foreign, f"{prefix}, but {foreign} belongs to {where}.")
                    if not element.undeveloped:
                        out.add(
                            8,
                            ERROR,
                            foreign,
                            f"{prefix}, but {foreign} is not marked undeveloped.",
                        )
                for local in _as_list(locals_):
                    local = str(local)
                    if local not in index.elements:
                        out.add(
                            8,
                            ERROR,
                            _node(local),
                            f"Module {module_name} says {_show(local)} develops {foreign}, "
                            f"but {_show(local)} does not exist.",
                        )
                    elif element is not None and local != foreign:
                        index.develops[foreign].add(local)
                        index.developed_by[local].add(foreign)


# --------------------------------------------------------------------------------------------
# R9–R12: graph-level


def _format_cycle(cycle: list[str]) -> str:
    shown = [*cycle, cycle[0]]
    if len(shown) > _MAX_CYCLE_SHOWN:
        head, tail = shown[:5], shown[-5:]
        return " → ".join(head) + " → … → " + " → ".join(tail) + f" ({len(cycle)} elements)"
    return " → ".join(shown)


def _check_cycles(index: _Index, out: _Findings) -> None:
    children = index.children
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    reported: set[tuple[str, ...]] = set()
    for start in _sorted_ids(children):
        if start in state:
            continue
        path: list[str] = [start]
        position = {start: 0}
        state[start] = 1
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, i = stack[-1]
            kids = children.get(node, ())
            if i == len(kids):
                stack.pop()
                path.pop()
                del position[node]
                state[node] = 2
                continue
            stack[-1] = (node, i + 1)
            child = kids[i]
            child_state = state.get(child)
            if child_state is None:
                state[child] = 1
                position[child] = len(path)
                path.append(child)
                stack.append((child, 0))
            elif child_state == 1:
                cycle = path[position[child] :]
                first = min(range(len(cycle)), key=lambda k: _identifier_key(cycle[k]))
                cycle = cycle[first:] + cycle[:first]
                if tuple(cycle) in reported:
                    continue
                reported.add(tuple(cycle))
                out.add(
                    9,
                    ERROR,
                    cycle[0],
                    f"{cycle[0]} supports itself through the cycle {_format_cycle(cycle)}; "
                    "supported_by must not form cycles.",
                )


def _roots(index: _Index) -> list[str]:
    targets: set[str] = set(index.parents) | set(index.context_sources) | set(index.developed_by)
    return _sorted_ids(i for i in index.elements if i not in targets and i not in index.challengers)


def _check_roots_and_reachability(index: _Index, out: _Findings) -> None:
    if not index.elements:
        if not index.argument.elements:
            out.add(10, ERROR, None, "The argument has no elements, so it has no root goal.")
        return
    roots = _roots(index)
    if not roots:
        out.add(
            10,
            ERROR,
            None,
            "The argument has no root: every element is supported by, in the context of or "
            "developing another element, or challenges one.",
        )
        return  # every element would be an orphan; R11 would only repeat this
    for root in roots:
        type_ = index.type_of(root)
        if type_ in _KNOWN_TYPES and type_ != GOAL:
            out.add(
                10,
                ERROR,
                root,
                f"{root} is a root (nothing above it) but is {_a(type_)}; "
                "every root must be a goal.",
            )
    if len(roots) > 1:
        out.add(
            10,
            WARNING,
            None,
            f"The argument has {len(roots)} roots ({_join(roots)}); check that each is "
            "meant to be a top-level claim.",
        )

    reached = set(roots) | index.challengers
    queue = deque(reached)
    while queue:
        node = queue.popleft()
        for nxt in (
            *index.children.get(node, ()),
            *index.contexts.get(node, ()),
            *index.develops.get(node, ()),
        ):
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    for identifier in index.elements:
        if identifier not in reached:
            out.add(
                11,
                ERROR,
                identifier,
                f"{identifier} is not reachable from any root (orphan); connect it to the "
                "argument or remove it.",
            )


def _check_context_inheritance(index: _Index, out: _Findings) -> None:
    for context, sources in index.context_sources.items():
        if len(sources) < 2:
            continue
        holders = set(sources)
        for node in sources:
            # Breadth-first upwards: the nearest supported_by ancestor holding the same context.
            seen = {node}
            frontier = deque([node])
            ancestor = None
            while frontier and ancestor is None:
                current = frontier.popleft()
                for parent in index.parents.get(current, ()):
                    if parent in seen:
                        continue
                    if parent in holders:
                        ancestor = parent
                        break
                    seen.add(parent)
                    frontier.append(parent)
            if ancestor is not None:
                out.add(
                    12,
                    WARNING,
                    node,
                    f"{node} is in the context of {context}, which it already inherits from "
                    f"its ancestor {ancestor}; the link is redundant.",
                )


# --------------------------------------------------------------------------------------------
# R13–R16: development status


def _check_development(index: _Index, out: _Findings, strict: bool) -> None:
    # R15: everything from which a solution or an undeveloped element is reachable downwards.
    evidenced = {i for i, e in index.elements.items() if e.type == SOLUTION or e.undeveloped}
    queue = deque(evidenced)
    while queue:
        node = queue.popleft()
        for up in (*index.parents.get(node, ()), *index.developed_by.get(node, ())):
            if up not in evidenced:
                evidenced.add(up)
                queue.append(up)

    for identifier, element in index.elements.items():
        supports = index.support_targets.get(identifier, set())
        developed_elsewhere = identifier in index.develops
        if element.type in (GOAL, STRATEGY):
            if not supports and not element.undeveloped and not developed_elsewhere:
                out.add(
                    13,
                    WARNING,
                    identifier,
                    f"{identifier} ({element.type}) has no supporting elements; support it or "
                    "mark it undeveloped.",
                )
        if element.undeveloped and supports:
            out.add(
                14,
                ERROR,
                identifier,
                f"{identifier} is marked undeveloped but is supported by "
                f"{_join(_sorted_ids(supports))}; remove the mark or the support.",
            )
        if (
            element.type == GOAL
            and (supports or developed_elsewhere)
            and identifier not in evidenced
        ):
            out.add(
                15,
                WARNING,
                identifier,
                f"{identifier} has no path to evidence: nothing below it is a solution or an "
                "undeveloped element.",
            )
        if element.type == STRATEGY and len(supports) == 1:
            (child,) = supports
            out.add(
                15,
                WARNING,
                identifier,
                f"Strategy {identifier} has only one child, {_show(child)}; a strategy with a "
                "single sub-goal adds no inference.",
            )

    if strict:
        for rel in index.relations:
            if (
                rel.type == SUPPORTED_BY
                and rel.source != rel.target
                and index.resolves(rel)
                and index.type_of(rel.source) == GOAL
                and index.type_of(rel.target) == GOAL
            ):
                out.add(
                    16,
                    WARNING,
                    rel.source,
                    f"{rel.source} is supported directly by goal {rel.target}; strict mode "
                    "requires a strategy between two goals.",
                )


# --------------------------------------------------------------------------------------------


def _finding_order(finding: Finding) -> tuple[Any, ...]:
    node = finding.node
    return (
        _SEVERITY_ORDER.get(finding.severity, 2),
        int(finding.rule[1:]),
        node is not None,
        _identifier_key(node or ""),
        finding.message,
    )


def check_argument(argument: Argument, *, strict: bool = False) -> list[Finding]:
    """All R1–R16 findings for `argument`, errors first, then by rule number and node.

    `strict` adds R16 (goal supported directly by a goal).
    """
    index = _Index(argument)
    out = _Findings()
    _check_identity(index, out)
    _check_types_and_statements(index, out)
    _check_relations(index, out)
    _check_extends(index, out)
    _check_cycles(index, out)
    _check_roots_and_reachability(index, out)
    _check_context_inheritance(index, out)
    _check_development(index, out, strict)
    return sorted(set(out), key=_finding_order)
