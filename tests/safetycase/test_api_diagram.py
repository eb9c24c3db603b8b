"""GET /api/v1/cases/{id}/diagram.svg and the diagram inlined on the case page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.core.cache import cache
from django.urls import reverse

from safetycase import services

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
IDENTIFIERS = {"G1", "C1", "S1", "G2", "G3", "Sn1"}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def node_groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def test_it_returns_the_case_as_svg_with_one_linked_group_per_node(case, api_client_for, viewer):
    response = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/diagram.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    groups = node_groups(response.content.decode())
    assert set(groups) == IDENTIFIERS
    for identifier, group in groups.items():
        assert group.get("id") == f"node-{identifier}"
        link = group.find(f".//{SVG}a")
        assert link.get(f"{XLINK}href") == reverse("node_detail", args=[case.pk, identifier])
        assert link.get("target") == "_top"


def test_the_diagram_shows_gsn_notation(case, api_client_for, viewer):
    svg = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/diagram.svg").content.decode()
    groups = node_groups(svg)

    def texts(identifier):
        return [t.text for t in groups[identifier].iter(f"{SVG}text")]

    assert texts("G1")[0] == "G1"
    assert "◊" in texts("G3")  # undeveloped
    assert "◊" not in texts("G2")
    assert groups["S1"].find(f".//{SVG}polygon") is not None  # parallelogram
    assert groups["Sn1"].find(f".//{SVG}ellipse") is not None  # circle
    assert svg.count('class="edge"') == 5
    assert svg.count('stroke-dasharray="5,2"') == 1  # G1 in context of C1


def test_statements_cannot_inject_markup(case, api_client_for, author, viewer):
    services.node_create_do(
        case=case,
        identifier="G9",
        type="goal",
        statement='<script>alert(1)</script> "];\nevil [label="x"]',
        undeveloped=True,
    )

    response = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/diagram.svg")

    assert "<script" not in response.content.decode()
    groups = node_groups(response.content.decode())
    assert set(groups) == IDENTIFIERS | {"G9"}
    shown = " ".join(t.text for t in groups["G9"].iter(f"{SVG}text"))
    assert '<script>alert(1)</script> "]; evil [label="x"]' in shown


def test_outsiders_get_404(case, api_client_for, outsider):
    response = api_client_for(outsider).get(f"/api/v1/cases/{case.pk}/diagram.svg")
    assert response.status_code == 404


def test_the_case_page_inlines_the_diagram(case, client, viewer):
    client.force_login(viewer)
    response = client.get(reverse("case_detail", args=[case.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    start = page.index("<svg", page.index('class="diagram"'))
    svg = page[start : page.index("</svg>", start) + len("</svg>")]
    assert set(node_groups(svg)) == IDENTIFIERS


def test_missing_renderer_is_a_503_with_a_sentence_not_a_crash(
    case, api_client_for, viewer, settings, monkeypatch, client
):
    monkeypatch.setenv("PATH", "/nonexistent")
    settings.SAFETYCASE = {**settings.SAFETYCASE, "DOT_RENDERER": "dot"}
    response = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/diagram.svg")
    assert response.status_code == 503
    assert "SAFETYCASE_DOT_RENDERER is 'dot'" in response.json()["detail"]

    client.force_login(viewer)
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert "The diagram could not be rendered" in page.content.decode()


def test_an_unchanged_diagram_is_not_sent_again(case, api_client_for, viewer, author, outsider):
    client = api_client_for(viewer)
    url = f"/api/v1/cases/{case.pk}/diagram.svg"
    first = client.get(url)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
    assert first["Cache-Control"] == "private, no-cache"
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    # An edit of the argument changes the tag: the new diagram is sent.
    services.node_update(
        actor=author, node=case.nodes.get(identifier="G3"), statement="Now reworded"
    )
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    # Someone who may not see the case learns nothing from a tag.
    assert api_client_for(outsider).get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404
