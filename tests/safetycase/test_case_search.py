"""Finding nodes on the case page: `?q=` lists the matching nodes of the whole case and marks
them in the diagram; the header's counts are such searches."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from safetycase import services
from safetycase.core.search import matching_identifiers, parse_query
from safetycase.models import Assessment

NODES = [
    SimpleNamespace(identifier="G1", type="goal", statement="The model does not scheme"),
    SimpleNamespace(identifier="AL-Sn1", type="solution", statement="Honeypot results"),
    SimpleNamespace(identifier="AL-Sn2", type="solution", statement="Interpretability probes"),
    SimpleNamespace(identifier="A1", type="assumption", statement="Honeypots look real"),
]
STATUSES = {"G1": "at_risk", "AL-Sn1": "supported", "AL-Sn2": "defeated"}
FLAGS = [{"node": "AL-Sn2", "type": "criterion_failed", "severity": "error"}]


def find(query):
    return matching_identifiers(query, NODES, STATUSES, FLAGS)


def test_every_word_must_match_any_field():
    assert find("honeypot") == ["AL-Sn1", "A1"]
    assert find("HONEYPOT solution") == ["AL-Sn1"]
    assert find("al-sn") == ["AL-Sn1", "AL-Sn2"]
    assert find("at risk") == ["G1"]  # "at_risk" reads as "at risk"
    assert find("criterion_failed") == ["AL-Sn2"]
    assert find("") == [] and find("   ") == []
    assert find("nothing-like-this") == []


def test_status_and_flag_words_look_only_there():
    assert find("status:defeated") == ["AL-Sn2"]
    assert find("status:at_risk") == ["G1"]
    assert find("flag:error") == ["AL-Sn2"]
    assert find("flag:criterion") == ["AL-Sn2"]
    assert find("status:honeypot") == []  # not a status, though statements say it
    assert parse_query("unknown:word")[0].field == ""  # any field, the word as typed


@pytest.mark.django_db
def test_the_case_page_lists_and_marks_what_matches(client, bound_case, viewer):
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/?q=oversight").content.decode()
    results = page[page.index('id="search-results"') :]
    results = results[: results.index("</section>")]
    assert "2 nodes match “oversight”" in results
    assert 'data-node="G1"' in results and 'data-node="Sn1"' in results
    assert 'data-node="A1"' not in results
    hits = re.search(r'data-search-hits="([^"]*)"', page).group(1).replace("&quot;", '"')
    assert json.loads(hits) == ["G1", "Sn1"]
    # The panel links keep the search, so that opening a node does not lose it.
    assert f'hx-push-url="/cases/{bound_case.pk}/?q=oversight&amp;node=Sn1"' in results


@pytest.mark.django_db
def test_a_search_that_finds_nothing_says_how_to_search(client, bound_case, viewer):
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/?q=zebra").content.decode()
    assert "0 nodes match" in page and "status:" in page
    assert 'data-search-hits="[]"' in page


@pytest.mark.django_db
def test_hostile_queries_are_escaped(client, bound_case, viewer):
    client.force_login(viewer)
    query = '"><script>alert(1)</script>'
    page = client.get(f"/cases/{bound_case.pk}/", {"q": query}).content.decode()
    assert "<script>alert(1)" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_header_counts_link_to_their_search_and_a_skip_link_leads_to_the_diagram(
    client, bound_case, viewer
):
    services.case_assess(case=bound_case, trigger="manual")
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/").content.decode()
    assert page.index('class="skip-link" href="#diagram"') < page.index('class="topbar"')
    assert 'id="diagram" tabindex="-1"' in page
    for status in ("supported", "defeated", "at_risk"):
        assert f'href="?q=status:{status}#search-results"' in page
    # The search a count links to finds what it counts.
    summary = Assessment.objects.get(case=bound_case).summary["statuses"]
    for status, count in summary.items():
        found = client.get(f"/cases/{bound_case.pk}/?q=status:{status}").content.decode()
        assert f"{count} node{'s' if count != 1 else ''} match" in found
