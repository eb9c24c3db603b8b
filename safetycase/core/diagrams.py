"""GSN arguments as DOT source (pure: no Django), built with the `graphviz` package.

Shapes follow the GSN Community Standard: goal rectangle, strategy parallelogram, solution
circle, context rounded rectangle, assumption and justification ovals with a bold "A" / "J" at
the lower right of their label.
Nodes are filled by assessment status, and the status is also written beside the identifier
as a mark and a word (✓ supported, ✗ defeated, ! at risk, … undeveloped), so it reads without
colour. Undeveloped goals and strategies carry a hollow diamond (◊) under their statement; counter
goals and solutions (dialectic extension) keep their shape with a dashed red border, and
"challenges" edges are red. SupportedBy edges are solid with filled arrowheads, InContextOf
edges dashed with hollow ones, and contextual elements sit on the same rank as their node.

In a module view, elements of other modules that the module refers to are drawn as *away*
elements: the same shape with a lower band naming their module.

User text never reaches the DOT source raw. Statements go into HTML-like labels escaped with
`html.escape`; identifiers, ids, URLs and tooltips become quoted DOT strings in which every
character that DOT, Graphviz's escString processing or XML could interpret (quotes,
backslashes, colons, `<`, `>`, `&`, newlines) is a numeric character reference. Graphviz
copies those references into the SVG unchanged, so an XML parser reads back the original text,
and a browser never sees markup that came from a user.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import graphviz

from safetycase.core.gsn.model import (
    CONTEXTUAL_TYPES,
    COUNTER_TYPES,
    Argument,
    Element,
    ElementType,
    Relation,
    RelationType,
)

FONT = "DejaVu Sans"
FONT_SIZE = "10"
COUNTER_COLOUR = "#c62828"
CHALLENGE_COLOUR = "#c62828"
BAND_COLOUR = "#e9ecef"
UNDEVELOPED_MARK = "◊"  # U+25CA: in the common fonts, and graphviz-pure's PNG font has it

# Fill colours by assessment status; elements without a status are neutral white.
STATUS_FILLS: dict[str, str] = {
    "supported": "#d4edda",
    "defeated": "#f8d7da",
    "at_risk": "#ffe8a8",
    "undeveloped": "#e2e3e5",
}
NEUTRAL_FILL = "#ffffff"
# A mark and a word beside each status colour, so the status reads without colour too (and in
# greyscale print). The UI's status pills use the same marks.
STATUS_MARKS: dict[str, str] = {
    "supported": "✓",
    "defeated": "✗",
    "at_risk": "!",
    "undeveloped": "…",
}
STATUS_WORDS: dict[str, str] = {
    "supported": "supported",
    "defeated": "defeated",
    "at_risk": "at risk",
    "undeveloped": "undeveloped",
}

# (shape, extra style) per element type; counter types reuse their base type's shape.
SHAPES: dict[str, tuple[str, str]] = {
    ElementType.GOAL: ("box", ""),
    ElementType.STRATEGY: ("parallelogram", ""),
    ElementType.SOLUTION: ("circle", ""),
    ElementType.CONTEXT: ("box", "rounded"),
    ElementType.ASSUMPTION: ("ellipse", ""),
    ElementType.JUSTIFICATION: ("ellipse", ""),
    ElementType.COUNTER_GOAL: ("box", "dashed"),
    ElementType.COUNTER_SOLUTION: ("circle", "dashed"),
}
CORNER_LETTERS = {ElementType.ASSUMPTION: "A", ElementType.JUSTIFICATION: "J"}
DEVELOPABLE_TYPES = frozenset({ElementType.GOAL, ElementType.STRATEGY, ElementType.COUNTER_GOAL})

# Statement wrapping: characters per line, most lines shown, and the longest statement kept.
WRAP_WIDTH = {
    ElementType.STRATEGY: 28,
    ElementType.SOLUTION: 16,
    ElementType.COUNTER_SOLUTION: 16,
}
DEFAULT_WRAP_WIDTH = 32
MAX_LINES = 8
MAX_IDENTIFIER_CHARS = 40


@dataclass(frozen=True)
class Lettering:
    """Sizes (pt) and limits of a drawing's text besides the FONT_SIZE statements."""

    status: str = "8"  # the status mark and word beside the identifier
    band: str = "8"  # an away element's band naming where it is drawn
    notes: str = "9"  # open challenges, folded elements, edge labels
    max_lines: int | None = MAX_LINES  # statement lines shown (None: the whole statement)
    band_chars: int | None = None  # band text kept (None: the element's wrap width)
    # Most elements one element's supported-by children take side by side; more wrap onto
    # further rows (None: one row however many), so a wide fan-out stays printable.
    row_limit: int | None = None


