"""The pure diff between two version snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from safetycase import signing
from safetycase.core import versions
from safetycase.core.diff import diff_snapshots
from safetycase.core.keys import canonical_json
from safetycase.core.versions import chain_hash as content_hash


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


SECRET = bytes(range(32))
PUBLIC = signing.public_key(SECRET)
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def signed_version(number, snapshot, previous_hash, *, secret=SECRET):
    content = versions.version_content(
        case_id=1,
        number=number,
        snapshot=snapshot,
        verdict="approve",
        reasons="",
        conditions=[],
        open_items={},
        note="",
        created_by=versions.person(2, "bob"),
        created_at=AT,
        previous_hash=previous_hash,
    )
    digest = versions.content_hash(content)
    record = versions.signature_content(
        case_id=1, number=number, signed_hash=digest, signer=versions.person(2, "bob"), signed_at=AT
    )
    return {
        "number": number,
        "content": content,
        "content_hash": digest,
        "previous_hash": previous_hash,
        "server_signature": signing.sign(secret, versions.version_message(digest)).hex(),
        "key_id": "k",
        "signatures": [
            {
                "content": record,
                "server_signature": signing.sign(
                    secret, versions.signature_message(versions.content_hash(record))
                ).hex(),
                "key_id": "k",
            }
        ],
    }


def check(chain):
    return versions.verify_chain(
        chain,
        key_id="k",
        verify_signature=lambda message, sig: signing.verify(PUBLIC, message, sig),
    )


def test_verify_chain():
    v1 = signed_version(1, {"n": 1}, "")
    v2 = signed_version(2, {"n": 2}, v1["content_hash"])
    assert check([v1, v2]) == []
    assert check([v1, signed_version(2, {"n": 2}, "x" * 64)])  # broken link
    assert check([v2])  # the first version is missing
    tampered = dict(v1, content=dict(v1["content"], note="edited"))
    assert "content hash does not match" in check([tampered])[0]
    rehashed = dict(tampered, content_hash=versions.content_hash(tampered["content"]))
    assert "server's signature does not match" in check([rehashed])[0]
    forged = signed_version(1, {"n": 1}, "", secret=bytes(32))  # another key
    assert "server's signature does not match" in check([forged])[0]
    signer_swapped = dict(v1)
    record = dict(v1["signatures"][0]["content"], signer=versions.person(3, "vera"))
    signer_swapped["signatures"] = [dict(v1["signatures"][0], content=record)]
    assert "signature of vera does not match" in check([signer_swapped])[0]
