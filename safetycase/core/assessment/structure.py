"""The case structure: everything that depends only on nodes, relations and bindings — one node
per identifier, the support graph, children-first order, assumptions in scope, bindings by task,
root rules and the static flags (GSN well-formedness, unfilled parameters, bad combinations)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from safetycase.core.assessment.facts import (
    ARGUED_TYPES,
    ASSUMPTION,
    ERROR,
    FLAG_TYPES,
    GOAL,
    IN_CONTEXT_OF,
    SOLUTION,
    STATUS_TYPES,
    SUPPORT_TYPES,
    SUPPORTED_BY,
    BindingFacts,
    Flag,
    NodeFacts,
    flag_sort_key,
)
from safetycase.core.assessment.guards import PreparedExpression, placeholders
from safetycase.core.assessment.joint import rested_bounds
from safetycase.core.assessment.paired import paired_selector
from safetycase.core.assessment.refutation import refutation_reach
from safetycase.core.assessment.wording import joined
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.core.gsn.rules import check_argument
from safetycase.core.keys import id_key, natural_key


class CaseStructure:
    """The indexes and static flags of a case's nodes, relations and bindings; rebuilt only when
    one of them changes."""

    def __init__(
        self,
        nodes: tuple[NodeFacts, ...],
        relations: tuple[Relation, ...],
        bindings: tuple[BindingFacts, ...],
        expression: Any,
    ) -> None:
        groups = self._choose_nodes(nodes)
        type_of = {i: n.type for i, n in self.nodes.items()}
        contexts = self._index_links(relations, type_of)
        self._index_bindings(bindings, type_of, expression)
        extra_deps = self._index_root_rules(type_of, expression)
        self._order(extra_deps)
        self._index_scope(contexts, type_of)
        self._find_evidenced(type_of)
        self._index_refutations()
        self.static_flags = self._static_flags(nodes, relations, groups)
        # The confidence bounds each node rests on (joint.py), for joint_confidence_low.
        self.rested_bounds = rested_bounds(
            self.order, self.nodes, self.children, self.needed, self.node_bindings
        )
        # Findings derived from the structure alone, computed when first needed (scale.py).
        self.derived: dict[Any, Any] = {}
        # Solution -> the goals with a deployment scale (scale.py) whose bounds rest on it: their
        # flag reads the solution's evidence, so a change of its runs re-derives them.
        self.scale_watchers: dict[str, list[str]] = defaultdict(list)
        for i, node in self.nodes.items():
            if node.type == GOAL and "deployment_scale" in (node.attributes or {}):
                for solution in sorted({u.solution for u in self.rested_bounds.get(i, ())}):
                    self.scale_watchers[solution].append(i)

    def _choose_nodes(self, nodes: tuple[NodeFacts, ...]) -> dict[str, list[NodeFacts]]:
        """One node per identifier, chosen deterministically when duplicated (R1 reports it);
        returns every node given, per identifier."""
        groups: dict[str, list[NodeFacts]] = defaultdict(list)
        for node in nodes:
            groups[node.identifier].append(node)
        chosen: dict[str, NodeFacts] = {}
        for identifier, group in groups.items():
            if len(group) > 1:
                group.sort(key=lambda n: (n.type, n.statement, n.combination, repr(n)))
            chosen[identifier] = group[0]
        self.ids = sorted(chosen, key=natural_key)
        self.nodes = {i: chosen[i] for i in self.ids}
        self.rank = {i: r for r, i in enumerate(self.ids)}
        return groups

    def _index_links(
        self, relations: tuple[Relation, ...], type_of: dict[str, str]
    ) -> dict[str, set[str]]:
        """Edges between known nodes (no self-loops; duplicates collapse); returns the
        assumptions in the context of each node."""
        children: dict[str, set[str]] = defaultdict(set)
        parents: dict[str, set[str]] = defaultdict(set)
        contexts: dict[str, set[str]] = defaultdict(set)
        holders: dict[str, set[str]] = defaultdict(set)
        for rel in set(relations):
            s, t = rel.source, rel.target
            if s == t or s not in type_of or t not in type_of:
                continue
            if rel.type == SUPPORTED_BY:
                if type_of[s] in ARGUED_TYPES and type_of[t] in SUPPORT_TYPES:
                    children[s].add(t)
                    parents[t].add(s)
            elif rel.type == IN_CONTEXT_OF and type_of[t] == ASSUMPTION:
                contexts[s].add(t)
                holders[t].add(s)
        order_key = self.rank.__getitem__
        self.children = {i: sorted(v, key=order_key) for i, v in children.items()}
        self.parents = {i: sorted(v, key=order_key) for i, v in parents.items()}
        self.holders = {i: sorted(v, key=order_key) for i, v in holders.items()}

        self.support_ids = [i for i in self.ids if type_of[i] in SUPPORT_TYPES]
        self.assumption_ids = [i for i in self.ids if type_of[i] == ASSUMPTION]
        self.status_ids = [i for i in self.ids if type_of[i] in STATUS_TYPES]
        return contexts

    def _index_bindings(
        self, bindings: tuple[BindingFacts, ...], type_of: dict[str, str], expression: Any
    ) -> None:
        """Bindings per node, in id order; duplicates of an id keep the first in that order."""
        by_id: dict[Any, BindingFacts] = {}
        malformed: set[Any] = set()
        for b in sorted(bindings, key=lambda b: (id_key(b.id), b.node, b.expression)):
            if b.id in by_id:
                continue
            if not isinstance(b.selector or {}, Mapping):
                malformed.add(b.id)
                b = dataclasses.replace(b, selector={})
            days = b.freshness_days
            if days is not None and not (
                isinstance(days, int | float) and not isinstance(days, bool) and days > 0
            ):
                try:
                    freshness = float(b.freshness_days)
                except (TypeError, ValueError):
                    freshness = math.nan
                if not freshness > 0:  # also NaN
                    malformed.add(b.id)
                    freshness = None
                b = dataclasses.replace(b, freshness_days=freshness)
            by_id[b.id] = b
        self.bindings = by_id
        self.node_bindings: dict[str, list[BindingFacts]] = defaultdict(list)
        for b in by_id.values():
            if b.node in type_of and type_of[b.node] in (SOLUTION, ASSUMPTION):
                self.node_bindings[b.node].append(b)
        self.expressions = {b.id: expression(b.expression) for b in by_id.values()}
        for bid in malformed:
            self.expressions[bid] = dataclasses.replace(
                self.expressions[bid],
                compiled=None,
                error="Its selector is not a map or its freshness window is not a positive "
                "number of days.",
            )
        self.bindings_by_task: dict[str, list[Any]] = defaultdict(list)
        self.bindings_any_task: list[Any] = []
        for bid, b in by_id.items():
            selectors = [b.selector or {}]
            # A paired check also depends on the runs of its condition b.
            control = paired_selector(b.selector or {})
            if control is not None:
                selectors.append(control)
            tasks: set[str] = set()
            for selector in selectors:
                task = selector.get("task")
                if task in (None, ""):
                    tasks.add("")
                elif isinstance(task, list | tuple):
                    tasks.update(str(t) for t in task)
                else:
                    tasks.add(str(task))
            for task in sorted(tasks):
                if task == "":
                    self.bindings_any_task.append(bid)
                else:
                    self.bindings_by_task[task].append(bid)

    def _index_root_rules(self, type_of: dict[str, str], expression: Any) -> dict[str, set[str]]:
        """Root rules: their node depends on the factor goals as well as on its children;
        returns those extra dependencies."""
        self.root_rules: dict[str, RootRules] = {}
        extra_deps: dict[str, set[str]] = defaultdict(set)
        for i in self.ids:
            rules = self.nodes[i].attributes.get("root_rules") if self.nodes[i].attributes else None
            if type_of[i] in ARGUED_TYPES and isinstance(rules, Mapping):
                parsed = RootRules(rules, expression)
                self.root_rules[i] = parsed
                for goal in parsed.goals:
                    if goal in type_of and type_of[goal] in SUPPORT_TYPES and goal != i:
                        extra_deps[i].add(goal)
        self.dependents: dict[str, list[str]] = {
            i: list(self.parents.get(i, ())) for i in self.support_ids
        }
        for node, goals in extra_deps.items():
            for goal in goals:
                if node not in self.dependents[goal]:
                    self.dependents[goal].append(node)
        return extra_deps

    def _order(self, extra_deps: dict[str, set[str]]) -> None:
        """Children-first order (Kahn); nodes on cycles are forced in and marked cyclic."""
        deps = {
            i: set(self.children.get(i, ())) | extra_deps.get(i, set()) for i in self.support_ids
        }
        self.order, self.cyclic = _children_first(self.support_ids, deps, self.dependents)
        self.position = {i: p for p, i in enumerate(self.order)}

    def _index_scope(self, contexts: dict[str, set[str]], type_of: dict[str, str]) -> None:
        """Assumptions in scope (context inheritance over supported_by), parents first."""
        order_key = self.rank.__getitem__
        empty: frozenset[str] = frozenset()
        scope: dict[str, frozenset[str]] = {}
        for _ in range(len(self.order) + 1):
            changed = False
            for i in reversed(self.order):
                direct = contexts.get(i)
                ps = self.parents.get(i, ())
                if not ps:
                    new = frozenset(direct) if direct else empty
                elif len(ps) == 1 and not direct:
                    new = scope.get(ps[0], empty)
                else:
                    new = frozenset(direct or ()).union(*(scope.get(p, empty) for p in ps))
                if scope.get(i) != new:
                    scope[i] = new
                    changed = True
            if not changed or not self.cyclic:
                break
        self.scope = scope
        self.in_scope_of: dict[str, list[str]] = defaultdict(list)  # assumption -> nodes
        self.scope_solutions: dict[str, list[str]] = defaultdict(list)
        needs_runs = {
            a
            for a in self.assumption_ids
            if any(not (b.selector or {}) for b in self.node_bindings.get(a, ()))
        }
        for i in self.order:
            for a in scope.get(i, empty):
                if type_of[i] in ARGUED_TYPES:
                    self.in_scope_of[a].append(i)
                elif a in needs_runs:
                    self.scope_solutions[a].append(i)
        for a in self.scope_solutions:
            self.scope_solutions[a].sort(key=order_key)
        self.assumptions_of_solution: dict[str, list[str]] = defaultdict(list)
        for a, sols in self.scope_solutions.items():
            for s in sols:
                self.assumptions_of_solution[s].append(a)

    def _index_refutations(self) -> None:
        """The refuting solutions that reach each goal or strategy (see refutation.py); each
        such node depends on them directly, since the nodes between may not change status."""
        self.refuted_by = refutation_reach(self.nodes, self.parents, self.children)
        for node, solutions in self.refuted_by.items():
            for solution in solutions:
                if node not in self.dependents[solution]:
                    self.dependents[solution].append(node)

    def _find_evidenced(self, type_of: dict[str, str]) -> None:
        """Nodes from which a solution can be reached (a "developed" branch)."""
        evidenced = {i for i in self.support_ids if type_of[i] == SOLUTION}
        stack = list(evidenced)
        while stack:
            node = stack.pop()
            for p in self.parents.get(node, ()):
                if p not in evidenced:
                    evidenced.add(p)
                    stack.append(p)
        self.evidenced = evidenced

    def _static_flags(
        self,
        nodes: tuple[NodeFacts, ...],
        relations: tuple[Relation, ...],
        groups: dict[str, list[NodeFacts]],
    ) -> dict[str, list[Flag]]:
        """Static flags: GSN well-formedness, unfilled parameters, bad combinations."""
        static: dict[str, list[Flag]] = defaultdict(list)
        ordered_nodes = [n for i in self.ids for n in groups[i]]
        ordered_nodes += [n for n in nodes if n.identifier not in self.nodes]
        argument = Argument(
            elements=[
                Element(
                    identifier=n.identifier,
                    type=n.type,
                    statement=n.statement,
                    undeveloped=n.undeveloped,
                    attributes=n.attributes if isinstance(n.attributes, dict) else {},
                )
                for n in ordered_nodes
            ],
            relations=sorted(set(relations), key=self._relation_key),
        )
        for finding in check_argument(argument):
            node = finding.node or ""
            static[node].append(
                Flag("ill_formed", finding.severity, node, None, finding.rule, finding.message)
            )
        self.unresolved: dict[str, list[str]] = {}
        for i, node in self.nodes.items():
            found = placeholders(node.statement)
            if found:
                self.unresolved[i] = found
                static[i].append(
                    Flag(
                        "unresolved_parameter",
                        ERROR,
                        i,
                        None,
                        "",
                        f"The statement of {i} still contains the unfilled parameter"
                        f"{'s' if len(found) > 1 else ''} {joined(found)}; give "
                        f"{'them values' if len(found) > 1 else 'it a value'} in the case.",
                    )
                )
        for b in self.bindings.values():
            found = placeholders([b.expression, dict(b.selector or {})])
            if found and b.node in self.nodes:
                static[b.node].append(
                    Flag(
                        "unresolved_parameter",
                        ERROR,
                        b.node,
                        None,
                        "",
                        f"The evidence binding {b.id} of {b.node} still contains the unfilled "
                        f"parameter{'s' if len(found) > 1 else ''} {joined(found)} in its "
                        "expression or selector.",
                    )
                )
        self.needed: dict[str, int] = {}
        for i in self.support_ids:
            node = self.nodes[i]
            if node.type not in ARGUED_TYPES:
                continue
            combination = (node.combination or "all").strip()
            total = len(self.children.get(i, ()))
            if combination == "all":
                self.needed[i] = total
            elif combination == "any":
                self.needed[i] = min(1, total)
            elif (match := re.fullmatch(r"at_least:\s*([0-9]+)", combination)) is not None:
                self.needed[i] = int(match.group(1))
            else:
                self.needed[i] = total
                static[i].append(
                    Flag(
                        "ill_formed",
                        ERROR,
                        i,
                        None,
                        "combination",
                        f"{i} combines its children by {combination!r}, which is not all, any "
                        "or at_least:<k>; it is read as all.",
                    )
                )
        return {n: sorted(fs, key=flag_sort_key) for n, fs in static.items()}

    def _relation_key(self, rel: Relation) -> tuple[Any, ...]:
        rank = self.rank
        missing = len(rank)
        return (
            rank.get(rel.source, missing),
            rel.source,
            rank.get(rel.target, missing),
            rel.target,
            rel.type,
            rel.target_relation,
        )


def _children_first(
    ids: list[str], deps: dict[str, set[str]], dependents: dict[str, list[str]]
) -> tuple[list[str], frozenset[str]]:
    pending = {i: len(deps[i]) for i in ids}
    ready = [i for i in reversed(ids) if pending[i] == 0]
    order: list[str] = []
    done: set[str] = set()

    def drain() -> None:
        while ready:
            node = ready.pop()
            order.append(node)
            done.add(node)
            for d in dependents.get(node, ()):
                pending[d] -= 1
                if pending[d] == 0:
                    ready.append(d)

    drain()
    cyclic: set[str] = set()
    if len(order) < len(ids):
        remaining = [i for i in ids if i not in done]
        cyclic = _on_cycles(remaining, deps, dependents)
        for node in remaining:
            if node in cyclic:
                order.append(node)
                done.add(node)
        for node in remaining:
            if node in cyclic:
                for d in dependents.get(node, ()):
                    if d not in cyclic:
                        pending[d] -= 1
                        if pending[d] == 0:
                            ready.append(d)
        drain()
    return order, frozenset(cyclic)


def _on_cycles(
    remaining: list[str], deps: dict[str, set[str]], dependents: dict[str, list[str]]
) -> set[str]:
    """Nodes of `remaining` in a strongly connected component with a cycle (iterative
    Kosaraju over the dependency edges)."""
    members = set(remaining)
    seen: set[str] = set()
    finished: list[str] = []
    for start in remaining:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(deps[start])))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if nxt in members and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(sorted(deps[nxt]))))
                    break
            else:
                stack.pop()
                finished.append(node)
    assigned: set[str] = set()
    cyclic: set[str] = set()
    for start in reversed(finished):
        if start in assigned:
            continue
        component = [start]
        assigned.add(start)
        stack = [start]
        while stack:
            node = stack.pop()
            for nxt in dependents.get(node, ()):
                if nxt in members and nxt not in assigned:
                    assigned.add(nxt)
                    component.append(nxt)
                    stack.append(nxt)
        if len(component) > 1:
            cyclic.update(component)
    return cyclic


class RootRules:
    """The parsed `root_rules` attribute of a top goal (see library/root.yaml)."""

    def __init__(self, raw: Mapping[str, Any], expression: Any) -> None:
        self.problem = ""
        self.threshold = raw.get("threshold")
        outcomes = raw.get("outcomes")
        self.outcomes = list(outcomes) if isinstance(outcomes, list | tuple) else []
        self.factors: list[dict[str, Any]] = []
        for factor in raw.get("factors") or ():
            if isinstance(factor, Mapping) and factor.get("id") is not None:
                self.factors.append(dict(factor))
        self.goals = [str(f.get("goal", "")) for f in self.factors]
        self.rules: list[tuple[str, str, str, str, PreparedExpression]] = []
        for index, rule in enumerate(raw.get("rules") or (), start=1):
            if not isinstance(rule, Mapping):
                continue
            code = str(rule.get("code") or f"rule {index}")
            flag = str(rule.get("flag") or "criterion_failed")
            if flag not in FLAG_TYPES:
                flag = "criterion_failed"
            statement = " ".join(str(rule.get("statement") or "").split())
            self.rules.append(
                (
                    code,
                    flag,
                    statement,
                    str(rule.get("check") or ""),
                    expression(str(rule.get("check") or ""), root=True),
                )
            )
        if not isinstance(self.threshold, int | float) or isinstance(self.threshold, bool):
            self.problem = f"its threshold {self.threshold!r} is not a number"