# The web diagram: zoomable, so small print and cut statements keep it compact.
SCREEN = Lettering()
# The PDF's diagrams: no text smaller than FONT_SIZE, so a page scaled to 70% prints nothing
# under 7 pt, and every statement whole (a reader of paper cannot open the element).
PRINT = Lettering(
    status=FONT_SIZE, band=FONT_SIZE, notes=FONT_SIZE, max_lines=None, band_chars=60, row_limit=6
)
PRINT_SMALLEST_FONT = float(FONT_SIZE)

# Characters XML 1.0 forbids even as character references (C0 controls other than tab, newline
# and carriage return; surrogates; U+FFFE/U+FFFF). They are replaced, never passed on.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# In quoted DOT strings: characters that DOT, escString processing, edge-port syntax or XML
# would interpret, plus all whitespace other than the plain space.
_DOT_STRING_SPECIAL = re.compile(r"""[&<>"'\\:\t\n\r\x7f-\x9f]""")

# Shown under an element whose sub-argument is folded away (the diagram stops there).
FOLDED_MARK = "▸"
# Shown on an element a reviewer has challenged, until the challenge is resolved.
CHALLENGE_MARK = "⚑"

NodeUrl = Callable[[str], str | None]


def argument_dot(
    argument: Argument,
    *,
    node_url: NodeUrl | None = None,
    statuses: Mapping[str, str] | None = None,
    module: str | None = None,
    folded: Mapping[str, int] | None = None,
    challenged: Mapping[str, int] | None = None,
    lettering: Lettering = SCREEN,
    rollups: Mapping[str, Sequence[tuple[str, int]]] | None = None,
) -> str:
    """DOT source for the argument (or for one module of it, with away elements). `folded`:
    elements whose sub-argument is hidden (`navigation.fold`) → how many elements it hides;
    `rollups`: for those, the statuses of what they hide (`navigation.fold_rollups`);
    `challenged`: elements with open review challenges → how many; `lettering`: SCREEN or
    PRINT text sizes."""
    statuses = statuses or {}
    folded = folded or {}
    rollups = rollups or {}
    challenged = challenged or {}
    elements = {element.identifier: element for element in argument.elements}
    drawn, away = _selection(argument, elements, module)

    dot = graphviz.Digraph(
        name="gsn",
        graph_attr={
            "rankdir": "TB",
            "nodesep": "0.35",
            "ranksep": "0.5",
            "fontname": FONT,
            "fontsize": FONT_SIZE,
        },
        node_attr={"fontname": FONT, "fontsize": FONT_SIZE, "margin": "0.08,0.04"},
        edge_attr={"fontname": FONT, "fontsize": lettering.notes, "arrowsize": "0.8"},
    )
    for identifier in sorted(drawn):
        element = elements[identifier]
        dot.node(
            _dot_string(identifier),
            **_node_attrs(
                element,
                away_module=element.module if identifier in away else None,
                status=statuses.get(identifier),
                url=node_url(identifier) if node_url else None,
                hidden=folded.get(identifier, 0),
                rollup=rollups.get(identifier, ()),
                challenges=challenged.get(identifier, 0),
                lettering=lettering,
            ),
        )

    relations = sorted(
        (r for r in argument.relations if r.source in drawn and r.target in drawn),
        key=lambda r: (r.source, r.type, r.target, r.target_relation),
    )
    for relation in relations:
        dot.edge(
            _dot_string(relation.source),
            _dot_string(relation.target),
            **_edge_attrs(relation),
        )

    # Refuting evidence (dialectic): a solution that observes the hazard a goal rules out is
    # a potential defeater of that goal, drawn as a dotted red edge; once its criterion fails
    # (the solution is defeated) the edge is solid and says the goal is refuted. The edge does
    # not shape the layout.
    for identifier in sorted(drawn):
        refuted = (elements[identifier].attributes or {}).get("refutes")
        if not isinstance(refuted, str) or refuted not in drawn:
            continue
        defeater = statuses.get(identifier) == "defeated"
        dot.edge(
            _dot_string(identifier),
            _dot_string(refuted),
            color=CHALLENGE_COLOUR,
            style="solid" if defeater else "dotted",
            penwidth="1.5" if defeater else "1",
            arrowhead="tee",
            constraint="false",
            label=f'<<font color="{CHALLENGE_COLOUR}">{"refutes" if defeater else "would refute"}'
            "</font>>",
        )
    if lettering.row_limit:
        _wrap_rows(dot, relations, lettering.row_limit)

    # Context, assumptions and justifications beside the element they are the context of
    # (each once: a contextual element shared by elements on several ranks stays with the
    # first of them).
    beside: dict[str, list[str]] = {}
    placed: set[str] = set()
    for relation in relations:
        target = elements[relation.target]
        if (
            relation.type == RelationType.IN_CONTEXT_OF
            and target.type in CONTEXTUAL_TYPES
            and relation.target not in placed
            and relation.target not in beside
        ):
            beside.setdefault(relation.source, []).append(relation.target)
            placed.add(relation.target)
    for source in sorted(beside):
        with dot.subgraph() as same_rank:
            same_rank.attr(rank="same")
            for identifier in [source, *beside[source]]:
                same_rank.node(_dot_string(identifier))

    return dot.source


