"""Argument views, scopes and rule chains (pure), and the formatting helpers of the pages."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from safetycase.core import argument_walks
from safetycase.core.diagrams import argument_dot
from safetycase.core.gsn import navigation
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.templatetags import review

ELEMENTS = [
    ("G0", "goal"),
    ("C0", "context"),
    ("S0", "strategy"),
    ("SI-G0", "goal"),
    ("SI-S1", "strategy"),
    ("SI-Sn1", "solution"),
    ("SI-C1", "context"),
    ("HC-G0", "goal"),
    ("HC-Sn1", "solution"),
    ("A01", "assumption"),
    ("A02", "assumption"),
]
RELATIONS = [
    ("G0", "S0", "supported_by"),
    ("G0", "C0", "in_context_of"),
    ("S0", "SI-G0", "supported_by"),
    ("S0", "HC-G0", "supported_by"),
    ("SI-G0", "SI-S1", "supported_by"),
    ("SI-G0", "SI-C1", "in_context_of"),
    ("SI-G0", "A01", "in_context_of"),
    ("SI-S1", "SI-Sn1", "supported_by"),
    ("HC-G0", "HC-Sn1", "supported_by"),
    ("HC-G0", "A01", "in_context_of"),
    ("SI-S1", "A02", "in_context_of"),
]


def argument() -> Argument:
    return Argument(
        elements=[Element(identifier=i, type=t, statement=f"about {i}") for i, t in ELEMENTS],
        relations=[Relation(source=s, target=t, type=ty) for s, t, ty in RELATIONS],
    )


def drawn(dot: str) -> set[str]:
    """The node identifiers a DOT source declares (with attributes, not edges)."""
    return {
        m.group(2).replace("&#45;", "-")
        for m in re.finditer(r'^\t("?)([^"\s]+)\1 \[', dot, re.M)
        if m.group(2) not in ("graph", "node", "edge")
    }


# --------------------------------------------------------------------------------------------
# Folding a sub-argument


def ids(arg: Argument) -> set[str]:
    return {e.identifier for e in arg.elements}


def test_folding_hides_the_sub_argument_and_counts_it():
    # SI-G0 hides SI-S1, SI-Sn1 and A02 (the context of SI-S1); it keeps its own context,
    # SI-C1 and A01 (which is also HC-G0's).
    arg, hidden = navigation.fold(argument(), {"SI-G0"})
    assert ids(arg) == {"G0", "C0", "S0", "SI-G0", "SI-C1", "A01", "HC-G0", "HC-Sn1"}
    assert hidden == {"SI-G0": 3}
    assert all(r.source in ids(arg) and r.target in ids(arg) for r in arg.relations)
    # The folded goal keeps its own context and its link to it.
    assert ("SI-G0", "A01") in {(r.source, r.target) for r in arg.relations}


def test_folding_keeps_what_an_unfolded_part_still_reaches():
    shared = Argument(
        elements=[Element(i, "goal" if "G" in i else "solution") for i in ("G0", "G1", "G2", "Sn")],
        relations=[
            Relation("G0", "G1", "supported_by"),
            Relation("G0", "G2", "supported_by"),
            Relation("G1", "Sn", "supported_by"),
            Relation("G2", "Sn", "supported_by"),
        ],
    )
    arg, hidden = navigation.fold(shared, {"G1"})
    assert ids(arg) == {"G0", "G1", "G2", "Sn"} and hidden == {}
    arg, hidden = navigation.fold(shared, {"G1", "G2"})
    assert ids(arg) == {"G0", "G1", "G2"} and hidden == {"G1": 1, "G2": 1}


def test_folding_nested_and_unknown_elements():
    # S0 folded hides everything below it, so SI-G0 (folded too) is not drawn at all.
    arg, hidden = navigation.fold(argument(), {"S0", "SI-G0", "SI-Sn1", "nope"})
    assert ids(arg) == {"G0", "C0", "S0"}
    assert hidden == {"S0": 8}
    assert navigation.fold(argument(), set()) == (argument(), {})
    # A leaf (nothing below it) or an unknown name folds nothing.
    assert ids(navigation.fold(argument(), {"SI-Sn1", "nope"})[0]) == ids(argument())


def test_a_fold_sums_up_the_statuses_of_what_it_hides():
    # S0 hides SI-G0, SI-S1, SI-Sn1, HC-G0, HC-Sn1 (statuses below) and SI-C1, A01, A02
    # (context without a status here, so not counted).
    statuses = {
        "G0": "at_risk",
        "S0": "at_risk",
        "SI-G0": "defeated",
        "SI-S1": "defeated",
        "SI-Sn1": "defeated",
        "HC-G0": "supported",
        "HC-Sn1": "supported",
    }
    rollups = navigation.fold_rollups(argument(), {"S0"}, statuses)
    assert rollups == {"S0": [("defeated", 3), ("supported", 2)]}
    # Nested folds: only the drawn folded element sums up; a leaf or unknown name none.
    assert navigation.fold_rollups(argument(), {"S0", "SI-G0", "SI-Sn1", "x"}, statuses) == rollups
    arg, hidden = navigation.fold(argument(), {"S0"})
    dot = argument_dot(arg, folded=hidden, rollups=rollups)
    assert "8 elements folded below" in dot
    assert "3 ✗ defeated · 2 ✓ supported" in dot


def test_levels_and_the_folds_that_stop_a_diagram_at_one():
    assert argument_walks.supported_by_levels(argument()) == {
        "G0": 1,
        "S0": 2,
        "SI-G0": 3,
        "HC-G0": 3,
        "SI-S1": 4,
        "HC-Sn1": 4,
        "SI-Sn1": 5,
    }
    assert argument_walks.folds_to_depth(argument(), 1) == {"G0"}
    assert argument_walks.folds_to_depth(argument(), 3) == {"SI-G0", "HC-G0"}
    assert argument_walks.folds_to_depth(argument(), 5) == set()  # nothing below level 5
    # In an argument view, the levels start at the view's own roots.
    assert argument_walks.supported_by_levels(argument(), view="SI") == {
        "SI-G0": 1,
        "SI-S1": 2,
        "SI-Sn1": 3,
    }
    assert argument_walks.folds_to_depth(argument(), 1, view="SI") == {"SI-G0"}


def test_a_folded_element_says_so_in_the_diagram():
    arg, hidden = navigation.fold(argument(), {"SI-G0"})
    dot = argument_dot(arg, folded=hidden)
    assert "3 elements folded below" in dot
    assert dot.count("folded below") == 1
    assert drawn(dot) == ids(arg)


def test_prefixes():
    assert navigation.argument_prefix("SI-G2") == "SI"
    assert navigation.argument_prefix("HI-Sn3.2") == "HI"
    assert navigation.argument_prefix("G0") == ""
    assert navigation.argument_prefix("-G0") == ""
    assert navigation.argument_prefix("G0-") == ""


def test_views_come_in_reading_order_with_the_top_level_first():
    views = navigation.argument_views(argument())
    # S0's children in identifier order: HC-G0 before SI-G0.
    assert [(v.key, v.size) for v in views] == [("top", 3), ("HC", 2), ("SI", 4)]
    assert navigation.argument_views(Argument(elements=[Element("G1", "goal")])) == []


def test_a_view_draws_its_own_elements_their_context_and_away_links():
    arg, module = navigation.argument_view(argument(), "SI")
    modules = {e.identifier: e.module for e in arg.elements}
    own = {i for i, m in modules.items() if m == module}
    assert own == {"SI-G0", "SI-S1", "SI-Sn1", "SI-C1", "A01", "A02"}
    assert modules["HC-G0"] == "HC" and modules["G0"] == "top level"
    assert drawn(argument_dot(arg, module=module)) == own

    top, module = navigation.argument_view(argument(), "top")
    # The top level, with the arguments it leads to as away elements.
    assert drawn(argument_dot(top, module=module)) == {"G0", "S0", "C0", "SI-G0", "HC-G0"}


def test_view_of_an_element():
    arg = argument()
    assert navigation.view_of(arg, "SI-Sn1") == "SI"
    assert navigation.view_of(arg, "G0") == "top"
    assert navigation.view_of(arg, "A01") is None  # only context of other arguments


def test_scope_is_the_context_of_the_node_and_its_ancestors_nearest_first():
    entries = navigation.scope(argument(), "SI-Sn1")
    assert [(e.identifier, e.via) for e in entries] == [
        ("A02", "SI-S1"),
        ("A01", "SI-G0"),
        ("SI-C1", "SI-G0"),
        ("C0", "G0"),
    ]


def test_the_rule_chain_carries_statuses_and_reasons():
    chain = navigation.node_chain(
        argument(),
        "SI-S1",
        statuses={"SI-Sn1": "supported", "A01": "at_risk", "SI-G0": "at_risk"},
        reasons={"A01": "A01 is unverified."},
    )
    assert [c.identifier for c in chain.parents] == ["SI-G0"]
    assert [(c.identifier, c.status) for c in chain.children] == [("SI-Sn1", "supported")]
    assert [(c.identifier, c.via, c.reason) for c in chain.assumptions] == [
        ("A02", "SI-S1", None),
        ("A01", "SI-G0", "A01 is unverified."),
    ]
    assert [c.identifier for c in chain.context] == ["SI-C1", "C0"]
    assumption = navigation.node_chain(argument(), "A01")
    assert [c.identifier for c in assumption.context_of] == ["HC-G0", "SI-G0"]
    assert [c.identifier for c in assumption.solutions_in_scope] == ["HC-Sn1", "SI-Sn1"]


@pytest.mark.parametrize(
    ("expression", "bound"),
    [
        ("cp_upper(k, n, 0.95) < 0.01", 0.01),
        ("cp_upper(k, n) <= 0.05 && n >= 100", 0.05),
        ("rate < 0.2", 0.2),
        ("cp_lower(k, n, 0.95) >= 0.9", 0.9),
        ("k == 0", None),
        ("meta.x > 3", None),
        ("", None),
    ],
)
def test_the_criterion_bound_drawn_on_charts(expression, bound):
    assert review.criterion_threshold(expression) == bound


def test_chart_geometry_keeps_the_interval_on_a_round_axis():
    chart = review.chart_geometry(
        k=3, n=300, rate=0.01, lower=0.002, upper=0.029, threshold=0.01, width=220
    )
    assert chart["axis_max"] == "0.05"
    assert chart["left"] < chart["x_lower"] < chart["x_rate"] < chart["x_upper"] < chart["right"]
    assert chart["x_threshold"] == chart["x_rate"]
    assert chart["w_interval"] >= 2
    assert "3/300" in chart["title"]
    zero = review.chart_geometry(k=0, n=300, rate=0.0, lower=0.0, upper=0.0122)
    assert zero["x_rate"] == zero["left"] and zero["axis_max"] == "0.02"


def test_number_and_score_formatting():
    assert review.number(None) == "—"
    assert review.number(0.0) == "0"
    assert review.number(0.00998823) == "0.009988"
    assert review.number(1.5e-06) == "0.0000015"
    scores = {
        "match": {"correct": True},
        "refused": {"correct": False},
        "closeness": {"value": 0.25},
    }
    assert review.score_cell(scores, "match") == "✓"
    assert review.score_cell(scores, "refused") == "✗"
    assert review.score_cell(scores, "closeness") == "0.25"
    assert review.score_cell(scores, "absent") == ""
    assert review.score_outcome(scores, "refused") == "incorrect"


def test_flags_group_by_severity_and_badge_by_node():
    flags = [
        {"severity": "warning", "node": "B", "type": "t"},
        {"severity": "info", "node": "A", "type": "t"},
        {"severity": "error", "node": "B", "type": "t"},
        {"severity": "error", "node": "", "type": "ill_formed"},
    ]
    assert [s for s, _ in review.by_severity(flags)] == ["error", "warning", "info"]
    badges = review.badges_by_node(flags)
    assert [(b["node"], b["worst"], b["total"]) for b in badges] == [
        ("B", "error", 2),
        ("A", "info", 1),
    ]


def test_metrics_group_per_scorer():
    metric = SimpleNamespace
    rows = review.metrics_by_scorer(
        [
            metric(name="match", scorer="match", reducer="", metric="accuracy", group="", value=1),
            metric(name="match", scorer="match", reducer="", metric="stderr", group="", value=0),
            metric(name="x", scorer="x", reducer="max", metric="mean", group="", value=0.5),
        ]
    )
    assert [(r["name"], len(r["values"])) for r in rows] == [("match", 2), ("x", 1)]
