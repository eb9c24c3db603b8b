from __future__ import annotations

import pytest

from safetycase.models import Link, Node

pytestmark = pytest.mark.django_db


def test_members_list_only_their_cases(case, api_client_for, viewer, outsider):
    response = api_client_for(viewer).get("/api/v1/cases/")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == [case.name]
    assert response.json()["results"][0]["node_count"] == 6

    response = api_client_for(outsider).get("/api/v1/cases/")
    assert response.json()["results"] == []


def test_anonymous_requests_are_refused(case, api_client_for):
    assert api_client_for(None).get("/api/v1/cases/").status_code == 401
    assert api_client_for(None).get(f"/api/v1/cases/{case.pk}/").status_code == 401


def test_case_detail_has_nodes_and_links(case, api_client_for, viewer):
    data = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/").json()
    assert data["model_name"] == "example-model"
    assert {n["identifier"] for n in data["nodes"]} == {"G1", "C1", "S1", "G2", "G3", "Sn1"}
    g3 = next(n for n in data["nodes"] if n["identifier"] == "G3")
    assert g3.pop("updated_at")  # for stale-edit detection (expected_updated_at)
    assert g3 == {
        "identifier": "G3",
        "type": "goal",
        "statement": "The model lacks situational awareness",
        "undeveloped": True,
        "module": "",
        "attributes": {},
        "template_ref": "",
        "combination": "all",
        "catalogue_id": "",
    }
    assert {(link["source"], link["type"], link["target"]) for link in data["links"]} == {
        ("G1", "in_context_of", "C1"),
        ("G1", "supported_by", "S1"),
        ("S1", "supported_by", "G2"),
        ("S1", "supported_by", "G3"),
        ("G2", "supported_by", "Sn1"),
    }


def test_case_detail_uses_a_fixed_number_of_queries(
    case, api_client_for, viewer, django_assert_max_num_queries
):
    client = api_client_for(viewer)
    with django_assert_max_num_queries(7):  # one of them for the ETag
        client.get(f"/api/v1/cases/{case.pk}/")