def _wrap_rows(dot: graphviz.Digraph, relations: list[Relation], limit: int) -> None:
    """Children beyond the first `limit` of an element go onto further rows: an invisible edge
    from the child `limit` places before each puts it one rank lower."""
    children: dict[str, list[str]] = {}
    for relation in relations:
        if relation.type == RelationType.SUPPORTED_BY:
            children.setdefault(relation.source, []).append(relation.target)
    for targets in children.values():
        for above, below in zip(targets, targets[limit:], strict=False):
            dot.edge(_dot_string(above), _dot_string(below), style="invis")


def _selection(
    argument: Argument, elements: dict[str, Element], module: str | None
) -> tuple[set[str], set[str]]:
    """(identifiers to draw, those of them drawn as away elements)."""
    if module is None:
        return set(elements), set()
    own = {identifier for identifier, e in elements.items() if e.module == module}
    away = {
        r.target
        for r in argument.relations
        if r.source in own and r.target in elements and r.target not in own
    }
    return own | away, away


def _node_attrs(
    element: Element,
    *,
    away_module: str | None,
    status: str | None,
    url: str | None,
    hidden: int = 0,
    rollup: Sequence[tuple[str, int]] = (),
    challenges: int = 0,
    lettering: Lettering = SCREEN,
) -> dict[str, str]:
    shape, extra_style = SHAPES.get(element.type, ("box", ""))
    styles = ["filled", *([extra_style] if extra_style else [])]
    attrs = {
        "shape": shape,
        "style": ",".join(styles),
        "fillcolor": STATUS_FILLS.get(status or "", NEUTRAL_FILL),
        "label": _label(
            element,
            away_module=away_module,
            status=status,
            hidden=hidden,
            rollup=rollup,
            challenges=challenges,
            lettering=lettering,
        ),
        "id": _dot_string(f"node-{element.identifier}"),
        "tooltip": _tooltip(element.statement or element.identifier),
    }
    if element.type in COUNTER_TYPES:
        attrs["color"] = COUNTER_COLOUR
        attrs["penwidth"] = "1.5"
    if challenges:
        attrs["color"] = CHALLENGE_COLOUR
        attrs["penwidth"] = "2"
    if away_module is not None:
        attrs["margin"] = "0"
    if shape in ("parallelogram", "circle"):
        # These shapes already leave generous room around the label.
        attrs["margin"] = "0"
    if url:
        attrs["URL"] = _dot_string(url)
        attrs["target"] = "_top"
    return attrs


