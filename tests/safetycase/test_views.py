from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_pages_require_login(client, case):
    for url in ["/", f"/cases/{case.pk}/", f"/cases/{case.pk}/nodes/G1/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")


def test_case_list_shows_only_member_cases(client, case, viewer, outsider):
    client.force_login(viewer)
    assert case.name in client.get("/").content.decode()
    client.force_login(outsider)
    page = client.get("/").content.decode()
    assert case.name not in page
    assert "not a member of any case" in page


def test_case_list_uses_a_fixed_number_of_queries(
    client, case, viewer, django_assert_max_num_queries
):
    client.force_login(viewer)
    with django_assert_max_num_queries(4):
        client.get("/")


def test_case_page_shows_diagram_nodes_and_findings(client, case, viewer):
    client.force_login(viewer)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "<svg" in page
    assert "The model cannot cause catastrophic harm through scheming" in page
    assert f'href="/cases/{case.pk}/nodes/G2/"' in page


def test_outsider_gets_404_for_case_and_node_pages(client, case, outsider):
    client.force_login(outsider)
    for url in [f"/cases/{case.pk}/", f"/cases/{case.pk}/nodes/G1/"]:
        response = client.get(url)
        assert response.status_code == 404
        assert case.name not in response.content.decode()


def test_node_page_shows_statement_links_and_history(client, case, viewer):
    client.force_login(viewer)
    page = client.get(f"/cases/{case.pk}/nodes/G2/").content.decode()
    assert "The model lacks the capability for stealthy sabotage" in page
    assert f'href="/cases/{case.pk}/nodes/S1/"' in page  # parent
    assert f'href="/cases/{case.pk}/nodes/Sn1/"' in page  # child
    assert "Created" in page


def test_unknown_node_is_404(client, case, viewer):
    client.force_login(viewer)
    assert client.get(f"/cases/{case.pk}/nodes/G404/").status_code == 404


def test_statements_are_escaped_in_pages(client, case, author):
    from safetycase import services
    from safetycase.models import Node

    node = Node.objects.get(case=case, identifier="G3")
    services.node_update(actor=author, node=node, statement='<script>alert("x")</script>')
    client.force_login(author)
    for url in [f"/cases/{case.pk}/", f"/cases/{case.pk}/nodes/G3/"]:
        page = client.get(url).content.decode()
        assert '<script>alert("x")</script>' not in page
        assert "&lt;script&gt;" in page


def test_case_page_shows_the_latest_assessment_and_colours_the_diagram(client, case, viewer):
    from safetycase import services

    assessment = services.case_assess(case=case, trigger="manual")
    client.force_login(viewer)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Overall" in page
    assert assessment.overall_status in page
    # Sn1 has no evidence bound: missing_evidence, drawn amber (at risk).
    assert "missing_evidence" in page
    assert assessment.statuses["Sn1"] == "at_risk"
    assert "#ffe8a8" in page  # the at-risk fill of the diagram


def test_a_sub_argument_folds_and_unfolds_from_the_node_panel(client, case, viewer):
    client.force_login(viewer)
    base = f"/cases/{case.pk}/"
    whole = client.get(base).content.decode()
    assert 'data-node="G2"' in whole and 'id="node&#45;G2"' in whole
    assert "folded below" not in whole

    # S1's panel offers to fold what is below it; the link keeps S1's panel open.
    panel = client.get(f"{base}?node=S1").content.decode()
    assert f'href="{base}?fold=S1&amp;node=S1"' in panel
    assert "Fold the sub-argument below S1" in panel

    folded = client.get(f"{base}?fold=S1&node=S1").content.decode()
    # G2, G3 and Sn1 are below S1 and nowhere else: gone from the diagram and the node list.
    for hidden in ("G2", "G3", "Sn1"):
        assert f'data-node="{hidden}"' not in folded
        assert f'id="node&#45;{hidden}"' not in folded
    assert 'data-node="G1"' in folded and 'data-node="C1"' in folded
    assert "3 elements folded below" in folded
    assert f'href="{base}?node=S1"' in folded  # Unfold (panel): back to nothing folded
    assert "Unfold the sub-argument below S1" in folded and "Unfold all" in folded

    # The htmx panel of another node keeps the fold shown on the page in its own link.
    fragment = client.get(
        f"{base}nodes/G1/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{base}?fold=S1",
    ).content.decode()
    assert f'href="{base}?fold=G1%2CS1&amp;node=G1"' in fragment

    # Leaves and unknown names fold nothing.
    page = client.get(f"{base}?fold=Sn1,nope,%3Cb%3E").content.decode()
    assert 'data-node="Sn1"' in page and "folded below" not in page


def test_an_open_challenge_shows_in_the_diagram_until_resolved(client, case, reviewer, author):
    from safetycase import services
    from safetycase.models import Node

    client.force_login(reviewer)
    url = f"/cases/{case.pk}/"
    assert "open challenge" not in client.get(url).content.decode()

    g2 = Node.objects.get(case=case, identifier="G2")
    first = services.challenge_create(actor=reviewer, node=g2, claim="Sabotage was not elicited")
    services.challenge_create(actor=reviewer, node=g2, claim="The suite is too small")
    page = client.get(url).content.decode()
    g2_svg = page[page.index('<g id="node&#45;G2"') :]
    g2_svg = g2_svg[: g2_svg.index("</g>")]
    assert "⚑ 2 open challenges" in g2_svg and 'stroke="#c62828"' in g2_svg
    assert page.count("open challenge") == 1  # only G2 is marked

    services.challenge_resolve(actor=reviewer, challenge=first, resolution="Elicited in run 4")
    assert "⚑ 1 open challenge<" in client.get(url).content.decode()
