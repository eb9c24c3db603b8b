"""Authoring pages: new cases from templates and gsn2x, editing nodes, links and bindings,
the access matrix (authors edit, reviewers/viewers 403, outsiders 404) and stale-form refusal."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safetycase.models import Assessment, EvidenceBinding, Link, Node, SafetyCase

pytestmark = pytest.mark.django_db


def node(case, identifier):
    return Node.objects.get(case=case, identifier=identifier)


def edit_data(n, **changes):
    data = {
        "statement": n.statement,
        "type": n.type,
        "combination": n.combination,
        "updated_at": n.updated_at.isoformat(),
    }
    if n.undeveloped:
        data["undeveloped"] = "on"
    return data | changes


# --------------------------------------------------------------------------------------------
# Access matrix


def edit_urls(case):
    b = EvidenceBinding.objects.filter(case=case).first()
    link = Link.objects.filter(case=case).first()
    urls = [
        f"/cases/{case.pk}/add-node/",
        f"/cases/{case.pk}/nodes/G2/edit/",
        f"/cases/{case.pk}/nodes/G2/delete/",
        f"/cases/{case.pk}/nodes/G2/links/",
        f"/cases/{case.pk}/nodes/Sn1/bindings/",
        f"/cases/{case.pk}/links/{link.pk}/delete/",
    ]
    if b:
        urls += [
            f"/cases/{case.pk}/bindings/{b.pk}/edit/",
            f"/cases/{case.pk}/bindings/{b.pk}/delete/",
        ]
    return urls


@pytest.mark.parametrize("persona", ["reviewer", "viewer"])
def test_reviewers_and_viewers_get_403_and_nothing_changes(client, bound_case, persona, request):
    client.force_login(request.getfixturevalue(persona))
    before = (Node.objects.count(), Link.objects.count(), EvidenceBinding.objects.count())
    for url in edit_urls(bound_case):
        assert client.post(url, {"statement": "x"}).status_code == 403, url
    assert client.get(f"/cases/{bound_case.pk}/nodes/Sn1/edit/").status_code == 403
    assert (Node.objects.count(), Link.objects.count(), EvidenceBinding.objects.count()) == before


def test_outsiders_get_404(client, bound_case, outsider):
    client.force_login(outsider)
    for url in edit_urls(bound_case) + [f"/cases/{bound_case.pk}/gsn2x.zip"]:
        assert client.post(url).status_code == 404, url
        assert client.get(url).status_code in (404, 405), url


def test_edit_links_only_for_authors(client, case, author, reviewer, viewer):
    edit = f"/cases/{case.pk}/nodes/G2/edit/"
    client.force_login(author)
    assert edit in client.get(f"/cases/{case.pk}/nodes/G2/").content.decode()
    assert f"/cases/{case.pk}/add-node/" in client.get(f"/cases/{case.pk}/").content.decode()
    for user in (reviewer, viewer):
        client.force_login(user)
        assert edit not in client.get(f"/cases/{case.pk}/nodes/G2/").content.decode()
        assert edit not in client.get(f"/cases/{case.pk}/?node=G2").content.decode()
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "add-node" not in page
        assert f"/cases/{case.pk}/gsn2x.zip" in page  # export is for every member


def test_pages_require_login(client, case):
    response = client.get(f"/cases/{case.pk}/nodes/G2/edit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --------------------------------------------------------------------------------------------
# Nodes


def test_author_edits_a_node(client, case, author):
    client.force_login(author)
    g2 = node(case, "G2")
    assert "lacks the capability" in client.get(f"/cases/{case.pk}/nodes/G2/edit/").content.decode()
    response = client.post(
        f"/cases/{case.pk}/nodes/G2/edit/",
        edit_data(g2, statement="New claim", undeveloped="on", combination="any"),
    )
    assert response.status_code == 302
    g2.refresh_from_db()
    assert (g2.statement, g2.undeveloped, g2.combination) == ("New claim", True, "any")


def test_one_node_form_save_is_one_transaction_and_one_assessment(
    client, case, author, django_capture_on_commit_callbacks, eager_celery
):
    """Fields and combination saved by one form are one edit: one re-assessment queued and
    one assessment stored, not one per changed aspect."""
    client.force_login(author)
    before = Assessment.objects.filter(case=case).count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/cases/{case.pk}/nodes/G2/edit/",
            edit_data(node(case, "G2"), statement="Changed claim", combination="any"),
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert Assessment.objects.filter(case=case).count() == before + 1
    latest = Assessment.objects.filter(case=case).latest("created_at", "id")
    assert latest.trigger_detail == f"node edited by {author}"


def test_a_refused_combination_leaves_the_node_fields_unchanged(client, case, author):
    client.force_login(author)
    response = client.post(
        f"/cases/{case.pk}/nodes/Sn1/edit/",
        edit_data(node(case, "Sn1"), statement="Changed", combination="any"),
    )
    assert response.status_code == 200
    assert node(case, "Sn1").statement != "Changed"


def test_adding_a_node_under_a_parent_is_one_assessment(
    client, case, author, django_capture_on_commit_callbacks, eager_celery
):
    client.force_login(author)
    before = Assessment.objects.filter(case=case).count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/cases/{case.pk}/add-node/",
            {"identifier": "G5", "type": "goal", "parent": "S1", "relation": "supported_by"},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert Assessment.objects.filter(case=case).count() == before + 1


def test_node_edit_shows_the_services_message(client, case, author):
    client.force_login(author)
    sn1 = node(case, "Sn1")
    response = client.post(
        f"/cases/{case.pk}/nodes/Sn1/edit/", edit_data(sn1, combination="at_least:2")
    )
    assert response.status_code == 200
    assert "only goals and strategies combine their children" in response.content.decode()
    response = client.post(
        f"/cases/{case.pk}/nodes/G2/edit/", edit_data(node(case, "G2"), combination="most")
    )
    assert "is not a combination" in response.content.decode()
    assert node(case, "G2").combination == "all"


def test_second_author_saving_a_stale_form_is_refused(client, case, author, make_user):
    from safetycase import services
    from safetycase.choices import Role

    other = make_user("olga")
    services.membership_set(case=case, user=other, role=Role.AUTHOR)
    g3 = node(case, "G3")
    first, second = edit_data(g3, statement="Alice's claim"), edit_data(g3, statement="Olga's")
    client.force_login(author)
    assert client.post(f"/cases/{case.pk}/nodes/G3/edit/", first).status_code == 302
    client.force_login(other)
    response = client.post(f"/cases/{case.pk}/nodes/G3/edit/", second)
    assert response.status_code == 200
    assert (
        "G3 was changed by someone else since you opened this form; reload to see their change"
        in response.content.decode()
    )
    assert node(case, "G3").statement == "Alice's claim"


def test_author_adds_a_node_under_a_parent(client, case, author):
    client.force_login(author)
    page = client.get(f"/cases/{case.pk}/add-node/?parent=S1").content.decode()
    assert 'value="S1" selected' in page
    response = client.post(
        f"/cases/{case.pk}/add-node/",
        {
            "identifier": "G4",
            "type": "goal",
            "statement": "No steganography",
            "parent": "S1",
            "relation": "supported_by",
            "undeveloped": "on",
        },
    )
    assert response.status_code == 302
    assert node(case, "G4").undeveloped
    assert Link.objects.filter(source__identifier="S1", target__identifier="G4").exists()


def test_adding_a_node_shows_identifier_errors_and_writes_nothing(client, case, author):
    client.force_login(author)
    before = Node.objects.count()
    for identifier, message in [
        ("G2", "already has a node"),
        ("bad id!", "not a valid node identifier"),
    ]:
        response = client.post(
            f"/cases/{case.pk}/add-node/",
            {"identifier": identifier, "type": "goal", "parent": "S1", "relation": "supported_by"},
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    assert Node.objects.count() == before


def test_author_deletes_a_node_after_confirming(client, case, author):
    client.force_login(author)
    page = client.get(f"/cases/{case.pk}/nodes/G2/delete/").content.decode()
    assert "Delete G2?" in page and "2 links" in page
    assert client.post(f"/cases/{case.pk}/nodes/G2/delete/").status_code == 302
    assert not Node.objects.filter(case=case, identifier="G2").exists()
    assert not Link.objects.filter(case=case, target__identifier="G2").exists()


def test_author_adds_and_removes_links(client, case, author):
    client.force_login(author)
    url = f"/cases/{case.pk}/nodes/G2/links/"
    assert client.post(url, {"type": "in_context_of", "target": "C1"}).status_code == 302
    link = Link.objects.get(source__identifier="G2", target__identifier="C1")
    response = client.post(url, {"type": "in_context_of", "target": "C1"})
    assert response.status_code == 400
    assert "already linked" in response.content.decode()
    assert client.get(url).status_code == 405
    response = client.post(f"/cases/{case.pk}/links/{link.pk}/delete/", {"node": "G2"})
    assert response.status_code == 302 and response["Location"].endswith("/nodes/G2/edit/")
    assert not Link.objects.filter(pk=link.pk).exists()


# --------------------------------------------------------------------------------------------
# Bindings


def binding_data(**changes):
    return {
        "expression": "cp_upper(k, n, 0.95) < 0.05",
        "selector": '{"task": "sabotage", "scorer": "sabotaged"}',
        "freshness_days": "30",
        "description": "Sabotage rate bound",
    } | changes


def test_author_adds_a_binding(client, case, author):
    client.force_login(author)
    response = client.post(f"/cases/{case.pk}/nodes/Sn1/bindings/", binding_data())
    assert response.status_code == 302
    binding = EvidenceBinding.objects.get(node__identifier="Sn1")
    assert binding.selector == {"task": "sabotage", "scorer": "sabotaged"}
    assert binding.freshness_days == 30


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expression": "frobnicate(k) < 1"}, "frobnicate"),
        ({"expression": "rate_of_doom < 1"}, "rate_of_doom"),
        ({"selector": "{task: sabotage"}, "not valid JSON"),
        ({"freshness_days": "0"}, "greater than or equal to 1"),
    ],
)
def test_binding_errors_are_shown_inline(client, case, author, changes, message):
    client.force_login(author)
    response = client.post(f"/cases/{case.pk}/nodes/Sn1/bindings/", binding_data(**changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not EvidenceBinding.objects.filter(case=case).exists()


def test_author_edits_a_binding_and_a_stale_form_is_refused(client, bound_case, author):
    client.force_login(author)
    binding = EvidenceBinding.objects.get(case=bound_case)
    url = f"/cases/{bound_case.pk}/bindings/{binding.pk}/edit/"
    page = client.get(url).content.decode()
    assert "oversight_subversion" in page
    stamp = re.search(r'name="updated_at" value="([^"]+)"', page).group(1)
    form = binding_data(updated_at=stamp, selector='{"task": "oversight_subversion"}')
    assert client.post(url, form).status_code == 302
    binding.refresh_from_db()
    assert binding.expression == "cp_upper(k, n, 0.95) < 0.05"
    response = client.post(url, form | {"expression": "k < 3"})
    assert "was changed by someone else" in response.content.decode()
    binding.refresh_from_db()
    assert binding.expression == "cp_upper(k, n, 0.95) < 0.05"
    response = client.post(
        url, form | {"updated_at": binding.updated_at.isoformat(), "expression": "nope("}
    )
    assert "is not valid CEL" in response.content.decode()


def test_author_deletes_a_binding(client, bound_case, author):
    client.force_login(author)
    binding = EvidenceBinding.objects.get(case=bound_case)
    assert client.post(f"/cases/{bound_case.pk}/bindings/{binding.pk}/delete/").status_code == 302
    assert not EvidenceBinding.objects.filter(pk=binding.pk).exists()


# --------------------------------------------------------------------------------------------
# New cases from templates


def test_case_list_links_to_new_case(client, author):
    client.force_login(author)
    assert "/cases/new/" in client.get("/").content.decode()
    page = client.get("/cases/new/").content.decode()
    assert "/cases/new/SI/" in page and "/cases/new/import/" in page


def test_template_form_lists_the_parameters(client, author):
    client.force_login(author)
    page = client.get("/cases/new/HI/").content.decode()
    for name in ("p_unacceptable_outcomes", "p_risk_models", "p_max_age_days", "p_trend_z"):
        assert f'name="{name}"' in page
    assert "One item a line" in page and "YAML list of records" in page


def test_template_form_creates_a_case_without_placeholders(client, author):
    client.force_login(author)
    response = client.post(
        "/cases/new/HI/",
        {
            "name": "Example-7 harm inability",
            "model_name": "Example-7",
            "model_version": "2026-11",
            "deployment": "internal research agent",
            "p_unacceptable_outcomes": "sabotage of safety research\nself-exfiltration\n",
            "p_risk_models": "- name: sabotage\n  proxy_suite: research_sabotage\n",
            "p_max_age_days": "60",
        },
    )
    case = SafetyCase.objects.get(name="Example-7 harm inability")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    nodes = list(Node.objects.filter(case=case))
    assert nodes
    assert not [n.identifier for n in nodes if re.search(r"\{[a-z_]+\}", n.statement)]
    assert any("self-exfiltration" in n.statement for n in nodes)
    assert case.memberships.get().user == author


def test_template_form_shows_missing_and_invalid_values(client, author):
    client.force_login(author)
    response = client.post(
        "/cases/new/HI/",
        {
            "name": "Broken",
            "model_name": "Example-7",
            "p_risk_models": "- name: x\n  threshold: 7\n",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "unacceptable_outcomes needs a value" in page
    assert "model_version needs a value" in page
    assert "between 0 and 1" in page or "risk_models" in page
    assert not SafetyCase.objects.filter(name="Broken").exists()
    response = client.post("/cases/new/HI/", {"name": "Broken", "p_risk_models": "- [unclosed"})
    assert "not valid YAML" in response.content.decode()


# --------------------------------------------------------------------------------------------
# gsn2x import and export


GOOD = b"""
G1:
  text: The model does not scheme
  supportedBy: [S1]