def test_outsider_gets_404_for_every_case_endpoint(case, api_client_for, outsider):
    client = api_client_for(outsider)
    for url in [
        f"/api/v1/cases/{case.pk}/",
        f"/api/v1/cases/{case.pk}/findings/",
        f"/api/v1/cases/{case.pk}/diagram.svg",
        f"/api/v1/cases/{case.pk}/nodes/G1/",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert case.name not in response.content.decode()
    assert client.post(f"/api/v1/cases/{case.pk}/nodes/", {}, format="json").status_code == 404


def test_author_creates_updates_and_deletes_a_node(case, api_client_for, author):
    client = api_client_for(author)
    response = client.post(
        f"/api/v1/cases/{case.pk}/nodes/",
        {"identifier": "Sn2", "type": "solution", "statement": "Awareness eval"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    response = client.post(
        f"/api/v1/cases/{case.pk}/links/",
        {"source": "G3", "target": "Sn2", "type": "supported_by"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    link_id = response.json()["id"]

    response = client.patch(
        f"/api/v1/cases/{case.pk}/nodes/G3/", {"undeveloped": False}, format="json"
    )
    assert response.status_code == 200
    assert Node.objects.get(case=case, identifier="G3").undeveloped is False

    assert client.delete(f"/api/v1/cases/{case.pk}/links/{link_id}/").status_code == 204
    assert client.delete(f"/api/v1/cases/{case.pk}/nodes/Sn2/").status_code == 204
    assert not Node.objects.filter(case=case, identifier="Sn2").exists()


def test_deleting_a_node_removes_its_links_and_keeps_history(case, api_client_for, author):
    client = api_client_for(author)
    assert client.delete(f"/api/v1/cases/{case.pk}/nodes/G2/").status_code == 204
    assert not Link.objects.filter(case=case, source__identifier="G2").exists()
    assert not Link.objects.filter(case=case, target__identifier="G2").exists()
    deleted = Node.history.filter(identifier="G2", history_type="-").get()
    assert deleted.history_user.username == "alice"


@pytest.mark.parametrize("persona", ["reviewer", "viewer"])
def test_non_authors_cannot_edit_the_argument(case, api_client_for, request, persona):
    client = api_client_for(request.getfixturevalue(persona))
    response = client.post(
        f"/api/v1/cases/{case.pk}/nodes/",
        {"identifier": "G9", "type": "goal", "statement": "x"},
        format="json",
    )
    assert response.status_code == 403
    assert "Only authors" in response.json()["detail"]
    assert (
        client.patch(
            f"/api/v1/cases/{case.pk}/nodes/G1/", {"statement": "changed"}, format="json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/cases/{case.pk}/nodes/G1/").status_code == 403
    assert Node.objects.get(case=case, identifier="G1").statement.startswith("The model")


def test_bad_node_input_gets_a_sentence_and_changes_nothing(case, api_client_for, author):
    client = api_client_for(author)
    url = f"/api/v1/cases/{case.pk}/nodes/"
    before = Node.objects.count()

    response = client.post(url, {"identifier": "G1", "type": "goal"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == f"Case {case.pk} already has a node 'G1'."

    response = client.post(url, {"identifier": "bad id!", "type": "goal"}, format="json")
    assert response.status_code == 400
    assert "not a valid node identifier" in response.json()["detail"]

    response = client.post(url, {"identifier": "G7", "type": "claim"}, format="json")
    assert response.status_code == 400
    assert "type" in response.json()

    response = client.post(
        f"/api/v1/cases/{case.pk}/links/",
        {"source": "G1", "target": "G404", "type": "supported_by"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"Case {case.pk} has no node 'G404'."
    assert Node.objects.count() == before


def test_findings_endpoint_lists_rule_findings(case, api_client_for, viewer):
    response = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/findings/")
    assert response.status_code == 200
    for finding in response.json():
        assert set(finding) == {"rule", "severity", "node", "message"}
        assert finding["severity"] in {"error", "warning"}


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content


def test_a_stale_api_edit_is_refused_with_409(case, api_client_for, author, make_user):
    from safetycase import services
    from safetycase.choices import Role

    other = make_user("dana")
    services.membership_set(case=case, user=other, role=Role.AUTHOR)
    url = f"/api/v1/cases/{case.pk}/nodes/G2/"
    seen = api_client_for(author).get(url).json()["updated_at"]
    first = api_client_for(other).patch(
        url, {"statement": "Dana's wording", "expected_updated_at": seen}, format="json"
    )
    assert first.status_code == 200
    second = api_client_for(author).patch(
        url, {"statement": "Alice's wording", "expected_updated_at": seen}, format="json"
    )
    assert second.status_code == 409
    assert "changed by someone else" in second.json()["detail"]
    assert Node.objects.get(case=case, identifier="G2").statement == "Dana's wording"


def test_an_unchanged_case_is_not_sent_again(case, api_client_for, viewer, author, outsider):
    client, editor = api_client_for(viewer), api_client_for(author)
    url = f"/api/v1/cases/{case.pk}/"
    first = client.get(url)
    etag = first["ETag"]
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    # Each kind of change to what the answer holds changes the tag.
    edits = [
        lambda: editor.patch(f"{url}nodes/G3/", {"statement": "Reworded"}, format="json"),
        lambda: editor.post(
            f"{url}links/", {"source": "G1", "target": "G3", "type": "supported_by"}, format="json"
        ),
        lambda: editor.delete(f"{url}nodes/C1/"),
    ]
    for edit in edits:
        assert edit().status_code < 300
        changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert changed.status_code == 200 and changed["ETag"] != etag
        etag = changed["ETag"]
    assert api_client_for(outsider).get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
