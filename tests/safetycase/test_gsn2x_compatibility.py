"""What gsn2x accepts imports; what it refuses is refused.

gsn2x (V04) lets a strategy be supported by a strategy and takes any YAML key as an element id,
so such files import here too: the first with a warning citing the GSN standard, the second
with identifiers in any script that work in every URL of the UI and the API.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command

from safetycase import services
from safetycase.choices import Role
from safetycase.models import Node, SafetyCase

pytestmark = pytest.mark.django_db

STRATEGY_UNDER_STRATEGY = """\
G1:
  text: The system is acceptably safe
  supportedBy: [S1]
S1:
  text: Argument over the hazards
  supportedBy: [S2]
S2:
  text: Argument over each mitigation of the hazards
  supportedBy: [G2, G3]
G2:
  text: Hazard one is mitigated
  undeveloped: true
G3:
  text: Hazard two is mitigated
  undeveloped: true
"""

# Ids in German, Greek, Chinese and Hindi, one with a combining accent (e + U+0301).
NON_ASCII = """\
Gü1:
  text: Die Sicherheitsargumentation hält
  supportedBy: [SΣ1]
  inContextOf: [C安全]
SΣ1:
  text: Argument über jede Gefährdung
  supportedBy: [G-गोल, Ge\u03012]
G-गोल:
  text: Hazard one is mitigated
  supportedBy: [Sn证据1]
Ge\u03012:
  text: Hazard two is mitigated
  undeveloped: true
Sn证据1:
  text: Evaluation results
C安全:
  text: Deployment context
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_file(path: Path, name: str, *options: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_gsn2x", str(path), "--case", name, *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_strategy_supported_by_a_strategy_imports_with_a_warning_citing_the_standard(tmp_path):
    out, err = import_file(write(tmp_path, "s.gsn.yaml", STRATEGY_UNDER_STRATEGY), "Strategies")
    case = SafetyCase.objects.get(name="Strategies")
    assert Node.objects.filter(case=case).count() == 5
    assert err == ""
    warning = next(line for line in out.splitlines() if line.startswith("Warning: R4 S1"))
    assert "supported directly by strategy S2" in warning
    assert "GSN Community Standard" in warning


def test_what_gsn2x_refuses_is_still_refused(tmp_path):
    # gsn2x V04: a strategy may not be supported by a context.
    text = STRATEGY_UNDER_STRATEGY.replace("supportedBy: [S2]", "supportedBy: [S2, C1]")
    text += "C1:\n  text: A context\n"
    with pytest.raises(CommandError):
        import_file(write(tmp_path, "bad.gsn.yaml", text), "Refused")
    assert not SafetyCase.objects.filter(name="Refused").exists()


def test_an_identifier_with_a_space_is_refused_with_a_sentence(tmp_path):
    path = write(tmp_path, "space.gsn.yaml", "G 1:\n  text: x\n  undeveloped: true\n")
    with pytest.raises(CommandError, match="not a valid node identifier: use letters"):
        import_file(path, "Spaced")


@pytest.fixture
def unicode_case(tmp_path, author, reviewer):
    out, err = import_file(write(tmp_path, "u.gsn.yaml", NON_ASCII), "Unicode", "--owner", "alice")
    assert err == "", err
    case = SafetyCase.objects.get(name="Unicode")
    services.membership_set(case=case, user=reviewer, role=Role.REVIEWER)
    return case


def test_non_ascii_identifiers_import_as_written(unicode_case):
    identifiers = set(Node.objects.filter(case=unicode_case).values_list("identifier", flat=True))
    assert identifiers == {"Gü1", "SΣ1", "G-गोल", "Ge\u03012", "Sn证据1", "C安全"}
    types = dict(Node.objects.filter(case=unicode_case).values_list("identifier", "type"))
    assert types["Sn证据1"] == "solution" and types["C安全"] == "context"


def test_node_pages_of_non_ascii_identifiers_are_reached_by_percent_encoded_urls(
    client, unicode_case, author
):
    client.force_login(author)
    node_path = f"/cases/{unicode_case.pk}/nodes/{quote('Gü1')}/"
    assert node_path.endswith("/nodes/G%C3%BC1/")
    assert Node.objects.get(identifier="Gü1").get_absolute_url() == node_path

    page = client.get(node_path)
    assert page.status_code == 200
    assert "Die Sicherheitsargumentation hält" in page.content.decode()

    case_page = client.get(f"/cases/{unicode_case.pk}/").content.decode()
    for identifier in ("Gü1", "SΣ1", "G-गोल", "Ge\u03012", "Sn证据1"):
        href = f"/cases/{unicode_case.pk}/nodes/{quote(identifier)}/"
        assert href in case_page, identifier  # in the diagram and the node list
        assert client.get(href).status_code == 200, identifier
    # The panel link of the case page names the node in its query string, encoded.
    panel = client.get(f"/cases/{unicode_case.pk}/?node={quote('G-गोल')}")
    assert panel.status_code == 200
    assert "Hazard one is mitigated" in panel.content.decode()

    edit = client.get(f"/cases/{unicode_case.pk}/nodes/{quote('Sn证据1')}/edit/")
    assert edit.status_code == 200


def test_the_api_serves_and_edits_nodes_with_non_ascii_identifiers(
    api_client_for, unicode_case, author
):
    api = api_client_for(author)
    url = f"/api/v1/cases/{unicode_case.pk}/nodes/{quote('Ge' + chr(0x301) + '2')}/"
    response = api.get(url)
    assert response.status_code == 200
    assert response.json()["identifier"] == "Ge\u03012"

    response = api.patch(url, {"statement": "Hazard two is mitigated by design"}, format="json")
    assert response.status_code == 200, response.content
    assert Node.objects.get(identifier="Ge\u03012").statement.endswith("by design")

    created = api.post(
        f"/api/v1/cases/{unicode_case.pk}/nodes/",
        {"identifier": "Sn-Ωμέγα", "type": "solution", "statement": "More results"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert api.get(f"/api/v1/cases/{unicode_case.pk}/nodes/{quote('Sn-Ωμέγα')}/").status_code == 200

    svg = api.get(f"/api/v1/cases/{unicode_case.pk}/diagram.svg")
    assert svg.status_code == 200
    assert f"/nodes/{quote('Gü1')}/" in svg.content.decode()


def test_non_ascii_identifiers_survive_export_and_import_again(tmp_path, unicode_case):
    out_dir = tmp_path / "out"
    call_command("export_gsn2x", str(unicode_case.pk), str(out_dir), stdout=StringIO())
    (exported,) = out_dir.glob("*.gsn.yaml")
    import_file(exported, "Unicode again")
    again = SafetyCase.objects.get(name="Unicode again")
    assert set(Node.objects.filter(case=again).values_list("identifier", flat=True)) == set(
        Node.objects.filter(case=unicode_case).values_list("identifier", flat=True)
    )