S1:
  text: Argue over capabilities
  supportedBy: [G2]
G2:
  text: No stealth capability
  undeveloped: true
"""

BAD = b"""
G1:
  text: The model does not scheme
  supportedBy: [C1]
C1:
  text: A context cannot support a goal
"""


def test_gsn2x_export_then_import_round_trips(client, case, author):
    client.force_login(author)
    response = client.get(f"/cases/{case.pk}/gsn2x.zip")
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    uploads = [SimpleUploadedFile(name, archive.read(name)) for name in archive.namelist()]
    response = client.post("/cases/new/import/", {"name": "Copy", "files": uploads})
    assert response.status_code == 302
    copy = SafetyCase.objects.get(name="Copy")

    def shape(c):
        return (
            sorted(
                Node.objects.filter(case=c).values_list(
                    "identifier", "type", "statement", "undeveloped"
                )
            ),
            sorted(
                Link.objects.filter(case=c).values_list(
                    "source__identifier", "type", "target__identifier"
                )
            ),
        )

    assert shape(copy) == shape(case)


def test_gsn2x_import_creates_a_case_with_its_author(client, author):
    client.force_login(author)
    upload = SimpleUploadedFile("main.gsn.yaml", GOOD)
    response = client.post("/cases/new/import/", {"name": "Imported", "files": [upload]})
    case = SafetyCase.objects.get(name="Imported")
    assert response["Location"] == f"/cases/{case.pk}/"
    assert case.memberships.get().user == author
    assert Node.objects.filter(case=case).count() == 3


def test_gsn2x_import_refused_lists_the_rule_errors(client, author):
    client.force_login(author)
    upload = SimpleUploadedFile("bad.gsn.yaml", BAD)
    response = client.post("/cases/new/import/", {"name": "Bad", "files": [upload]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "import was refused" in page and "sev-error" in page
    assert not SafetyCase.objects.filter(name="Bad").exists()
    response = client.post(
        "/cases/new/import/", {"name": "Bad", "files": [SimpleUploadedFile("x.gsn.yaml", b"[1, 2")]}
    )
    assert response.status_code == 200
    assert not SafetyCase.objects.filter(name="Bad").exists()
    assert "message error" in response.content.decode()


def test_selector_problems_are_shown_on_the_selector(client, case, author):
    client.force_login(author)
    response = client.post(
        f"/cases/{case.pk}/nodes/Sn1/bindings/", binding_data(selector='{"colour": "red"}')
    )
    assert response.status_code == 400
    assert "The selector has unknown key &#x27;colour&#x27;" in response.content.decode()


def test_template_form_refuses_a_taken_case_name(client, case, author):
    client.force_login(author)
    data = {
        "name": case.name,
        "model_name": "Example-7",
        "model_version": "1",
        "deployment": "internal",
        "p_unacceptable_outcomes": "sabotage",
    }
    response = client.post("/cases/new/SI/", data)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert client.get("/cases/new/NOPE/").status_code == 404
