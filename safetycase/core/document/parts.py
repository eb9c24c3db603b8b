"""Splitting the argument diagram into pages a reviewer can read (pure: no Django).

The whole argument is drawn on one page when it fits; otherwise one diagram per argument
(module, else the template the nodes came from, else the identifier prefix: `SI-G1` belongs to
SI), and an argument too big for its page is cut further:

* a part with several top nodes is packed into as few pages as fit, keeping neighbours together;
* a part with one top node keeps as many levels below it as fit ("head"); the subtrees below
  the cut are packed the same way, recursively.

"Fits" means that the diagram, scaled to the drawing area of an A4 page, else an A3 page (either
orientation), keeps at least MIN_SCALE of its size: the PDF's diagrams draw no text under
10 pt (diagrams.PRINT), so nothing prints under MIN_PRINT_PT (7 pt). Each diagram gets the
smallest such page and is scaled up to fill it (up to MAX_SCALE). A part that cannot be cut
further goes on an A2 page, at MIN_SCALE or more when it fits there. Parts of one argument
that fit together share a page. Every part draws its own nodes with their context, assumptions
and justifications, with their statements whole and wide fan-outs wrapped onto rows; nodes it
leads to that are drawn elsewhere appear as away elements whose band names the diagram where
they continue (DIAGRAM_BAND), and the page lists those diagrams with their page numbers
(`continues`, `continued_from`).

Rendering DOT to SVG is the caller's (`render`), so the planner stays pure and testable; each
distinct node set is rendered once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from safetycase.core.diagrams import PRINT, PRINT_SMALLEST_FONT, argument_dot
from safetycase.core.gsn.model import CONTEXTUAL_TYPES, Argument, Element, RelationType

MIN_PRINT_PT = 7.0  # no diagram text prints smaller
MIN_SCALE = MIN_PRINT_PT / PRINT_SMALLEST_FONT
MAX_SCALE = 1.5  # a small diagram grows to fill its page, up to this
# Page sizes in pt (portrait) and the drawing area the Typst template leaves on a diagram page.
PAPERS = {"a4": (595.28, 841.89), "a3": (841.89, 1190.55), "a2": (1190.55, 1683.78)}
SPLIT_PAPERS = ("a4", "a3")  # a diagram that needs more is cut, while it can be
MARGIN_X = 28.0
MARGIN_TOP = 28.0
MARGIN_BOTTOM = 40.0  # the page number sits in the bottom margin
# Diagram heading, what it shows, the legend and where it continues, above the drawing.
HEADER = 92.0
DIAGRAM_BAND = "continued in diagram {number}"
# So few elements fit on any page: no need to render them to know.
SURELY_FITS = 5
_OWN = "\x00part"  # module given to the elements a part draws as its own
_SIZE = re.compile(r'<svg[^>]*?\swidth="([\d.]+)pt"[^>]*?\sheight="([\d.]+)pt"', re.S)


@dataclass
class Part:
    """One diagram page: its own nodes (tree nodes; their context is added when drawn)."""

    group: str
    members: list[str]  # own tree nodes in argument order
    roots: list[str]  # members whose parent is drawn elsewhere (or that have none)
    number: int = 0
    count: int = 0  # elements drawn as its own, context included
    title: str = ""
    subtitle: str = ""
    svg: str = ""
    width: float = 0.0
    height: float = 0.0
    page: dict[str, Any] = field(default_factory=dict)
    # Where the argument goes on: [{"number": diagram, "identifiers": [...]}], and where the
    # elements at its top hang from.
    continues: list[dict[str, Any]] = field(default_factory=list)
    continued_from: list[dict[str, Any]] = field(default_factory=list)


def svg_size(svg: str) -> tuple[float, float]:
    """(width, height) in pt of a Graphviz SVG."""
    match = _SIZE.search(svg)
    if not match:
        raise ValueError("The SVG has no width/height in pt.")
    return float(match.group(1)), float(match.group(2))


def page_for(
    width: float, height: float, papers: Sequence[str] = (*SPLIT_PAPERS, "a2")
) -> dict[str, Any]:
    """The smallest of `papers` (in the better orientation) that shows a diagram of this size
    at MIN_SCALE or more, with the scale that fills it (at most MAX_SCALE); the last paper,
    scaled to fit, when none does."""
    best: dict[str, Any] = {}
    for paper in papers:
        options = []
        for flipped in (False, True):
            w, h = PAPERS[paper]
            if flipped:
                w, h = h, w
            area_w = w - 2 * MARGIN_X
            area_h = h - MARGIN_TOP - MARGIN_BOTTOM - HEADER
            scale = min(MAX_SCALE, area_w / max(width, 1.0), area_h / max(height, 1.0))
            options.append((scale, not flipped, paper, flipped))
        scale, _, paper, flipped = max(options)
        best = {"paper": paper, "flipped": flipped, "scale": scale}
        if scale >= MIN_SCALE:
            break
    best["margin"] = {"x": MARGIN_X, "top": MARGIN_TOP, "bottom": MARGIN_BOTTOM}
    return best


def fits(width: float, height: float) -> bool:
    """Whether a diagram of this size is legible on one of the SPLIT_PAPERS (else it is cut)."""
    return page_for(width, height, SPLIT_PAPERS)["scale"] >= MIN_SCALE


class Planner:
    """Plans (and renders, through `render`) the diagram pages of an argument."""

    def __init__(
        self,
        argument: Argument,
        *,
        statuses: Mapping[str, str] | None,
        group_of: Callable[[Element], str],
        group_titles: Mapping[str, str],
        render: Callable[[str], str],
        order: Sequence[str],
    ) -> None:
        self.argument = argument
        self.statuses = dict(statuses or {})
        self.render_dot = render
        self.group_titles = group_titles
        self.elements = {e.identifier: e for e in argument.elements}
        self.position = {identifier: i for i, identifier in enumerate(order)}
        for identifier in sorted(self.elements):
            self.position.setdefault(identifier, len(self.position))
        self.tree = [
            i
            for i in sorted(self.elements, key=self.position.__getitem__)
            if self.elements[i].type not in CONTEXTUAL_TYPES
        ]
        tree_set = set(self.tree)
        self.group = {i: group_of(self.elements[i]) for i in self.tree}
        # Children for cutting: supported_by targets and the elements that challenge a node.
        children: dict[str, set[str]] = {}
        self.contextual: dict[str, list[str]] = {}
        for r in argument.relations:
            if r.source not in self.elements or r.target not in self.elements:
                continue
            if (
                r.type == RelationType.SUPPORTED_BY
                and r.source in tree_set
                and r.target in tree_set
            ):
                children.setdefault(r.source, set()).add(r.target)
            elif (
                r.type == RelationType.CHALLENGES and r.source in tree_set and r.target in tree_set
            ):
                children.setdefault(r.target, set()).add(r.source)
            elif r.type == RelationType.IN_CONTEXT_OF and r.target not in tree_set:
                self.contextual.setdefault(r.source, []).append(r.target)
        self.children = {k: sorted(v, key=self.position.__getitem__) for k, v in children.items()}
        # Tree parents: the first parent met in argument order (the argument is a DAG).
        self.parent: dict[str, str] = {}
        for identifier in self.tree:
            for child in self.children.get(identifier, ()):
                if child != identifier:
                    self.parent.setdefault(child, identifier)
        self._cache: dict[frozenset[str], tuple[str, float, float]] = {}
        self._band: Callable[[str], str] = lambda _identifier: DIAGRAM_BAND.format(number="00")

    # -- public ---------------------------------------------------------------------------

    def plan(self) -> list[Part]:
        """The pages, numbered from 1, each with its final SVG and page geometry."""
        if not self.elements:
            return []
        everything = list(self.tree) or sorted(self.elements, key=self.position.__getitem__)
        _, width, height = self._draw(everything)
        if fits(width, height):
            parts = [Part(group="", members=everything, roots=self._roots(everything))]
            parts[0].title = "The whole argument"
        else:
            parts = []
            groups: list[str] = []
            for identifier in self.tree:
                if self.group[identifier] not in groups:
                    groups.append(self.group[identifier])
            for group in groups:
                members = [i for i in self.tree if self.group[i] == group]
                split = self._pack(self._split(members))
                for index, members_of_part in enumerate(split, start=1):
                    part = Part(
                        group=group, members=members_of_part, roots=self._roots(members_of_part)
                    )
                    title = self.group_titles.get(group) or group or "Top level"
                    part.title = title if len(split) == 1 else f"{title} ({index} of {len(split)})"
                    parts.append(part)
        home: dict[str, int] = {}
        for number, part in enumerate(parts, start=1):
            part.number = number
            for identifier in part.members:
                home.setdefault(identifier, number)
            if part.title != "The whole argument":
                part.subtitle = (
                    "From "
                    + ", ".join(part.roots[:6])
                    + (f" and {len(part.roots) - 6} more" if len(part.roots) > 6 else "")
                )
        self._band = lambda identifier: (
            DIAGRAM_BAND.format(number=home[identifier])
            if identifier in home
            else self.group_titles.get(self.group.get(identifier, ""), "")
        )
        for part in parts:
            # The final drawing names the real diagram numbers in the away bands.
            part.svg, part.width, part.height = self._draw(part.members, final=True)
            part.count = len(self._own(part.members))
            part.page = page_for(part.width, part.height)
            part.continues, part.continued_from = self._continuations(part, home)
        return parts

    def _continuations(
        self, part: Part, home: Mapping[str, int]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the diagrams the part's elements lead to, the diagrams its top elements hang
        from), each with the elements concerned, in diagram order."""
        inside = set(part.members)
        onward: dict[int, list[str]] = {}
        for identifier in part.members:
            for child in self.children.get(identifier, ()):
                number = home.get(child)
                if child not in inside and number is not None and number != part.number:
                    onward.setdefault(number, []).append(child)
        back: dict[int, list[str]] = {}
        for root in part.roots:
            number = home.get(self.parent.get(root, ""))
            if number is not None and number != part.number:
                back.setdefault(number, []).append(root)

        def listed(found: dict[int, list[str]]) -> list[dict[str, Any]]:
            return [
                {"number": number, "identifiers": self._ordered(found[number])}
                for number in sorted(found)
            ]

        return listed(onward), listed(back)

    # -- splitting ------------------------------------------------------------------------

    def _fits(self, members: Sequence[str]) -> bool:
        drawn = len(members) + sum(len(self.contextual.get(i, ())) for i in members)
        if drawn <= SURELY_FITS:
            return True
        _, width, height = self._draw(members)
        return fits(width, height)

    def _roots(self, members: Sequence[str]) -> list[str]:
        inside = set(members)
        return [i for i in members if self.parent.get(i) not in inside]

    def _split(self, members: list[str]) -> list[list[str]]:
        """Cut a part that does not fit: several top nodes → their subtrees, packed; one top
        node → as many levels below it as fit (an overview whose lower edge points to the
        other diagrams), then the subtrees below the cut, packed and cut the same way."""
        if len(members) <= 1 or self._fits(members):
            return [members]
        inside = set(members)
        roots = self._roots(members)
        if len(roots) > 1:
            return self._pack_split([self._subtree(r, inside) for r in roots])
        depth = self._depths(roots[0], inside)
        cut = 1
        for level in range(max(depth.values()) - 1, 1, -1):
            if self._fits([i for i in members if depth[i] <= level]):
                cut = level
                break
        head = [i for i in members if depth[i] <= cut]
        below = [i for i in members if depth[i] == cut + 1]
        return [head, *self._pack_split([self._subtree(r, inside) for r in below])]

    def _pack_split(self, pieces: list[list[str]]) -> list[list[str]]:
        out: list[list[str]] = []
        for piece in self._pack(pieces):
            out.extend(self._split(piece))
        return out

    def _pack(self, pieces: list[list[str]]) -> list[list[str]]:
        """Neighbouring pieces share a page while they fit together."""
        bins: list[list[str]] = []
        for piece in pieces:
            if bins and self._fits(self._ordered(bins[-1] + piece)):
                bins[-1] = self._ordered(bins[-1] + piece)
            else:
                bins.append(piece)
        return bins

    def _subtree(self, root: str, inside: set[str]) -> list[str]:
        found = {root}
        stack = [root]
        while stack:
            current = stack.pop()
            for child in self.children.get(current, ()):
                if child in inside and child not in found and self.parent.get(child) == current:
                    found.add(child)
                    stack.append(child)
        return self._ordered(found)

    def _depths(self, root: str, inside: set[str]) -> dict[str, int]:
        depth = {root: 0}
        stack = [root]
        while stack:
            current = stack.pop()
            for child in self.children.get(current, ()):
                if child in inside and child not in depth and self.parent.get(child) == current:
                    depth[child] = depth[current] + 1
                    stack.append(child)
        for identifier in inside:  # defensive: anything unreachable sits just below the root
            depth.setdefault(identifier, 1)
        return depth

    def _first(self, piece: Sequence[str]) -> int:
        return min(self.position[i] for i in piece)

    def _ordered(self, identifiers) -> list[str]:
        return sorted(set(identifiers), key=self.position.__getitem__)

    # -- drawing --------------------------------------------------------------------------

    def _draw(self, members: Sequence[str], *, final: bool = False) -> tuple[str, float, float]:
        key = frozenset(members)
        if not final and key in self._cache:
            return self._cache[key]
        svg = self.render_dot(self.dot(members))
        width, height = svg_size(svg)
        if not final:
            self._cache[key] = (svg, width, height)
        return svg, width, height

    def _own(self, members: Sequence[str]) -> set[str]:
        own = set(members)
        for identifier in members:
            own.update(self.contextual.get(identifier, ()))
        return own

    def dot(self, members: Sequence[str]) -> str:
        """DOT source of a part: its members and their contextual elements as its own, every
        other element they lead to as an away element naming where it is drawn."""
        own = self._own(members)
        if own >= set(self.elements):
            return argument_dot(self.argument, statuses=self.statuses, lettering=PRINT)
        elements = [
            dataclasses.replace(e, module=_OWN if e.identifier in own else self._band(e.identifier))
            for e in self.argument.elements
        ]
        view = Argument(elements=elements, relations=self.argument.relations, modules={})
        return argument_dot(view, statuses=self.statuses, module=_OWN, lettering=PRINT)