def _label(
    element: Element,
    *,
    away_module: str | None,
    status: str | None = None,
    hidden: int = 0,
    rollup: Sequence[tuple[str, int]] = (),
    challenges: int = 0,
    lettering: Lettering = SCREEN,
) -> str:
    """An HTML-like label: bold identifier (with the status mark and word beside it), wrapped
    statement, markers, open challenges, how much is folded below it (and the statuses of what
    is folded) and the away band."""
    width = WRAP_WIDTH.get(element.type, DEFAULT_WRAP_WIDTH)
    identifier = _html_text(_shorten(element.identifier, MAX_IDENTIFIER_CHARS))
    rows = [f"<tr><td><b>{identifier}</b>{_status_text(status, lettering.status)}</td></tr>"]
    lines = _wrap(element.statement, width, lettering.max_lines)
    if lines:
        text = '<br align="center"/>'.join(_html_text(line) for line in lines)
        rows.append(f"<tr><td>{text}</td></tr>")
    if element.undeveloped and element.type in DEVELOPABLE_TYPES:
        rows.append(f'<tr><td><font point-size="16">{UNDEVELOPED_MARK}</font></td></tr>')
    if challenges:
        rows.append(
            f'<tr><td><font point-size="{lettering.notes}" color="{CHALLENGE_COLOUR}">'
            f"<b>{CHALLENGE_MARK} "
            f"{challenges} open challenge{'s' if challenges != 1 else ''}</b></font></td></tr>"
        )
    if hidden:
        rows.append(
            f'<tr><td><font point-size="{lettering.notes}"><i>{FOLDED_MARK} {hidden} '
            f"element{'s' if hidden != 1 else ''} folded below</i></font></td></tr>"
        )
    if rollup:
        rows.append(
            f'<tr><td><font point-size="{lettering.notes}">{rollup_text(rollup)}</font></td></tr>'
        )
    if letter := CORNER_LETTERS.get(element.type):
        rows.append(f'<tr><td align="right"><font point-size="12"><b>{letter}</b></font></td></tr>')
    padding = "2"
    if away_module is not None:
        band = _html_text(_shorten(away_module or "(no module)", lettering.band_chars or width))
        rows.append(
            f'<tr><td sides="T" border="1" bgcolor="{BAND_COLOUR}" cellpadding="3">'
            f'<font point-size="{lettering.band}">{band}</font></td></tr>'
        )
        padding = "4"
    return (
        f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="{padding}">'
        + "".join(rows)
        + "</table>>"
    )


def rollup_text(rollup: Sequence[tuple[str, int]]) -> str:
    """A folded element's roll-up as "2 ✗ defeated · 12 ✓ supported" (plain text)."""
    return " · ".join(f"{n} {STATUS_MARKS[status]} {STATUS_WORDS[status]}" for status, n in rollup)


def _status_text(status: str | None, size: str) -> str:
    """The status as " ✗ defeated" (in a smaller font on screen), or "" for elements without
    one."""
    if status not in STATUS_MARKS:
        return ""
    return f'<font point-size="{size}">  {STATUS_MARKS[status]} {STATUS_WORDS[status]}</font>'


def _edge_attrs(relation: Relation) -> dict[str, str]:
    if relation.type == RelationType.IN_CONTEXT_OF:
        return {"style": "dashed", "arrowhead": "empty"}
    if relation.type == RelationType.CHALLENGES:
        attrs = {"color": CHALLENGE_COLOUR, "arrowhead": "normal", "penwidth": "1.5"}
        if relation.target_relation:
            # A challenge of the relationship target -> target_relation, not of the target.
            other = _html_text(_shorten(relation.target_relation, MAX_IDENTIFIER_CHARS))
            attrs["label"] = f'<<font color="{CHALLENGE_COLOUR}">link to {other}</font>>'
        return attrs
    return {"arrowhead": "normal"}


def _wrap(text: str, width: int, max_lines: int | None = MAX_LINES) -> list[str]:
    """The statement as lines of about `width` characters, at most `max_lines` of them (the
    last one then ends with "…"; None keeps every line)."""
    words = " ".join(_clean(text).split())
    lines = textwrap.wrap(words, width=width, break_long_words=True, break_on_hyphens=True)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 2].rstrip() + " …"
    return lines


def _shorten(text: str, limit: int) -> str:
    text = " ".join(_clean(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _html_text(text: str) -> str:
    """Text for an HTML-like label: XML-escaped, backslashes escaped for escString.

    graphviz-pure resolves character references in HTML-like labels and then applies escString
    processing (`\\N` becomes the node name, `\\\\` one backslash), so a backslash is written
    as two. Graphviz proper shows such a backslash doubled; nothing else differs.
    """
    return html.escape(_clean(text), quote=True).replace("\\", "&#92;&#92;")


def _dot_string(text: str) -> str:
    """A DOT quoted-string body that Graphviz reads back, and writes into SVG, as `text`.

    Returned as `graphviz.nohtml` so that the `graphviz` package quotes it and never mistakes
    it for an HTML string.
    """
    encoded = _DOT_STRING_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", _clean(text))
    return graphviz.nohtml(encoded)


def _tooltip(text: str) -> str:
    """Hover text: the statement on one line, at most 500 characters.

    Renderers disagree on how often they apply escString processing to tooltips (graphviz-pure
    twice, Graphviz once), so no escaping of a backslash comes out the same in both: a
    backslash is shown as the look-alike U+29F5 instead and never reaches escString.
    """
    return _dot_string(_shorten(text, 500).replace("\\", "\u29f5"))
