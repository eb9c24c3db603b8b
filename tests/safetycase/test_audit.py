"""The audit trail of a case: every recorded change with who, when and what, newest first,
paged, for every member; outsiders get 404; the cost of a page does not grow with the trail."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from safetycase import selectors, services
from safetycase.models import EvidenceBinding, Node

pytestmark = pytest.mark.django_db

CRITERION = "cp_upper(k, n, 0.95) < 0.01"


def entries(case, limit=500):
    return selectors.audit_entries(list(selectors.case_audit_refs(case=case)[:limit]))


def test_a_node_edit_shows_who_changed_which_field_from_what_to_what(case, author, api_client_for):
    edit = api_client_for(author).patch(
        f"/api/v1/cases/{case.pk}/nodes/G2/", {"statement": "It cannot sabotage"}, format="json"
    )
    assert edit.status_code == 200
    newest = entries(case)[0]
    assert (newest.who, newest.action, newest.object_type, newest.object) == (
        "alice",
        "changed",
        "node",
        "G2",
    )
    assert [(c.field, c.old, c.new) for c in newest.changes] == [
        ("statement", "The model lacks the capability for stealthy sabotage", "It cannot sabotage")
    ]


def test_every_kind_of_change_in_the_case_is_listed_newest_first(
    case, author, reviewer, outsider, make_user, api_client_for
):
    """Each change made as its user would make it (API, or the page where there is no API),
    so that who made it is recorded from the request."""
    make_user("rita")
    url = f"/api/v1/cases/{case.pk}"
    alice, bob = api_client_for(author), api_client_for(reviewer)

    def ok(response):
        assert response.status_code < 300, response.content
        return response.json() if response.content else None

    ok(alice.post(f"{url}/nodes/", {"identifier": "A1", "type": "assumption"}, format="json"))
    link = {"source": "G1", "target": "A1", "type": "in_context_of"}
    ok(alice.post(f"{url}/links/", link, format="json"))
    binding = ok(
        alice.post(
            f"{url}/bindings/",
            {"node": "Sn1", "expression": CRITERION, "selector": {"task": "sabotage"}},
            format="json",
        )
    )
    ok(alice.patch(f"{url}/bindings/{binding['id']}/", {"freshness_days": 30}, format="json"))
    attestation = ok(
        bob.post(
            f"{url}/attestations/",
            {"node": "A1", "statement": "Elicitation was thorough"},
            format="json",
        )
    )
    ok(alice.post(f"{url}/members/", {"username": "charlie", "role": "viewer"}, format="json"))
    comment = ok(bob.post(f"{url}/nodes/Sn1/comments/", {"text": "Which runs?"}, format="json"))
    challenge = ok(
        bob.post(f"{url}/nodes/Sn1/challenges/", {"claim": "Too few samples"}, format="json")
    )
    ok(
        alice.post(
            f"{url}/challenges/{challenge['id']}/respond/",
            {"response": "More runs bound"},
            format="json",
        )
    )
    ok(
        bob.post(
            f"{url}/challenges/{challenge['id']}/resolve/",
            {"resolution": "Accepted"},
            format="json",
        )
    )
    ok(bob.post(f"{url}/versions/", {"note": ""}, format="json"))
    ok(alice.post(f"{url}/members/", {"username": "rita", "role": "reviewer"}, format="json"))
    ok(alice.delete(f"{url}/nodes/A1/"))

    found = [(e.who, e.object_type, e.action, e.object) for e in entries(case)]
    # Deleting A1 removed its link first (the service), then its attestation (cascade).
    assert found[:14] == [
        ("alice", "node", "deleted", "A1"),
        ("alice", "attestation", "deleted", f"attestation {attestation['id']} on A1"),
        ("alice", "link", "deleted", "G1 in_context_of A1"),
        ("alice", "membership", "created", "rita"),
        ("bob", "version", "signed off", "version 1"),
        ("bob", "challenge", "changed", f"challenge {challenge['id']} on Sn1"),
        ("alice", "challenge", "changed", f"challenge {challenge['id']} on Sn1"),
        ("bob", "challenge", "created", f"challenge {challenge['id']} on Sn1"),
        ("bob", "comment", "created", f"comment {comment['id']} on Sn1"),
        ("alice", "membership", "created", "charlie"),
        ("bob", "attestation", "created", f"attestation {attestation['id']} on A1"),
        ("alice", "binding", "changed", "criterion on Sn1"),
        ("alice", "binding", "created", "criterion on Sn1"),
        ("alice", "link", "created", "G1 in_context_of A1"),
    ]
    assert ("alice", "node", "created", "A1") in found
    # The fixture's own setup ran outside a request: no acting user is recorded.
    assert (None, "case", "created", case.name) in found
    assert (None, "membership", "created", "alice") in found
    times = [e.at for e in entries(case)]
    assert times == sorted(times, reverse=True)


def test_a_co_signature_is_listed_beside_the_sign_off(case, reviewer, make_user, client):
    rita = make_user("rita")
    services.membership_set(case=case, user=rita, role="reviewer")
    services.version_sign_off(actor=reviewer, case=case)
    client.force_login(rita)
    assert client.post(reverse("version_cosign", args=[case.pk, 1])).status_code == 302
    found = [(e.who, e.object_type, e.action, e.object) for e in entries(case)]
    assert found[:2] == [
        ("rita", "signature", "co-signed", "version 1"),
        ("bob", "version", "signed off", "version 1"),
    ]
    # The signer's own signature is part of the sign-off, not a second entry.
    assert sum(1 for entry in found if entry[1] == "signature") == 1


def test_changes_name_nodes_and_people_not_ids(case, author, reviewer):
    g3 = Node.objects.get(case=case, identifier="G3")
    challenge = services.challenge_create(actor=reviewer, node=g3, claim="Untested")
    services.challenge_resolve(actor=reviewer, challenge=challenge, resolution="Tested now")
    resolved = entries(case)[0]
    changes = {c.field: (c.old, c.new) for c in resolved.changes}
    assert changes["resolved_by"] == (None, "bob")
    assert changes["state"] == ("open", "resolved")
    created = entries(case)[1]
    assert {c.field: c.new for c in created.changes}["node"] == "G3"
    assert {c.field: c.new for c in created.changes}["raised_by"] == "bob"


def test_a_binding_change_shows_the_old_and_new_expression(case, author):
    sn1 = Node.objects.get(case=case, identifier="Sn1")
    binding = services.binding_create(actor=author, node=sn1, expression=CRITERION)
    services.binding_update(actor=author, binding=binding, expression="cp_upper(k, n, 0.95) < 0.05")
    changed = entries(case)[0]
    assert [(c.field, c.old, c.new) for c in changed.changes] == [
        ("expression", CRITERION, "cp_upper(k, n, 0.95) < 0.05")
    ]


def _grow(case, author, count: int, start: int = 0) -> None:
    """`count` rounds of a node created and edited, a link, a binding and a comment."""
    sn1 = Node.objects.get(case=case, identifier="Sn1")
    for i in range(start, start + count):
        node = services.node_create(actor=author, case=case, identifier=f"X{i}", type="goal")
        services.node_update(actor=author, node=node, statement=f"claim {i}")
        services.link_create(
            actor=author, case=case, source="S1", target=f"X{i}", type="supported_by"
        )
        services.binding_create(actor=author, node=sn1, expression=CRITERION)
        services.comment_create(actor=author, node=sn1, text=f"note {i}")


def test_a_page_costs_no_more_queries_when_the_trail_grows(
    case, author, reviewer, client, api_client_for, django_assert_max_num_queries
):
    """Measured with a short trail, then the trail grows twelvefold (to more than a page):
    neither the page nor the API may need more queries."""
    _grow(case, author, 2)
    services.version_sign_off(actor=reviewer, case=case)
    client.force_login(reviewer)
    page_url = reverse("case_audit", args=[case.pk])
    api = api_client_for(reviewer)
    api_url = f"/api/v1/cases/{case.pk}/audit/?limit=100"
    with CaptureQueriesContext(connection) as short_page:
        assert client.get(page_url).status_code == 200
    with CaptureQueriesContext(connection) as short_api:
        assert api.get(api_url).status_code == 200

    _grow(case, author, 25, start=2)
    services.version_sign_off(actor=reviewer, case=case)
    with django_assert_max_num_queries(len(short_page.captured_queries)):
        response = client.get(page_url)
    assert "X24" in response.content.decode()
    with django_assert_max_num_queries(len(short_api.captured_queries)):
        response = api.get(api_url)
    data = response.json()
    # 6 fixture nodes + 5 links + 3 memberships + the case, 5 records per round, 2 versions.
    assert data["count"] == 15 + 27 * 5 + 2
    assert len(data["results"]) == 100
    assert set(data["results"][0]) == {
        "at",
        "who",
        "action",
        "object_type",
        "object",
        "changes",
        "reason",
    }


def test_the_page_is_paged_newest_first(case, author, client):
    _grow(case, author, 10)  # 50 records + 15 from the fixture
    client.force_login(author)
    url = reverse("case_audit", args=[case.pk])
    first = client.get(url).content.decode()
    second = client.get(url + "?page=2").content.decode()
    assert "page 1 of 2" in first and "65 changes" in first
    assert "note 9" in first and "note 9" not in second
    # The fixture's links are the oldest records.
    assert "G1 supported_by S1" in second and "G1 supported_by S1" not in first


def test_outsiders_get_404_and_every_member_may_read(
    case, author, reviewer, viewer, outsider, client
):
    url = reverse("case_audit", args=[case.pk])
    for member in (author, reviewer, viewer):
        client.force_login(member)
        assert client.get(url).status_code == 200
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_api_changes_made_through_the_api_name_the_token_user(case, author, api_client_for):
    api = api_client_for(author)
    response = api.patch(
        f"/api/v1/cases/{case.pk}/nodes/G3/", {"statement": "Now argued"}, format="json"
    )
    assert response.status_code == 200
    newest = api.get(f"/api/v1/cases/{case.pk}/audit/").json()["results"][0]
    assert newest["who"] == "alice" and newest["object"] == "G3"
    assert {
        "field": "statement",
        "old": "The model lacks situational awareness",
        "new": "Now argued",
    } in newest["changes"]


def test_node_page_keeps_its_own_history(case, author, client):
    g2 = Node.objects.get(case=case, identifier="G2")
    services.node_update(actor=author, node=g2, statement="Edited statement")
    client.force_login(author)
    page = client.get(reverse("node_detail", args=[case.pk, "G2"])).content.decode()
    assert "History" in page and "Edited statement" in page and "alice" in page


def test_deleted_nodes_keep_their_identifier_in_the_trail(case, author):
    sn1 = Node.objects.get(case=case, identifier="Sn1")
    services.binding_create(actor=author, node=sn1, expression=CRITERION)
    services.node_delete(actor=author, node=sn1)
    assert not EvidenceBinding.objects.filter(case=case).exists()
    labels = [(e.object_type, e.action, e.object) for e in entries(case)]
    assert ("binding", "created", "criterion on Sn1") in labels
    assert ("node", "deleted", "Sn1") in labels
