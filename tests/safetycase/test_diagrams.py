"""The DOT builder: GSN notation, statuses, links, module views and hostile text.

DOT is read back by the real graphviz-pure parser (`-Tjson0`) or rendered to SVG, so these
tests assert what Graphviz understood, never the exact bytes we wrote.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import xml.etree.ElementTree as ET

import pytest

from safetycase.adapters.graphviz import graphviz_pure_executable
from safetycase.core.diagrams import argument_dot
from safetycase.core.gsn.model import Argument, Element, Relation

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def run_graphviz_pure(dot: str, fmt: str) -> str:
    binary = graphviz_pure_executable()
    assert binary, "graphviz-pure is a pinned dependency and must be installed"
    completed = subprocess.run(
        [binary, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr.decode()
    return completed.stdout.decode()


def parsed(dot: str) -> tuple[dict[str, dict], list[tuple[str, str, dict]], list[set[str]]]:
    """(node attributes by name, edges as (tail, head, attributes), rank=same groups)."""
    graph = json.loads(run_graphviz_pure(dot, "json0"))
    objects = graph.get("objects", [])
    names = {o["_gvid"]: o["name"] for o in objects if "nodes" not in o}
    nodes = {o["name"]: o for o in objects if "nodes" not in o}
    edges = [(names[e["tail"]], names[e["head"]], e) for e in graph.get("edges", [])]
    same_rank = [{names[gvid] for gvid in o["nodes"]} for o in objects if o.get("rank") == "same"]
    return nodes, edges, same_rank


def svg_nodes(dot: str) -> tuple[str, list[ET.Element]]:
    svg = run_graphviz_pure(dot, "svg")
    root = ET.fromstring(svg)
    return svg, [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


def el(identifier, type_="goal", statement="A statement of four words", **kwargs) -> Element:
    return Element(identifier=identifier, type=type_, statement=statement, **kwargs)


def rel(source, target, type_="supported_by", **kwargs) -> Relation:
    return Relation(source=source, target=target, type=type_, **kwargs)


@pytest.fixture
def argument() -> Argument:
    """One element of every type, in two modules."""
    return Argument(
        elements=[
            el("G1", "goal", "The model cannot cause catastrophic harm", module="top"),
            el("C1", "context", "Internal deployment as a coding agent", module="top"),
            el("A1", "assumption", "Evaluations elicit full capabilities", module="top"),
            el("J1", "justification", "Scheming needs capability and propensity", module="top"),
            el("S1", "strategy", "Argue over each scheming capability", module="top"),
            el("G2", "goal", "The model lacks stealthy sabotage capability", module="top"),
            el(
                "G3",
                "goal",
                "The model lacks situational awareness",
                undeveloped=True,
                module="top",
            ),
            el("Sn1", "solution", "Sabotage evaluation results", module="top"),
            el("G4", "goal", "Monitoring catches sabotage attempts", module="control"),
            el("S2", "strategy", "Argue over monitor coverage", undeveloped=True, module="control"),
            el("CG1", "counter_goal", "Sandbagging could hide sabotage", module="top"),
            el("CSn1", "counter_solution", "Red-team found a blind spot", module="control"),
        ],
        relations=[
            rel("G1", "C1", "in_context_of"),
            rel("G1", "S1"),
            rel("S1", "A1", "in_context_of"),
            rel("S1", "J1", "in_context_of"),
            rel("S1", "G2"),
            rel("S1", "G3"),
            rel("S1", "G4"),
            rel("G2", "Sn1"),
            rel("G4", "S2"),
            rel("CG1", "G2", "challenges"),
            rel("CSn1", "G4", "challenges", target_relation="S2"),
        ],
        modules={"top": {}, "control": {}},
    )


def test_each_element_type_has_its_gsn_shape(argument):
    nodes, _, _ = parsed(argument_dot(argument))

    def style(name):
        return set(nodes[name]["style"].split(","))

    assert nodes["G1"]["shape"] == "box" and "rounded" not in style("G1")
    assert nodes["S1"]["shape"] == "parallelogram"
    assert nodes["Sn1"]["shape"] == "circle"
    assert nodes["C1"]["shape"] == "box" and "rounded" in style("C1")
    assert nodes["A1"]["shape"] == "ellipse"
    assert nodes["J1"]["shape"] == "ellipse"


def test_assumptions_and_justifications_are_marked_a_and_j(argument):
    nodes, _, _ = parsed(argument_dot(argument))

    assert nodes["A1"]["label"].endswith(
        '<td align="right"><font point-size="12"><b>A</b></font></td></tr></table>'
    )
    assert nodes["J1"]["label"].endswith(
        '<td align="right"><font point-size="12"><b>J</b></font></td></tr></table>'
    )
    assert "<b>A</b>" not in nodes["C1"]["label"]


def test_labels_are_the_bold_identifier_then_the_wrapped_statement(argument):
    nodes, _, _ = parsed(argument_dot(argument))

    label = nodes["G1"]["label"]
    assert "<b>G1</b>" in label
    assert "The model cannot cause<br" in label
    assert label.index("<b>G1</b>") < label.index("The model")


def test_undeveloped_goals_and_strategies_carry_a_diamond(argument):
    nodes, _, _ = parsed(argument_dot(argument))

    assert "◊" in nodes["G3"]["label"]
    assert "◊" in nodes["S2"]["label"]
    assert "◊" not in nodes["G2"]["label"]
    assert "◊" not in nodes["S1"]["label"]


def test_a_solution_marked_undeveloped_gets_no_diamond():
    argument = Argument(elements=[el("Sn1", "solution", undeveloped=True)])
    nodes, _, _ = parsed(argument_dot(argument))
    assert "◊" not in nodes["Sn1"]["label"]


def test_supported_by_is_solid_with_a_filled_arrowhead(argument):
    _, edges, _ = parsed(argument_dot(argument))

    attrs = next(a for t, h, a in edges if (t, h) == ("G1", "S1"))
    assert attrs["arrowhead"] == "normal"
    assert "dashed" not in attrs.get("style", "")


def test_in_context_of_is_dashed_with_a_hollow_arrowhead_beside_its_node(argument):
    _, edges, same_rank = parsed(argument_dot(argument))

    for source, target in [("G1", "C1"), ("S1", "A1"), ("S1", "J1")]:
        attrs = next(a for t, h, a in edges if (t, h) == (source, target))
        assert attrs["style"] == "dashed"
        assert attrs["arrowhead"] == "empty"
    assert {"G1", "C1"} in same_rank
    assert {"S1", "A1", "J1"} in same_rank


def test_counter_elements_are_dashed_red_and_challenges_red(argument):
    nodes, edges, _ = parsed(argument_dot(argument))

    for name, shape in [("CG1", "box"), ("CSn1", "circle")]:
        assert nodes[name]["shape"] == shape
        assert "dashed" in nodes[name]["style"].split(",")
        assert nodes[name]["color"] == "#c62828"
    assert "color" not in nodes["G1"]
    challenges = {(t, h): a for t, h, a in edges if a.get("color") == "#c62828"}
    assert set(challenges) == {("CG1", "G2"), ("CSn1", "G4")}
    # A challenge of a relationship names the relationship's other end.
    assert "link to S2" in challenges[("CSn1", "G4")]["label"]


def test_fill_colours_follow_the_statuses(argument):
    statuses = {"G1": "supported", "G2": "defeated", "G4": "at_risk", "G3": "undeveloped"}
    nodes, _, _ = parsed(argument_dot(argument, statuses=statuses))

    assert nodes["G1"]["fillcolor"] == "#d4edda"  # green
    assert nodes["G2"]["fillcolor"] == "#f8d7da"  # red
    assert nodes["G4"]["fillcolor"] == "#ffe8a8"  # amber
    assert nodes["G3"]["fillcolor"] == "#e2e3e5"  # grey
    assert nodes["S1"]["fillcolor"] == "#ffffff"  # no status: neutral
    assert all("filled" in n["style"].split(",") for n in nodes.values())


def test_statuses_are_also_written_as_a_mark_and_a_word(argument):
    # Colour alone does not tell a defeated node from a supported one to everyone.
    statuses = {"G1": "supported", "G2": "defeated", "G4": "at_risk", "G3": "undeveloped"}
    _, groups = svg_nodes(argument_dot(argument, statuses=statuses))
    texts = {
        g.find(f"{SVG}title").text: [t.text.strip() for t in g.iter(f"{SVG}text")] for g in groups
    }

    assert texts["G1"][:2] == ["G1", "✓ supported"]
    assert texts["G2"][:2] == ["G2", "✗ defeated"]
    assert texts["G4"][:2] == ["G4", "! at risk"]
    assert texts["G3"][:2] == ["G3", "… undeveloped"]
    assert texts["S1"][1] == "Argue over each scheming"  # no status: the statement follows


def test_every_node_links_to_its_page_with_a_tooltip_and_an_id(argument):
    nodes, _, _ = parsed(argument_dot(argument, node_url=lambda i: f"/cases/7/nodes/{i}/"))

    for element in argument.elements:
        node = nodes[element.identifier]
        assert node["URL"] == f"/cases/7/nodes/{element.identifier}/"
        assert node["target"] == "_top"
        assert node["tooltip"] == element.statement
        assert node["id"] == f"node-{element.identifier}"


def test_without_node_url_nodes_have_no_link(argument):
    nodes, _, _ = parsed(argument_dot(argument))
    assert not any("URL" in node for node in nodes.values())


def test_whole_argument_draws_every_element_and_relation(argument):
    nodes, edges, _ = parsed(argument_dot(argument))

    assert set(nodes) == {e.identifier for e in argument.elements}
    assert len(edges) == len(argument.relations)
    assert not any("sides" in node["label"] for node in nodes.values())


def test_module_view_draws_referenced_elements_as_away_elements(argument):
    nodes, edges, _ = parsed(argument_dot(argument, module="top"))

    own = {e.identifier for e in argument.elements if e.module == "top"}
    assert set(nodes) == own | {"G4"}  # S1 -> G4 crosses into "control"
    away = nodes["G4"]
    assert away["shape"] == "box"  # still a goal
    assert '<td sides="T" border="1"' in away["label"]
    assert ">control</font>" in away["label"]
    assert not any("sides=" in nodes[name]["label"] for name in own)
    # Nothing else from "control": not S2 (below the away goal), not CSn1 (challenges it).
    assert {(t, h) for t, h, _ in edges} == {
        (r.source, r.target) for r in argument.relations if r.source in own
    }


def test_module_view_of_an_unknown_module_is_empty(argument):
    nodes, edges, _ = parsed(argument_dot(argument, module="nope"))
    assert nodes == {} and edges == []


def test_output_is_deterministic(argument):
    shuffled = Argument(
        elements=random.Random(3).sample(argument.elements, len(argument.elements)),
        relations=random.Random(4).sample(argument.relations, len(argument.relations)),
        modules=argument.modules,
    )
    assert argument_dot(shuffled) == argument_dot(argument)


def test_long_words_wrap_and_long_statements_are_cut():
    word = "x" * 100
    argument = Argument(elements=[el("G1", statement=word), el("G2", statement="claim " * 300)])
    nodes, _, _ = parsed(argument_dot(argument))

    assert nodes["G1"]["label"].count("<br") == 3  # 100 characters in lines of 32
    long_label = nodes["G2"]["label"]
    assert long_label.count("<br") == 7  # at most 8 lines
    assert "…" in long_label
    _, groups = svg_nodes(argument_dot(argument))
    assert len(groups) == 2


HOSTILE_IDS = [
    '"];\nevil [label="x"]',
    "<script>alert(1)</script>",
    '{}\\"',
    "node",
    "subgraph",
    "edge",
    "a:b:n",
    "ends\\",
    "\\N",
    "--><script>x</script><!--",
    "a&amp;b",
    "it's",
]
HOSTILE_STATEMENTS = [
    '"];\nevil [label="x"]',
    "<script>alert(1)</script>",
    '{}\\"',
    "digraph { node [shape=none] }",
    "\\N \\G \\L \\l",
    "ends with \\",
    "&lt; &amp; ]]> --> <!-- <![CDATA[ x ]]>",
    "<img src=x onerror=alert(1)>",
    "}; strict graph {",
    "'single' \"double\"",
    "<b>not bold</b>",
    "plain",
]


def test_hostile_text_cannot_break_the_dot_or_inject_into_the_svg():
    elements = [
        el(identifier, statement=statement)
        for identifier, statement in zip(HOSTILE_IDS, HOSTILE_STATEMENTS, strict=True)
    ]
    relations = [rel(a, b) for a, b in itertools.pairwise(HOSTILE_IDS)]
    dot = argument_dot(
        Argument(elements=elements, relations=relations),
        node_url=lambda i: "/cases/1/nodes/" + i + "/?a=1&b=2",
        statuses={HOSTILE_IDS[0]: "supported"},
        module=None,
    )

    svg, groups = svg_nodes(dot)  # parses as XML

    assert len(groups) == len(elements)  # nothing injected, nothing lost
    assert svg.count('class="edge"') == len(relations)
    assert "<script" not in svg
    assert "<img" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in {"script", "img", "b"}]

    by_title = {g.find(f"{SVG}title").text: g for g in groups}
    assert set(by_title) == set(HOSTILE_IDS)
    for element in elements:
        group = by_title[element.identifier]
        # The status mark beside the identifier ("✓ supported") is our text, not the user's.
        texts = [t.text for t in group.iter(f"{SVG}text") if t.text.strip() != "✓ supported"]
        # Shown literally (whitespace folded), as escaped text, never as markup.
        assert texts[0] == " ".join(element.identifier.split())
        assert " ".join(texts[1:]) == " ".join(element.statement.split())
        assert group.get("id") == f"node-{element.identifier}"
        link = group.find(f".//{SVG}a")
        assert link.get(f"{XLINK}href") == "/cases/1/nodes/" + element.identifier + "/?a=1&b=2"
        tooltip = link.get(f"{XLINK}title")
        assert tooltip == " ".join(element.statement.split()).replace("\\", "\u29f5")
