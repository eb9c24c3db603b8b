"""The import_gsn2x and export_gsn2x management commands, against the database."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from safetycase.core.gsn.gsn2x import load_files
from safetycase.models import Link, Membership, Node, SafetyCase
from tests.safetycase.test_gsn2x import FIXTURE_SETS, FIXTURES, fixture_paths

pytestmark = pytest.mark.django_db


def run(command: str, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def import_files(paths, name: str, *options) -> tuple[str, str]:
    return run("import_gsn2x", *paths, "--case", name, *options)


def node_rows(case: SafetyCase) -> list[tuple]:
    return sorted(
        (
            n.identifier,
            n.type,
            n.statement,
            n.undeveloped,
            n.module,
            repr(sorted(n.attributes.items())),
        )
        for n in Node.objects.filter(case=case)
    )


def link_rows(case: SafetyCase) -> list[tuple]:
    return sorted(
        (link.source.identifier, link.type, link.target.identifier, link.target_relation)
        for link in Link.objects.filter(case=case).select_related("source", "target")
    )


@pytest.mark.parametrize("set_name", list(FIXTURE_SETS))
def test_import_export_and_import_again_gives_the_same_case(tmp_path, set_name):
    out, err = import_files(fixture_paths(set_name), "original")
    original = SafetyCase.objects.get(name="original")
    argument = load_files(fixture_paths(set_name))
    assert err == ""  # the examples import without errors, as in gsn2x
    assert out.splitlines()[-1] == (
        f"Imported {len(argument.elements)} nodes and {len(argument.relations)} links "
        f"into case original (id {original.pk})."
    )
    assert Node.objects.filter(case=original).count() == len(argument.elements)
    assert Link.objects.filter(case=original).count() == len(argument.relations)
    assert original.modules == argument.modules

    out, _ = run("export_gsn2x", original.pk, tmp_path / "out")
    written = [Path(line) for line in out.splitlines()]
    assert written and all(path.parent == tmp_path / "out" and path.exists() for path in written)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)

    import_files(written, "again")
    again = SafetyCase.objects.get(name="again")
    assert node_rows(again) == node_rows(original)
    assert link_rows(again) == link_rows(original)
    assert set(again.modules) == set(original.modules)


def test_the_modular_index_imports_its_used_modules_cleanly(author):
    out, err = import_files(
        [FIXTURES / "modular" / "index.gsn.yaml"], "Modular", "--owner", "alice"
    )
    case = SafetyCase.objects.get(name="Modular")
    assert err == ""
    assert "Error:" not in out
    assert out.endswith(f"Imported 8 nodes and 8 links into case Modular (id {case.pk}).\n")
    assert dict(Node.objects.filter(case=case).values_list("identifier", "module")) == {
        "G1": "Main",
        "S1": "Main",
        "G2": "Main",
        "J1": "Main",
        "G3": "Sub1",
        "A1": "Sub1",
        "C2": "Sub3",
        "Sn1": "Sub3",
    }
    assert sorted(case.modules) == ["Main", "Sub1", "Sub3"]
    assert Membership.objects.get(case=case).user == author


def test_the_modular_index_with_sub2_is_refused_with_two_duplicate_errors():
    modular = FIXTURES / "modular"
    err = StringIO()
    with pytest.raises(CommandError, match=r"Case 'Clash' not imported: 2 errors\."):
        call_command(
            "import_gsn2x",
            str(modular / "index.gsn.yaml"),
            str(modular / "sub2.gsn.yaml"),
            "--case",
            "Clash",
            stdout=StringIO(),
            stderr=err,
        )
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("Error: (") and " R1 " in line for line in lines)
    assert lines[0].startswith("Error: (Main) R1 G1: ")
    assert lines[1].startswith("Error: (Sub2) R1 Sn1: ")
    assert SafetyCase.objects.count() == 0
    assert Node.objects.count() == 0


def test_findings_are_printed_with_module_rule_and_node(tmp_path):
    warned = tmp_path / "warned.gsn.yaml"
    warned.write_text(
        "module:\n  name: Main\n"
        "G1:\n  text: Top claim\n  supportedBy: [G2]\n"
        "G2:\n  text: A claim nobody developed yet\n"
    )
    out, err = import_files([warned], "Warned")
    assert err == ""
    warning = next(line for line in out.splitlines() if line.startswith("Warning:"))
    assert warning.startswith("Warning: (Main) R13 G2: ")
    assert SafetyCase.objects.filter(name="Warned").exists()

    refused = tmp_path / "refused.gsn.yaml"
    refused.write_text("G1:\n  text: Top claim\n  supportedBy: [Sn9]\nG2:\n  text: ''\n")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="not imported: [1-9][0-9]* errors?\\.$"):
        call_command("import_gsn2x", str(refused), "--case", "Refused", stdout=out, stderr=err)
    errors = err.getvalue().splitlines()
    assert any(line.startswith("Error: R8 G1: ") and "Sn9" in line for line in errors)
    assert all(line.startswith("Error: ") for line in errors)
    assert all(line.startswith("Warning: ") for line in out.getvalue().splitlines())
    assert not SafetyCase.objects.filter(name="Refused").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("G1: [unclosed\n", r"bad\.gsn\.yaml is not valid YAML"),
        ("G1:\n  text: [a, b]\n", r"Element G1 in .*bad\.gsn\.yaml: `text` must be a string"),
        ("X1:\n  nodeType: Claim\n", r"Element X1 in .*bad\.gsn\.yaml has the unknown nodeType"),
    ],
)
def test_a_malformed_file_is_refused_and_nothing_is_created(tmp_path, text, message):
    path = tmp_path / "bad.gsn.yaml"
    path.write_text(text)
    with pytest.raises(CommandError, match=r"Case 'Bad' not imported: .*" + message):
        import_files([path], "Bad")
    assert SafetyCase.objects.count() == 0
    assert Node.objects.count() == 0


def test_an_identifier_the_case_cannot_store_rolls_everything_back(tmp_path):
    path = tmp_path / "spaces.gsn.yaml"
    path.write_text("G 1:\n  text: An id with a space\n  undeveloped: true\n")
    with pytest.raises(CommandError, match="'G 1' is not a valid node identifier"):
        import_files([path], "Spaces")
    assert SafetyCase.objects.count() == 0


def test_an_unknown_owner_is_refused_before_anything_is_read():
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        import_files([FIXTURES / "example.gsn.yaml"], "Owned", "--owner", "nobody")
    assert SafetyCase.objects.count() == 0


def test_case_details_and_owner_are_stored(author):
    import_files(
        [FIXTURES / "example.gsn.yaml"],
        "Detailed",
        "--owner",
        "alice",
        "--model-name",
        "example-model",
        "--model-version",
        "2026-11",
        "--deployment",
        "internal",
    )
    case = SafetyCase.objects.get(name="Detailed")
    assert (case.model_name, case.model_version, case.deployment) == (
        "example-model",
        "2026-11",
        "internal",
    )
    assert case.memberships.get().role == "owner"
    assert case.memberships.get().user == author


def test_a_taken_case_name_is_refused(case):
    # Case names are unique within a project.
    with pytest.raises(CommandError, match="already exists"):
        import_files([FIXTURES / "example.gsn.yaml"], case.name, "--project", "lab")
    assert SafetyCase.objects.count() == 1


def test_export_finds_the_case_by_name_and_writes_one_file_without_modules(case, tmp_path):
    out, _ = run("export_gsn2x", case.name, tmp_path / "new" / "dir")
    assert out == f"{tmp_path / 'new' / 'dir' / 'argument.gsn.yaml'}\n"
    text = (tmp_path / "new" / "dir" / "argument.gsn.yaml").read_text()
    assert "module:" not in text
    assert "G1:\n  text: The model cannot cause catastrophic harm through scheming\n" in text
    import_files([tmp_path / "new" / "dir" / "argument.gsn.yaml"], "Copy")
    copy = SafetyCase.objects.get(name="Copy")
    assert node_rows(copy) == node_rows(case)
    assert link_rows(copy) == link_rows(case)


def test_export_of_an_unknown_case_fails_clearly(tmp_path):
    with pytest.raises(CommandError, match="There is no case with the id or name 'nope'"):
        run("export_gsn2x", "nope", tmp_path)
    with pytest.raises(CommandError, match="There is no case with the id or name '999'"):
        run("export_gsn2x", "999", tmp_path)
