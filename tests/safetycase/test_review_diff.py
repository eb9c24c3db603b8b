"""The pure diff between two version snapshots."""

from __future__ import annotations

from safetycase.core.diff import diff_snapshots
from safetycase.core.keys import canonical_json
from safetycase.core.versions import chain_hash as content_hash
from safetycase.core.versions import verify_chain


def snap(nodes, statuses=None, flags=None, overall=""):
    return {
        "nodes": [
            {"identifier": i, "type": t, "statement": s, "undeveloped": u} for i, t, s, u in nodes
        ],
        "assessment": None
        if statuses is None
        else {"statuses": statuses, "flags": flags or [], "overall_status": overall},
    }


def flag(type_, node, rule="r"):
    return {"type": type_, "severity": "error", "node": node, "run": None, "rule": rule}


def test_identical_snapshots_have_an_empty_diff():
    a = snap([("G1", "goal", "x", False)], {"G1": "supported"}, [flag("stale", "G1")])
    diff = diff_snapshots(a, a)
    assert diff["nodes_added"] == diff["nodes_removed"] == diff["nodes_changed"] == []
    assert diff["status_changes"] == diff["flags_added"] == diff["flags_cleared"] == []


def test_added_removed_and_changed_nodes():
    a = snap(
        [("G1", "goal", "old", False), ("G2", "goal", "gone", False), ("G3", "goal", "", True)]
    )
    b = snap(
        [("G1", "goal", "new", False), ("G3", "strategy", "", False), ("G4", "goal", "", False)]
    )
    diff = diff_snapshots(a, b)
    assert [n["identifier"] for n in diff["nodes_added"]] == ["G4"]
    assert [n["identifier"] for n in diff["nodes_removed"]] == ["G2"]
    assert diff["nodes_changed"] == [
        {"identifier": "G1", "fields": {"statement": {"before": "old", "after": "new"}}},
        {
            "identifier": "G3",
            "fields": {
                "type": {"before": "goal", "after": "strategy"},
                "undeveloped": {"before": True, "after": False},
            },
        },
    ]


def test_status_changes_and_new_flags():
    a = snap(
        [("G1", "goal", "", False)], {"G1": "supported", "Sn1": "supported"}, [flag("x", "G1")]
    )
    b = snap(
        [("G1", "goal", "", False)],
        {"G1": "defeated", "Sn2": "at_risk"},
        [flag("criterion_failed", "Sn1")],
        overall="defeated",
    )
    diff = diff_snapshots(a, b)
    assert diff["status_changes"] == [
        {"identifier": "G1", "before": "supported", "after": "defeated"},
        {"identifier": "Sn1", "before": "supported", "after": None},
        {"identifier": "Sn2", "before": None, "after": "at_risk"},
    ]
    assert [f["type"] for f in diff["flags_added"]] == ["criterion_failed"]
    assert [f["type"] for f in diff["flags_cleared"]] == ["x"]
    assert diff["overall_status"] == {"before": "", "after": "defeated"}


def test_a_snapshot_without_assessment_diffs_against_one_with():
    diff = diff_snapshots(snap([]), snap([], {"G1": "supported"}))
    assert diff["status_changes"] == [{"identifier": "G1", "before": None, "after": "supported"}]


def test_canonical_json_and_hash_ignore_key_order_and_chain():
    assert canonical_json({"b": 1, "a": [2, {"d": 1, "c": 0}]}) == '{"a":[2,{"c":0,"d":1}],"b":1}'
    assert content_hash({"a": 1, "b": 2}, "") == content_hash({"b": 2, "a": 1}, "")
    assert content_hash({"a": 1}, "") != content_hash({"a": 1}, "0" * 64)


class V:
    def __init__(self, number, snapshot, previous_hash, digest=None):
        self.case_id, self.number, self.snapshot = 1, number, snapshot
        self.previous_hash = previous_hash
        self.content_hash = digest or content_hash(snapshot, previous_hash)


def test_verify_chain():
    v1 = V(1, {"n": 1}, "")
    v2 = V(2, {"n": 2}, v1.content_hash)
    assert verify_chain([v1, v2]) == []
    assert verify_chain([v1, V(2, {"n": 2}, "x" * 64)])  # broken link
    assert verify_chain([V(1, {"n": 1}, "", digest="0" * 64)])  # tampered content
