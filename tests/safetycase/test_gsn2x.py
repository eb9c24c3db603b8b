"""gsn2x YAML interchange without a database: reading, errors, writing and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from safetycase.core.gsn.gsn2x import Gsn2xError, dump_files, load_files, type_from_identifier
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.core.gsn.rules import check_argument

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gsn2x"

# The gsn2x examples, as the sets of files gsn2x is run on (see tests/fixtures/gsn2x/README.md).
FIXTURE_SETS: dict[str, list[str]] = {
    "example": ["example.gsn.yaml"],
    "bullet_lists": ["bullet_lists.gsn.yaml"],
    "confidence": ["confidence.gsn.yaml"],
    "entangled": ["entangled.gsn.yaml"],
    "minimalcss": ["minimalcss/min.gsn.yaml"],
    "dialectic_first": ["dialectic/first.gsn.yaml"],
    "dialectic_second": ["dialectic/second.gsn.yaml"],
    "modular": ["modular/index.gsn.yaml"],  # pulls in sub1 and sub3 through `uses`
    "template": ["template/instance.gsn.yaml", "template/template.gsn.yaml"],
}


def fixture_paths(name: str) -> list[Path]:
    return [FIXTURES / f for f in FIXTURE_SETS[name]]


def load_set(name: str) -> Argument:
    return load_files(fixture_paths(name))


def element_rows(argument: Argument) -> list[tuple]:
    return sorted(
        (
            e.identifier,
            e.type,
            e.statement,
            e.undeveloped,
            e.module,
            repr(sorted(e.attributes.items())),
        )
        for e in argument.elements
    )


def relation_rows(argument: Argument) -> list[tuple]:
    return sorted((r.source, r.type, r.target, r.target_relation) for r in argument.relations)


def by_id(argument: Argument) -> dict[str, Element]:
    return {e.identifier: e for e in argument.elements}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        paths.append(directory / name)
        paths[-1].write_text(text, encoding="utf-8")
    return paths


# --- reading ---------------------------------------------------------------------------------


def test_example_reads_every_element_attribute_and_relation():
    argument = load_set("example")
    elements = by_id(argument)
    assert len(argument.elements) == 20
    assert len(argument.relations) == 20
    assert argument.modules == {}
    assert {e.module for e in argument.elements} == {""}
    assert elements["G1"].type == "goal"
    assert elements["S1"].type == "strategy"
    assert elements["Sn1"].type == "solution"
    assert elements["C1"].type == "context"
    assert elements["A1"].type == "assumption"
    assert elements["J1"].type == "justification"
    assert elements["C2"].statement == "Context 2\nMultiline\n"
    assert elements["G7"].undeveloped is True
    assert elements["G6"].undeveloped is False
    assert elements["Sn1"].attributes == {"url": "https://github.com/jonasthewolf/gsn2x"}
    assert elements["A2"].attributes == {"classes": ["mycssclass", "anotherclass"]}
    assert elements["S2"].attributes == {"rankIncrement": 1, "horizontalIndex": {"relative": -1}}
    assert elements["G1"].attributes == {}
    assert Relation("G1", "S2", "supported_by") in argument.relations
    assert Relation("S1", "J1", "in_context_of") in argument.relations


def test_additional_layers_are_kept_as_attributes():
    elements = by_id(load_set("example"))
    assert elements["Sn2"].attributes == {
        "layer1": "Additional information on layer 1",
        "layer2": "Additional information on layer 2",
    }
    assert elements["Sn3"].attributes == {"layer2": "Additional information on layer 2"}


def test_multi_line_text_is_kept_exactly():
    elements = by_id(load_set("bullet_lists"))
    assert elements["Sn1"].statement == (
        "This is a test for bullet lists:\n"
        "* Let's see if this works.\n"
        "* Another item.\n"
        "* Another item with *bold* text.\n"
        "  And this is an indented line.\n"
        "* Another item with _italic_ text.\n"
    )
    assert elements["G1"].attributes == {"charWrap": 20}
    # The trailing space in "A counter " survives.
    assert by_id(load_set("dialectic_first"))["CSn1"].statement == "A counter \nevidence\n"


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("CG1", "counter_goal"),
        ("G1", "goal"),
        ("G-TopLevelGoal", "goal"),
        ("CSn1", "counter_solution"),
        ("Sn1", "solution"),
        ("S1", "strategy"),
        ("SnX", "solution"),
        ("C_A_certain_context", "context"),
        ("CS1", "context"),  # neither CG nor CSn: C
        ("CCSn1", "context"),
        ("A1", "assumption"),
        ("J1", "justification"),
        ("X1", None),
        ("g1", None),
    ],
)
def test_types_come_from_id_prefixes_in_gsn2x_order(identifier, expected):
    assert type_from_identifier(identifier) == expected


def test_node_type_overrides_the_prefix_and_is_kept():
    elements = by_id(load_set("dialectic_second"))
    assert elements["CCSn1"].type == "counter_solution"
    assert elements["CCSn1"].attributes["nodeType"] == "CounterSolution"
    assert elements["CCG1"].type == "counter_goal"
    assert elements["CCSn2"].type == "counter_solution"
    assert elements["CG1"].type == "counter_goal"
    assert elements["CSn4"].type == "counter_solution"


def test_node_type_gives_a_type_to_ids_without_a_prefix(tmp_path):
    path = write(
        tmp_path,
        "a.gsn.yaml",
        "Top:\n  nodeType: Goal\n  supportedBy: Ev\nEv:\n  nodeType: Solution\n",
    )
    elements = by_id(load_files([path]))
    assert elements["Top"].type == "goal"
    assert elements["Ev"].type == "solution"


def test_references_may_be_a_string_or_a_list():
    argument = load_set("dialectic_first")
    assert Relation("G1", "S1", "supported_by") in argument.relations  # supportedBy: S1
    assert Relation("G1", "C1", "in_context_of") in argument.relations  # inContextOf: C1
    assert {r.target for r in argument.relations if r.source == "S1"} == {"G2", "G3", "G4"}


def test_challenges_of_elements_and_of_relationships():
    argument = load_set("dialectic_second")
    challenges = {r for r in argument.relations if r.type == "challenges"}
    assert Relation("CG1", "G2", "challenges") in challenges
    assert Relation("CCSn1", "G2", "challenges", target_relation="CG1") in challenges
    assert Relation("CCG1", "CSn2", "challenges") in challenges
    assert len(challenges) == 7
    elements = by_id(argument)
    assert elements["CG1"].attributes == {
        "defeatedRelation": "G2",
        "horizontalIndex": {"relative": -1},
        "rankIncrement": 1,
    }
    assert elements["G2"].attributes == {"defeated": True}
    assert elements["CCSn3"].attributes["horizontalIndex"] == {"relative": 1}


@pytest.mark.parametrize("written", ["G2->Sn1", "G2 -> Sn1", "  G2   ->Sn1 "])
def test_relationship_challenges_are_split_at_the_arrow_and_trimmed(tmp_path, written):
    path = write(
        tmp_path,
        "d.gsn.yaml",
        f"G2:\n  supportedBy: Sn1\nSn1: {{}}\nCSn1:\n  challenges: '{written}'\n",
    )
    argument = load_files([path])
    assert Relation("CSn1", "G2", "challenges", target_relation="Sn1") in argument.relations


def test_confidence_arguments_are_kept():
    elements = by_id(load_set("confidence"))
    assert elements["G1"].attributes == {"acp": {"ACP1": "S1"}}
    assert elements["G3"].attributes == {"acp": {"ACP3": ["Sn2a", "Sn2b"]}}


def test_modular_index_pulls_in_the_files_it_uses():
    argument = load_set("modular")
    assert {e.identifier: e.module for e in argument.elements} == {
        "G1": "Main",
        "S1": "Main",
        "G2": "Main",
        "J1": "Main",
        "G3": "Sub1",
        "A1": "Sub1",
        "C2": "Sub3",
        "Sn1": "Sub3",
    }
    assert argument.modules == {
        "Main": {"uses": ["sub1.gsn.yaml", "sub3.gsn.yaml"]},
        "Sub1": {},
        "Sub3": {},
    }
    assert Relation("G3", "J1", "in_context_of") in argument.relations  # across modules


def test_a_file_reached_twice_is_read_once():
    modular = FIXTURES / "modular"
    argument = load_files(
        [modular / "index.gsn.yaml", modular / "sub3.gsn.yaml", modular / "sub1.gsn.yaml"]
    )
    assert len(argument.elements) == 8
    assert list(argument.modules) == ["Main", "Sub3", "Sub1"]


def test_duplicated_ids_across_files_are_kept_for_the_rules():
    modular = FIXTURES / "modular"
    argument = load_files([modular / "index.gsn.yaml", modular / "sub2.gsn.yaml"])
    assert sorted(
        (e.identifier, e.module) for e in argument.elements if e.identifier in ("G1", "Sn1")
    ) == [
        ("G1", "Main"),
        ("G1", "Sub2"),
        ("Sn1", "Sub2"),
        ("Sn1", "Sub3"),
    ]


def test_extends_keeps_the_gsn2x_shape():
    argument = load_set("template")
    assert argument.modules["instance"] == {
        "brief": "Extending instance",
        "extends": [{"module": "template", "develops": {"G1": ["G2"]}}],
    }
    assert argument.modules["template"] == {"brief": "Template for an assurance case"}
    # Development across modules is the rules' business: no relation is invented for it.
    assert not any(r.source == "G1" for r in argument.relations)
    assert by_id(argument)["G1"].undeveloped is True


def test_uses_resolve_relative_to_the_including_file(tmp_path):
    write(
        tmp_path,
        "top/main.gsn.yaml",
        "module:\n  name: M\n  uses: [../lib/shared.gsn.yaml]\nG1:\n  supportedBy: G2\n",
    )
    write(
        tmp_path,
        "lib/shared.gsn.yaml",
        "module:\n  name: Shared\n  uses: [more/leaf.gsn.yaml]\nG2:\n  supportedBy: Sn1\n",
    )
    write(tmp_path, "lib/more/leaf.gsn.yaml", "module:\n  name: Leaf\nSn1: {}\n")
    argument = load_files([tmp_path / "top" / "main.gsn.yaml"])
    assert [(e.identifier, e.module) for e in argument.elements] == [
        ("G1", "M"),
        ("G2", "Shared"),
        ("Sn1", "Leaf"),
    ]


def test_scalars_are_read_as_yaml_1_2_like_gsn2x(tmp_path):
    """gsn2x (serde_yml) reads `yes`, dates and `1:30` as text, where YAML 1.1 would not."""
    path = write(
        tmp_path,
        "s.gsn.yaml",
        "G1:\n  text: yes\n  undeveloped: true\n  evalDate: 2025-06-01\n  duration: 1:30\n"
        "  passed: off\n  samples: 400\n  score: 0.93\n  reviewed: false\n",
    )
    element = load_files([path]).elements[0]
    assert element.statement == "yes"
    assert element.attributes == {
        "evalDate": "2025-06-01",
        "duration": "1:30",
        "passed": "off",
        "samples": 400,
        "score": 0.93,
        "reviewed": False,
    }


# --- malformed input -------------------------------------------------------------------------

MALFORMED = {
    "yaml syntax": ("G1: [unclosed\n", r"bad\.gsn\.yaml is not valid YAML"),
    "top level list": (
        "- G1\n- G2\n",
        r"bad\.gsn\.yaml does not hold a gsn2x argument: its top level is a list",
    ),
    "top level string": ("just text\n", r"bad\.gsn\.yaml does not hold .* top level is a string"),
    "element string": (
        "G1: Goal text\n",
        r"Element G1 in .*bad\.gsn\.yaml is a string, but an element must be a mapping",
    ),
    "element null": ("G1:\n", r"Element G1 in .*bad\.gsn\.yaml is a null"),
    "element list": ("G1: [a]\n", r"Element G1 in .*bad\.gsn\.yaml is a list"),
    "text list": (
        "G1:\n  text: [a, b]\n",
        r"Element G1 in .*bad\.gsn\.yaml: `text` must be a string, but it is a list",
    ),
    "text number": (
        "G1:\n  text: 42\n",
        r"Element G1 .*`text` must be a string, but it is a number",
    ),
    "url list": ("Sn1:\n  url: [a]\n", r"Element Sn1 .*`url` must be a string"),
    "challenges list": (
        "CG1:\n  challenges: [G1]\n",
        r"Element CG1 .*`challenges` must be a string",
    ),
    "challenge half": ("CG1:\n  challenges: 'G1 ->'\n", r"Element CG1 .*must name both ends"),
    "supportedBy mapping": (
        "G1:\n  supportedBy: {a: b}\n",
        r"Element G1 .*`supportedBy` must be an id or a list of ids",
    ),
    "inContextOf numbers": (
        "G1:\n  inContextOf: [1, 2]\n",
        r"Element G1 .*`inContextOf` must be an id or a list",
    ),
    "defeatedRelation nested": (
        "G1:\n  defeatedRelation: [[G2]]\n",
        r"Element G1 .*`defeatedRelation`",
    ),
    "unknown nodeType": (
        "X1:\n  nodeType: Claim\n",
        r"Element X1 in .*bad\.gsn\.yaml has the unknown nodeType 'Claim'",
    ),
    "no type": ("X1: {}\n", r"Element X1 in .*bad\.gsn\.yaml has no type"),
    "undeveloped string": (
        "G1:\n  undeveloped: maybe\n",
        r"Element G1 .*`undeveloped` must be true or false",
    ),
    "classes string": (
        "G1:\n  classes: big\n",
        r"Element G1 .*`classes` must be a list of strings",
    ),
    "rankIncrement negative": (
        "G1:\n  rankIncrement: -1\n",
        r"Element G1 .*`rankIncrement` must be a non-negative",
    ),
    "horizontalIndex": (
        "G1:\n  horizontalIndex: 3\n",
        r"Element G1 .*`horizontalIndex` must be a mapping",
    ),
    "acp list": ("G1:\n  acp: [Sn1]\n", r"Element G1 .*`acp` must map ACP names"),
    "duplicate id": (
        "G1: {}\nG1: {}\n",
        r"bad\.gsn\.yaml is not valid YAML: the key 'G1' appears twice \(line 2",
    ),
    "id not a string": (
        "1: {}\n",
        r"bad\.gsn\.yaml has a top-level key 1 that is not an element id",
    ),
    "module without name": (
        "module:\n  brief: x\nG1: {}\n",
        r"module block of .*bad\.gsn\.yaml needs a `name:`",
    ),
    "module not mapping": (
        "module: Main\nG1: {}\n",
        r"module block of .*bad\.gsn\.yaml is a string",
    ),
    "uses string": (
        "module:\n  name: M\n  uses: other.gsn.yaml\nG1: {}\n",
        r"`uses` must be a list of strings",
    ),
    "extends shape": (
        "module:\n  name: M\n  extends: {module: T}\nG1: {}\n",
        r"`extends` must be a list",
    ),
    "no elements": ("", r"No elements found in .*bad\.gsn\.yaml"),
    "only module": ("module:\n  name: M\n", r"No elements found"),
    "layer not plain": ("G1:\n  blob: !!binary aGVsbG8=\n", r"Element G1 .*`blob` holds b'hello'"),
}


@pytest.mark.parametrize("case_name", list(MALFORMED))
def test_malformed_files_raise_an_error_naming_file_and_element(tmp_path, case_name):
    text, message = MALFORMED[case_name]
    path = write(tmp_path, "bad.gsn.yaml", text)
    with pytest.raises(Gsn2xError, match=message):
        load_files([path])


def test_a_missing_uses_file_names_the_including_file(tmp_path):
    path = write(tmp_path, "main.gsn.yaml", "module:\n  name: M\n  uses: [gone.gsn.yaml]\nG1: {}\n")
    with pytest.raises(
        Gsn2xError, match=r"main\.gsn\.yaml uses .*gone\.gsn\.yaml, which cannot be read"
    ):
        load_files([path])


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(Gsn2xError, match=r"Cannot read .*nothing\.gsn\.yaml"):
        load_files([tmp_path / "nothing.gsn.yaml"])


def test_a_uses_cycle_is_an_error(tmp_path):
    a = write(
        tmp_path, "a.gsn.yaml", "module:\n  name: A\n  uses: [b.gsn.yaml]\nG1:\n  supportedBy: G2\n"
    )
    write(
        tmp_path,
        "b.gsn.yaml",
        "module:\n  name: B\n  uses: [c.gsn.yaml]\nG2:\n  supportedBy: Sn1\n",
    )
    write(tmp_path, "c.gsn.yaml", "module:\n  name: C\n  uses: [a.gsn.yaml]\nSn1: {}\n")
    with pytest.raises(
        Gsn2xError,
        match=r"cycle.*a\.gsn\.yaml -> .*b\.gsn\.yaml -> .*c\.gsn\.yaml -> .*a\.gsn\.yaml",
    ):
        load_files([a])


def test_a_file_using_itself_is_a_cycle(tmp_path):
    a = write(tmp_path, "a.gsn.yaml", "module:\n  name: A\n  uses: [a.gsn.yaml]\nG1: {}\n")
    with pytest.raises(Gsn2xError, match="cycle"):
        load_files([a])


def test_a_module_name_used_by_two_files_is_an_error(tmp_path):
    a = write(tmp_path, "a.gsn.yaml", "module:\n  name: Same\nG1: {}\n")
    b = write(tmp_path, "b.gsn.yaml", "module:\n  name: Same\nG2: {}\n")
    with pytest.raises(
        Gsn2xError, match=r"Module name 'Same' in .*b\.gsn\.yaml is already used by .*a\.gsn\.yaml"
    ):
        load_files([a, b])


# --- what the rules say about the gsn2x examples ---------------------------------------------


@pytest.mark.parametrize("set_name", list(FIXTURE_SETS))
def test_the_examples_have_no_errors_as_in_gsn2x(set_name):
    """gsn2x checks every shipped example without an error (warnings such as C01 for the two
    roots of `entangled` are fine)."""
    errors = [f for f in check_argument(load_set(set_name)) if f.severity == "error"]
    assert errors == []


def test_adding_sub2_to_the_modular_example_gives_two_duplicate_id_errors():
    """gsn2x reports C07 twice: G1 (index and sub2) and Sn1 (sub2 and sub3)."""
    modular = FIXTURES / "modular"
    argument = load_files([modular / "index.gsn.yaml", modular / "sub2.gsn.yaml"])
    errors = [f for f in check_argument(argument) if f.severity == "error"]
    assert sorted((f.rule, f.node) for f in errors) == [("R1", "G1"), ("R1", "Sn1")]


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("set_name", list(FIXTURE_SETS))
def test_dump_then_load_gives_the_same_argument(tmp_path, set_name):
    original = load_set(set_name)
    files = dump_files(original)
    again = load_files(write_files(tmp_path / "out", files))
    assert element_rows(again) == element_rows(original)
    assert relation_rows(again) == relation_rows(original)
    assert set(again.modules) == set(original.modules)
    for module, info in original.modules.items():
        assert {k: v for k, v in again.modules[module].items() if k != "uses"} == {
            k: v for k, v in info.items() if k != "uses"
        }
    # Writing is stable: the re-read argument writes the same files.
    assert dump_files(again) == files


def test_dump_of_an_argument_without_modules_is_one_file_without_a_module_block():
    files = dump_files(load_set("example"))
    assert list(files) == ["argument.gsn.yaml"]
    assert "module:" not in files["argument.gsn.yaml"]
    assert files["argument.gsn.yaml"].startswith(
        "G1:\n  text: Goal 1\n  supportedBy: [G2, G3, S2]\n"
    )


def test_dump_of_the_modular_example_uses_modules_without_a_cycle(tmp_path):
    files = dump_files(load_set("modular"))
    assert sorted(files) == ["Main.gsn.yaml", "Sub1.gsn.yaml", "Sub3.gsn.yaml"]
    assert files["Main.gsn.yaml"].startswith(
        "module:\n  name: Main\n  uses: [Sub1.gsn.yaml, Sub3.gsn.yaml]\n\nG1:\n"
    )
    # Sub1 refers to J1 in Main, but Main already uses Sub1: only Sub3 is added.
    assert files["Sub1.gsn.yaml"].startswith("module:\n  name: Sub1\n  uses: [Sub3.gsn.yaml]\n")
    assert files["Sub3.gsn.yaml"].startswith("module:\n  name: Sub3\n\n")
    write_files(tmp_path, files)
    assert len(load_files([tmp_path / "Main.gsn.yaml"]).elements) == 8  # the rest via uses


def test_dump_of_the_template_example_uses_the_extended_module():
    files = dump_files(load_set("template"))
    assert (
        "  uses: [template.gsn.yaml]\n"
        "  extends:\n  - module: template\n    develops:\n      G1: [G2]\n"
    ) in files["instance.gsn.yaml"]


def test_dump_writes_types_relations_and_challenges_the_gsn2x_way():
    argument = Argument(
        elements=[
            Element("G1", "goal", "Top claim"),
            Element("Top2", "goal", "Claim without a prefix"),
            Element("S1", "context", "A context whose id looks like a strategy"),
            Element("Sn1", "solution", "Evidence\nover two lines"),
            Element("CG1", "counter_goal", undeveloped=True),
            Element(
                "CSn1", "counter_solution", attributes={"defeated": True, "evalStatus": "failed"}
            ),
        ],
        relations=[
            Relation("G1", "Sn1", "supported_by"),
            Relation("G1", "S1", "in_context_of"),
            Relation("CG1", "G1", "challenges"),
            Relation("CSn1", "G1", "challenges", target_relation="Sn1"),
        ],
    )
    text = dump_files(argument)["argument.gsn.yaml"]
    assert text == (
        "G1:\n  text: Top claim\n  supportedBy: [Sn1]\n  inContextOf: [S1]\n\n"
        "Top2:\n  text: Claim without a prefix\n  nodeType: Goal\n\n"
        "S1:\n  text: A context whose id looks like a strategy\n  nodeType: Context\n\n"
        "Sn1:\n  text: |-\n    Evidence\n    over two lines\n\n"
        "CG1:\n  undeveloped: true\n  challenges: G1\n\n"
        "CSn1:\n  challenges: G1 -> Sn1\n  defeated: true\n  evalStatus: failed\n"
    )


def test_dump_puts_elements_outside_modules_in_argument_gsn_yaml(tmp_path):
    argument = Argument(
        elements=[Element("G1", "goal", module="Top"), Element("Sn1", "solution")],
        relations=[Relation("G1", "Sn1", "supported_by")],
        modules={"Top": {"brief": "The top", "owner": "safety team"}},
    )
    files = dump_files(argument)
    assert files == {
        "Top.gsn.yaml": (
            "module:\n  name: Top\n  brief: The top\n  uses: [argument.gsn.yaml]\n"
            "  owner: safety team\n\nG1:\n  supportedBy: [Sn1]\n"
        ),
        "argument.gsn.yaml": "Sn1: {}\n",
    }
    again = load_files(write_files(tmp_path, files)[:1])
    assert element_rows(again) == element_rows(argument)


def test_dump_makes_module_file_names_safe_and_distinct():
    argument = Argument(
        elements=[
            Element("G1", "goal", module="Risk model / cyber"),
            Element("G2", "goal", module="argument"),
            Element("G3", "goal"),
        ]
    )
    assert sorted(dump_files(argument)) == [
        "Risk_model_cyber.gsn.yaml",
        "argument-2.gsn.yaml",
        "argument.gsn.yaml",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "plain",
        "",
        "yes",
        "null",
        "1.10",
        "G1: not a key",
        "- not a list",
        "  leading spaces\nand lines",
        "trailing newlines\n\n\n",
        "no trailing newline\nsecond",
        "trailing space \nline",
        "tab\tand unicode ≤ 10 %",
        "'quotes' and \"quotes\" and # hash",
        "\nstarts with a newline",
        "1e3",
        "0o17",
        "089",
        "2025-06-01",
        "1:30",
        "off",
        "True",
        "~",
        ".5",
    ],
)
def test_any_text_survives_a_round_trip(tmp_path, statement):
    argument = Argument(
        elements=[
            Element("G1", "goal", statement, undeveloped=True, attributes={"layer": statement})
        ]
    )
    again = load_files(write_files(tmp_path, dump_files(argument)))
    assert again.elements[0].statement == statement
    assert again.elements[0].attributes == {"layer": statement}


def test_dump_refuses_what_gsn2x_cannot_express():
    two_challenges = Argument(
        elements=[Element("G1", "goal"), Element("G2", "goal"), Element("CG1", "counter_goal")],
        relations=[Relation("CG1", "G1", "challenges"), Relation("CG1", "G2", "challenges")],
    )
    with pytest.raises(Gsn2xError, match="Element CG1 challenges 2 things .*gsn2x allows one"):
        dump_files(two_challenges)
    same_id = Argument(elements=[Element("G1", "goal"), Element("G1", "goal")])
    with pytest.raises(Gsn2xError, match="two elements G1"):
        dump_files(same_id)
    with pytest.raises(Gsn2xError, match="type 'claim'"):
        dump_files(Argument(elements=[Element("G1", "claim")]))
    with pytest.raises(Gsn2xError, match="called `module`"):
        dump_files(Argument(elements=[Element("module", "goal")]))
