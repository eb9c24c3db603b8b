"""The versions API: list, one version, diff, sign-off; read-only once created."""

from __future__ import annotations

import pytest

from safetycase import selectors, services
from safetycase.core.versions import content_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(case, reviewer):
    services.case_assess(case=case, trigger="manual")
    v1 = services.version_sign_off(actor=reviewer, case=case, note="first")
    services.node_create_do(case=case, identifier="G4", type="goal", statement="New goal")
    services.case_assess(case=case, trigger="manual")
    v2 = services.version_sign_off(actor=reviewer, case=case)
    return v1, v2


@pytest.mark.parametrize("persona", ["author", "reviewer", "viewer"])
def test_members_list_and_read_versions(case, versions, api_client_for, persona, request):
    client = api_client_for(request.getfixturevalue(persona))
    listed = client.get(f"/api/v1/cases/{case.pk}/versions/")
    assert listed.status_code == 200
    assert [v["number"] for v in listed.json()] == [2, 1]
    assert listed.json()[1]["signatures"][0]["user"] == "bob"
    one = client.get(f"/api/v1/cases/{case.pk}/versions/1/")
    assert one.status_code == 200
    body = one.json()
    assert body["content_hash"] == versions[0].content_hash and body["note"] == "first"
    assert content_hash(services.version_content_of(versions[0])) == body["content_hash"]
    assert body["verdict"] == "approve" and body["key_id"] and body["signatures_required"] == 1


def test_outsiders_get_404(case, versions, api_client_for, outsider):
    client = api_client_for(outsider)
    for url in ("versions/", "versions/1/", "versions/diff/?a=1&b=2"):
        assert client.get(f"/api/v1/cases/{case.pk}/{url}").status_code == 404
    assert client.post(f"/api/v1/cases/{case.pk}/versions/", {}).status_code == 404


def test_unknown_version_is_404(case, versions, api_client_for, viewer):
    assert api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/versions/9/").status_code == 404


def test_diff(case, versions, api_client_for, viewer):
    response = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/versions/diff/?a=1&b=2")
    assert response.status_code == 200
    diff = response.json()
    assert [n["identifier"] for n in diff["nodes_added"]] == ["G4"]
    assert diff["nodes_removed"] == [] and diff["nodes_changed"] == []
    assert (diff["a"], diff["b"]) == (1, 2)
    bad = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/versions/diff/?a=x")
    assert bad.status_code == 400


def test_reviewers_sign_off_through_the_api(case, api_client_for, reviewer):
    response = api_client_for(reviewer).post(
        f"/api/v1/cases/{case.pk}/versions/", {"note": "api"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["number"] == 1 and response.json()["previous_hash"] == ""


@pytest.mark.parametrize("persona", ["author", "viewer"])
def test_authors_and_viewers_cannot_sign_off(case, api_client_for, persona, request):
    client = api_client_for(request.getfixturevalue(persona))
    assert client.post(f"/api/v1/cases/{case.pk}/versions/", {}).status_code == 403


def test_no_api_path_changes_a_version(case, versions, api_client_for, reviewer, author):
    before = selectors.version_for_case(case=case, number=1).content_hash
    for user in (reviewer, author):
        client = api_client_for(user)
        url = f"/api/v1/cases/{case.pk}/versions/1/"
        for method in (client.put, client.patch):
            assert method(url, {"note": "x"}, format="json").status_code == 405
        assert client.delete(url).status_code == 405
    assert selectors.version_for_case(case=case, number=1).content_hash == before


# --- comments and challenges


def test_comments_api(case, api_client_for, author, viewer, outsider):
    url = f"/api/v1/cases/{case.pk}/nodes/G2/comments/"
    created = api_client_for(author).post(url, {"text": "Why?"}, format="json")
    assert created.status_code == 201 and created.json()["author"] == "alice"
    assert [c["text"] for c in api_client_for(viewer).get(url).json()] == ["Why?"]
    assert api_client_for(viewer).post(url, {"text": "x"}, format="json").status_code == 403
    assert api_client_for(outsider).get(url).status_code == 404
    assert api_client_for(outsider).post(url, {"text": "x"}, format="json").status_code == 404
    missing = f"/api/v1/cases/{case.pk}/nodes/NOPE/comments/"
    assert api_client_for(author).get(missing).status_code == 404


def test_challenges_api(case, api_client_for, author, reviewer, viewer, outsider):
    url = f"/api/v1/cases/{case.pk}/nodes/G2/challenges/"
    assert api_client_for(author).post(url, {"claim": "x"}, format="json").status_code == 403
    created = api_client_for(reviewer).post(url, {"claim": "Weak"}, format="json")
    assert created.status_code == 201 and created.json()["state"] == "open"
    assert created.json()["resolved_by"] is None
    assert [c["claim"] for c in api_client_for(viewer).get(url).json()] == ["Weak"]
    assert api_client_for(outsider).get(url).status_code == 404
    resolve = f"/api/v1/cases/{case.pk}/challenges/{created.json()['id']}/resolve/"
    body = {"resolution": "Fixed"}
    assert api_client_for(viewer).post(resolve, body, format="json").status_code == 403
    assert api_client_for(outsider).post(resolve, body, format="json").status_code == 404
    # An author responds but does not close; the challenger closes.
    refused = api_client_for(author).post(resolve, body, format="json")
    assert refused.status_code == 403 and "authors respond" in refused.json()["detail"]
    respond = f"/api/v1/cases/{case.pk}/challenges/{created.json()['id']}/respond/"
    answered = api_client_for(author).post(respond, {"response": "See Sn2"}, format="json")
    assert answered.status_code == 200 and answered.json()["state"] == "open"
    assert answered.json()["response"] == "See Sn2"
    done = api_client_for(reviewer).post(resolve, body, format="json")
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["resolved_by"]) == ("resolved", "bob")
    assert api_client_for(reviewer).post(resolve, body, format="json").status_code == 409
