"""The case page shown down to a level (`?depth=N`): what the diagram draws, what bad values
mean, and that it costs no query more than the whole diagram."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def drawn(page: str) -> set[str]:
    """The nodes the page's diagram draws (the SVG groups' ids)."""
    svg = page[page.index("<svg") : page.index("</svg>")]
    return set(re.findall(r'<g id="node&#45;([^"]+)" class="node"', svg))


def test_the_diagram_stops_at_the_level_asked_for(client, case, viewer):
    # G1 (level 1) → S1 (2) → G2, G3 (3) → Sn1 (4); C1 is G1's context.
    client.force_login(viewer)
    whole = drawn(client.get(f"/cases/{case.pk}/").content.decode())
    assert whole == {"G1", "C1", "S1", "G2", "G3", "Sn1"}
    page = client.get(f"/cases/{case.pk}/?depth=2").content.decode()
    assert drawn(page) == {"G1", "C1", "S1"}
    assert "3 elements folded below" in page
    assert '<option value="2" selected>2</option>' in page
    assert drawn(client.get(f"/cases/{case.pk}/?depth=3").content.decode()) == whole - {"Sn1"}
    # Below the deepest level, or not a number: the whole diagram; 0 or less: level 1.
    assert drawn(client.get(f"/cases/{case.pk}/?depth=9").content.decode()) == whole
    assert drawn(client.get(f"/cases/{case.pk}/?depth=two").content.decode()) == whole
    assert drawn(client.get(f"/cases/{case.pk}/?depth=-1").content.decode()) == {"G1", "C1"}


def test_a_node_opened_from_a_level_keeps_it_and_its_fold_link_names_every_fold(
    client, case, viewer
):
    client.force_login(viewer)
    page = client.get(f"/cases/{case.pk}/?depth=2&node=S1").content.decode()
    # The panel's links keep the level; unfolding S1 there lists the folds instead.
    assert f"/cases/{case.pk}/?depth=2&amp;node=" in page
    assert f'href="/cases/{case.pk}/?fold=S1&amp;node=S1"' not in page
    assert f'href="/cases/{case.pk}/?node=S1"' in page  # unfolding S1 unfolds all there is


def test_a_level_costs_no_query_more_than_the_whole_diagram(client, case, viewer, settings):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PAGE_CACHE_SECONDS": 0}  # both pages drawn
    client.force_login(viewer)
    client.get(f"/cases/{case.pk}/")  # the browser holds a CSRF cookie from now on, as usual
    with CaptureQueriesContext(connection) as whole:
        client.get(f"/cases/{case.pk}/")
    with CaptureQueriesContext(connection) as level:
        client.get(f"/cases/{case.pk}/?depth=2")
    assert len(level.captured_queries) <= len(whole.captured_queries)
