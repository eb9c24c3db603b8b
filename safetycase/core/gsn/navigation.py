"""Ways of reading a large argument one part at a time (pure: no Django).

Templates name their elements with a prefix per argument (`SI-G2`, `HC-Sn4`), so a case built
from the scheming library splits into *argument views*: `SI`, `HI`, `HC`, `AL`, plus the top
level (`G0`, `S0`, …) that ties them together. A view draws the argument's own elements and the
context (assumptions, context, justifications) they are in the context of; elements of other
arguments it points to are drawn as away elements naming their argument. Any goal or strategy
can also be *folded*: the diagram then stops at it and says how many elements below it are
hidden.

Also here: the top goal of an argument (the case's overall verdict), and the scope of a node,
i.e. the elements whose context it inherits (GSN R12): its `supported_by` ancestors and the
contextual elements attached to it or to any of them.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from safetycase.core.gsn.model import CONTEXTUAL_TYPES, Argument, Element, RelationType

TOP = "top"
TOP_LABEL = "Top level"


@dataclass(frozen=True)
class ArgumentView:
    key: str  # the prefix, or TOP
    label: str
    size: int  # elements of its own (context not counted)


def top_goal(nodes: Iterable[tuple[str, str]], links: Iterable[tuple[str, str]]) -> str | None:
    """The root goal of an argument, the first by identifier when there are several: a goal
    that is no `supported_by` or `in_context_of` target. `nodes` are (identifier, type) pairs,
    `links` (target, type) pairs."""
    targets = {target for target, type_ in links if type_ in ("supported_by", "in_context_of")}
    roots = sorted(i for i, type_ in nodes if type_ == "goal" and i not in targets)
    return roots[0] if roots else None


def argument_prefix(identifier: str) -> str:
    """`SI` for `SI-G2`; "" for an identifier without a prefix."""
    prefix, dash, rest = identifier.partition("-")
    return prefix if dash and prefix and rest else ""


def argument_views(argument: Argument) -> list[ArgumentView]:
    """The argument views of a case: the top level first, then one per prefix in the order the
    argument reaches them from its root goals (SI before HI when G1 → SI-G0 comes first)."""
    prefixes = {argument_prefix(e.identifier) for e in argument.elements} - {""}
    if not prefixes:
        return []
    order = {prefix: i for i, prefix in enumerate(_prefixes_in_reading_order(argument))}
    views = []
    top = _top_level(argument)
    if top:
        views.append(ArgumentView(TOP, TOP_LABEL, len(top)))
    for prefix in sorted(prefixes, key=lambda p: (order.get(p, len(order)), p)):
        size = sum(1 for e in argument.elements if argument_prefix(e.identifier) == prefix)
        views.append(ArgumentView(prefix, prefix, size))
    return views


def view_of(argument: Argument, identifier: str) -> str | None:
    """The key of the view in which the element is one of the own elements (None: only as
    context, or the case has no views)."""
    prefix = argument_prefix(identifier)
    if prefix:
        return prefix
    return TOP if identifier in _top_level(argument) else None


def argument_view(argument: Argument, key: str) -> tuple[Argument, str]:
    """(argument, module) to draw with `diagrams.argument_dot(argument, module=module)`.

    The returned argument is the same graph with each element's module set to the view it
    belongs to: the view's own elements and their context share `module`, every other element
    is labelled with its own argument so it shows as an away element when the view points to
    it. Unknown keys give a view with nothing in it.
    """
    own = (
        _top_level(argument)
        if key == TOP
        else {e.identifier for e in argument.elements if argument_prefix(e.identifier) == key}
    )
    types = {e.identifier: e.type for e in argument.elements}
    context = {
        r.target
        for r in argument.relations
        if r.type == RelationType.IN_CONTEXT_OF
        and r.source in own
        and types.get(r.target) in CONTEXTUAL_TYPES
    }
    module = f"view:{key}"
    shown = own | context

    def labelled(element: Element) -> Element:
        if element.identifier in shown:
            return replace(element, module=module)
        prefix = argument_prefix(element.identifier)
        return replace(element, module=prefix or TOP_LABEL.lower())

    return (
        Argument(
            elements=[labelled(e) for e in argument.elements],
            relations=list(argument.relations),
            modules={},
        ),
        module,
    )


@dataclass(frozen=True)
class ScopeEntry:
    identifier: str  # the contextual element
    via: str  # the node (the element itself or an ancestor) it is in the context of


def fold(argument: Argument, folded: Iterable[str]) -> tuple[Argument, dict[str, int]]:
    """The argument with everything below the `folded` elements hidden, and for each folded
    element how many elements it hides.

    Hidden are the elements reached from a folded element through `supported_by` (and their
    context) that cannot be reached from a root goal without passing through a folded element:
    a sub-argument shared with an unfolded part stays. A folded element keeps its own context.
    Elements no root reaches (in a cycle) stay, since no fold hides them.
    """
    below = hidden_below(argument, folded)
    if not below:
        return argument, {}
    hidden = set().union(*below.values())
    shown = {e.identifier for e in argument.elements} - hidden
    return (
        Argument(
            elements=[e for e in argument.elements if e.identifier in shown],
            relations=[r for r in argument.relations if r.source in shown and r.target in shown],
            modules=argument.modules,
        ),
        {i: len(hidden_set) for i, hidden_set in below.items()},
    )


def hidden_below(argument: Argument, folded: Iterable[str]) -> dict[str, set[str]]:
    """For each folded element that stays drawn (`fold`), the elements below it that folding
    hides; elements that hide nothing are left out."""
    folded = {i for i in folded if any(r.source == i for r in argument.relations)}
    if not folded:
        return {}
    children: dict[str, list[tuple[str, RelationType]]] = {}
    for relation in argument.relations:
        children.setdefault(relation.source, []).append((relation.target, relation.type))
    identifiers = {e.identifier for e in argument.elements}
    targets = {r.target for r in argument.relations}

    def reach(starts: Iterable[str], *, stop: set[str]) -> set[str]:
        seen = set(starts)
        queue = deque(seen)
        while queue:
            current = queue.popleft()
            for child, type_ in children.get(current, ()):
                if current in stop and type_ != RelationType.IN_CONTEXT_OF:
                    continue
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
        return seen

    roots = identifiers - targets
    visible = reach(roots, stop=folded)
    unreached = identifiers - reach(roots, stop=set())
    hidden = identifiers - visible - unreached
    below = {}
    for identifier in sorted(folded & visible):
        own = (reach([identifier], stop=set()) - {identifier}) & hidden
        if own:
            below[identifier] = own
    return below


# The order of a roll-up: the verdicts a reviewer looks for first.
ROLLUP_ORDER = ("defeated", "at_risk", "undeveloped", "supported")


def fold_rollups(
    argument: Argument, folded: Iterable[str], statuses: Mapping[str, str]
) -> dict[str, list[tuple[str, int]]]:
    """For each folded element that hides something, the statuses of the elements it hides
    as (status, how many) pairs, worst first: what a reader of the folded diagram would
    otherwise have to unfold to see. Elements without a status (context) are not counted."""
    rollups = {}
    for identifier, hidden in hidden_below(argument, folded).items():
        counts = Counter(statuses[i] for i in hidden if statuses.get(i) in ROLLUP_ORDER)
        rollups[identifier] = [
            (status, counts[status]) for status in ROLLUP_ORDER if counts[status]
        ]
    return rollups


def supported_by_ancestors(argument: Argument, identifier: str) -> list[str]:
    """Every element the node supports, directly or not, nearest first."""
    parents: dict[str, list[str]] = {}
    for r in argument.relations:
        if r.type == RelationType.SUPPORTED_BY:
            parents.setdefault(r.target, []).append(r.source)
    seen = {identifier}
    order: list[str] = []
    queue = deque([identifier])
    while queue:
        for parent in sorted(parents.get(queue.popleft(), [])):
            if parent not in seen:
                seen.add(parent)
                order.append(parent)
                queue.append(parent)
    return order


def scope(argument: Argument, identifier: str) -> list[ScopeEntry]:
    """The contextual elements in the node's scope: those in the context of the node itself or
    of any `supported_by` ancestor (GSN R12, as the assessment applies assumptions), each once,
    with the nearest node it is attached to."""
    types = {e.identifier: e.type for e in argument.elements}
    attached: dict[str, list[str]] = {}
    for r in argument.relations:
        if r.type == RelationType.IN_CONTEXT_OF and types.get(r.target) in CONTEXTUAL_TYPES:
            attached.setdefault(r.source, []).append(r.target)
    entries: list[ScopeEntry] = []
    seen: set[str] = set()
    for via in [identifier, *supported_by_ancestors(argument, identifier)]:
        for target in sorted(attached.get(via, [])):
            if target not in seen:
                seen.add(target)
                entries.append(ScopeEntry(target, via))
    return entries


def _top_level(argument: Argument) -> set[str]:
    """Elements without a prefix that belong to the top of the argument: linked to another
    unprefixed element, or not linked at all. Catalogue assumptions (A01…) attached only to
    prefixed elements are context of those arguments, not top level."""
    unprefixed = {e.identifier for e in argument.elements if not argument_prefix(e.identifier)}
    linked: set[str] = set()
    top: set[str] = set()
    for r in argument.relations:
        linked.update((r.source, r.target))
        if r.source in unprefixed and r.target in unprefixed:
            top.update((r.source, r.target))
    return top | (unprefixed - linked)


def _prefixes_in_reading_order(argument: Argument) -> list[str]:
    """Prefixes in the order a reader meets them: depth first from the root goals along
    `supported_by`, children in identifier order."""
    children: dict[str, list[str]] = {}
    targets = set()
    for r in argument.relations:
        targets.add(r.target)
        if r.type == RelationType.SUPPORTED_BY:
            children.setdefault(r.source, []).append(r.target)
    roots = sorted(e.identifier for e in argument.elements if e.identifier not in targets)
    order: list[str] = []
    seen: set[str] = set()
    stack = list(reversed(roots))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        prefix = argument_prefix(current)
        if prefix and prefix not in order:
            order.append(prefix)
        stack.extend(reversed(sorted(children.get(current, []))))
    return order


@dataclass(frozen=True)
class ChainLink:
    identifier: str
    type: str
    statement: str
    status: str | None
    reason: str | None
    via: str = ""  # for scope entries: the node the element is attached to


@dataclass(frozen=True)
class NodeChain:
    """The rule chain behind a node's status, from a stored assessment: what it supports, what
    supports it, and the context it inherits (assumptions with their state)."""

    parents: list[ChainLink]  # the elements it supports directly
    children: list[ChainLink]  # its supported_by children
    assumptions: list[ChainLink]  # assumptions in scope, nearest first
    context: list[ChainLink]  # context and justifications in scope
    context_of: list[ChainLink]  # for a contextual element: the nodes it is attached to
    challenges: list[tuple[str, str]]  # (source, target) of challenges touching the node
    # For an assumption: the solutions below the nodes it is attached to, whose evidence runs
    # its checks without a selector apply to.
    solutions_in_scope: list[ChainLink]


def node_chain(
    argument: Argument,
    identifier: str,
    statuses: dict[str, str] | None = None,
    reasons: dict[str, str] | None = None,
) -> NodeChain:
    statuses = statuses or {}
    reasons = reasons or {}
    elements = {e.identifier: e for e in argument.elements}

    def link(other: str, via: str = "") -> ChainLink:
        element = elements.get(other)
        return ChainLink(
            identifier=other,
            type=element.type if element else "",
            statement=element.statement if element else "",
            status=statuses.get(other),
            reason=reasons.get(other),
            via=via,
        )

    relations = sorted(argument.relations, key=lambda r: (r.source, r.type, r.target))
    supported_by = [r for r in relations if r.type == RelationType.SUPPORTED_BY]
    in_scope = [link(e.identifier, e.via) for e in scope(argument, identifier)]
    return NodeChain(
        parents=[link(r.source) for r in supported_by if r.target == identifier],
        children=[link(r.target) for r in supported_by if r.source == identifier],
        assumptions=[c for c in in_scope if c.type == "assumption"],
        context=[c for c in in_scope if c.type != "assumption"],
        context_of=[
            link(r.source)
            for r in relations
            if r.type == RelationType.IN_CONTEXT_OF and r.target == identifier
        ],
        challenges=[
            (r.source, r.target)
            for r in relations
            if r.type == RelationType.CHALLENGES and identifier in (r.source, r.target)
        ],
        solutions_in_scope=[link(i) for i in solutions_in_scope(argument, identifier)],
    )


def solutions_in_scope(argument: Argument, identifier: str) -> list[str]:
    """The solutions `supported_by`-below the elements the given contextual element is in the
    context of (those whose evidence an assumption's selector-less checks look at)."""
    types = {e.identifier: e.type for e in argument.elements}
    children: dict[str, list[str]] = {}
    for r in argument.relations:
        if r.type == RelationType.SUPPORTED_BY:
            children.setdefault(r.source, []).append(r.target)
    queue = deque(
        r.source
        for r in argument.relations
        if r.type == RelationType.IN_CONTEXT_OF and r.target == identifier
    )
    seen = set(queue)
    found = set()
    while queue:
        current = queue.popleft()
        if types.get(current) == "solution":
            found.add(current)
        for child in children.get(current, []):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return sorted(found)
