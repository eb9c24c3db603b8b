"""manage.py instantiate_template and document_templates, and the committed template docs."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from safetycase.core.library import default_library
from safetycase.core.library.markdown import pages
from safetycase.models import Node, SafetyCase
from safetycase.selectors import case_findings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "templates"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_instantiate_template_creates_a_case_from_a_params_file(tmp_path, author):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(default_library().templates["ROOT"].example))
    output = run(
        "instantiate_template",
        "ROOT",
        "--case",
        "Combined",
        "--params-file",
        str(params),
        "--param",
        "risk_threshold=0.0005",
        "--param",
        "include_alignment=false",
        "--owner",
        "alice",
    )
    case = SafetyCase.objects.get(name="Combined")
    assert output.startswith(f"Created case Combined (id {case.pk}) from template ROOT: ")
    assert case.memberships.get().user == author
    assert Node.objects.get(case=case, identifier="G0").attributes["root_rules"]["threshold"] == (
        0.0005
    )
    assert not Node.objects.filter(case=case, identifier="AL-G0").exists()
    assert Node.objects.get(case=case, identifier="G3").undeveloped
    assert [f for f in case_findings(case=case) if f.severity == "error"] == []


@pytest.mark.django_db
def test_instantiate_template_under_a_goal_of_an_existing_case(case):
    output = run(
        "instantiate_template",
        "SI",
        "--case",
        case.name,
        "--under",
        "G1",
        "--param",
        "unacceptable_outcomes=[sabotage]",
        "--param",
        "include_sad=no",
    )
    assert output.startswith(f"Added template SI to case {case.name} (id {case.pk}) under G1: ")
    assert "top goal SI-G0" in output
    assert not Node.objects.filter(case=case, identifier="SI-Sn4").exists()
    assert [f for f in case_findings(case=case) if f.severity == "error"] == []


@pytest.mark.django_db
def test_instantiate_template_lists_missing_parameters():
    with pytest.raises(CommandError) as info:
        call_command("instantiate_template", "HI", "--case", "X", "--param", "model=M")
    assert str(info.value) == (
        "Template HI not instantiated: Template HI needs values for: model_version, deployment, "
        "unacceptable_outcomes, risk_models."
    )
    assert not SafetyCase.objects.exists()
    with pytest.raises(CommandError, match="is not KEY=VALUE"):
        call_command("instantiate_template", "HI", "--case", "X", "--param", "model")
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        call_command("instantiate_template", "HI", "--case", "X", "--owner", "nobody")


def test_document_templates_writes_and_checks_pages(tmp_path):
    output = run("document_templates", "--output", str(tmp_path))
    assert "Wrote" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(pages(default_library()))
    assert "up to date" in run("document_templates", "--output", str(tmp_path), "--check")
    (tmp_path / "alignment.md").write_text("stale")
    with pytest.raises(CommandError, match="Out of date in .*: alignment.md"):
        call_command("document_templates", "--output", str(tmp_path), "--check")


def test_committed_template_docs_are_up_to_date():
    for name, text in pages(default_library()).items():
        path = DOCS / name
        assert path.exists(), f"docs/templates/{name} is missing; run manage.py document_templates"
        assert path.read_text(encoding="utf-8") == text, (
            f"docs/templates/{name} is out of date; run manage.py document_templates"
        )


def test_template_pages_show_parameters_nodes_assumptions_and_sources():
    page = (DOCS / "harm_inability.md").read_text(encoding="utf-8")
    for heading in ("## Parameters", "## Nodes", "## Assumptions from the catalogue", "## Sources"):
        assert heading in page
    assert "| `HI-G2.<k>` | goal |" in page
    catalogue = (DOCS / "assumptions.md").read_text(encoding="utf-8")
    assert catalogue.count("\n## A") == 32
    assert "**Requires attestation.**" in catalogue
