"""The template library: loading, validation errors, the catalogue, the CEL wrapper."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from safetycase.core.criteria import (
    DOMAIN_FUNCTIONS,
    ExpressionError,
    cel_literal,
    compile_expression,
    evaluate,
)
from safetycase.core.library import LIBRARY_DIR, TemplateError, default_library, load_library

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_FILES = {
    "ROOT": "root.yaml",
    "SI": "scheming_inability.yaml",
    "HI": "harm_inability.yaml",
    "HC": "harm_control.yaml",
    "AL": "alignment.yaml",
}


@pytest.fixture
def library_copy(tmp_path):
    """A writable copy of the shipped library and a helper to edit one of its files."""
    for path in LIBRARY_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)

    def edit(name: str, old: str, new: str) -> None:
        path = tmp_path / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))

    edit.dir = tmp_path
    return edit


def problems_of(directory) -> str:
    with pytest.raises(TemplateError) as info:
        load_library(directory)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# The shipped library


def test_the_library_has_the_five_templates_from_their_files():
    library = default_library()
    assert {t.id: t.filename for t in library.templates.values()} == TEMPLATE_FILES


def test_every_catalogue_entry_a01_to_a32_exists_with_a_compiling_check_or_attestation():
    library = default_library()
    assert sorted(library.catalogue) == [f"A{i:02d}" for i in range(1, 33)]
    defaults = {p.name: p.default for p in library.catalogue_parameters}
    from safetycase.core.library.values import render_cel

    for entry in library.catalogue.values():
        assert entry.statement and entry.sources, entry.id
        if entry.requires_attestation:
            assert not entry.checks and entry.attestation, entry.id
            continue
        for check in entry.checks:
            compile_expression(render_cel(check.expression, defaults))


def test_attestation_only_entries_are_those_no_data_can_decide():
    library = default_library()
    attest = sorted(a.id for a in library.catalogue.values() if a.requires_attestation)
    assert attest == ["A07", "A08", "A19", "A25", "A27"]


def test_templates_refer_to_catalogue_entries_that_list_them_as_users():
    library = default_library()
    for template in library.templates.values():
        for ref in template.catalogue_refs:
            assert template.id in library.catalogue[ref].used_by, (template.id, ref)


def test_every_source_cited_is_in_the_bibliography():
    library = default_library()
    cited = {s.key for t in library.templates.values() for s in t.sources}
    cited |= {s.key for a in library.catalogue.values() for s in a.sources}
    assert cited <= set(library.sources)
    assert {"BAL24", "MEI24", "KOR25", "GOE24", "PHU25"} <= cited


def test_parameters_of_root_include_those_of_its_arguments_and_the_catalogue():
    library = default_library()
    names = {p.name: p.declared_by for p in library.parameters("ROOT")}
    assert names["risk_threshold"] == "ROOT"
    assert names["risk_models"] == "HI"
    assert names["protocol"] == "HC"
    assert names["recall_min"] == "assumptions"
    required = sorted(p.name for p in library.parameters("ROOT") if p.required)
    assert required == [
        "deployment",
        "model",
        "model_version",
        "protocol",
        "risk_models",
        "risk_threshold",
        "unacceptable_outcomes",
    ]


def test_library_code_is_pure():
    pure = [
        *(ROOT / "safetycase" / "core" / "library").glob("*.py"),
        ROOT / "safetycase" / "core" / "criteria.py",
    ]
    for path in pure:
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & {"django", "rest_framework"}, path


# --------------------------------------------------------------------------------------------
# Validation errors


def test_bad_yaml_is_reported_with_file_and_position(library_copy):
    library_copy("alignment.yaml", "  G1:\n    type: goal", "  G1:\n   type: goal\n  bad: [")
    message = problems_of(library_copy.dir)
    assert "alignment.yaml: not valid YAML at line" in message


def test_a_node_defined_twice_is_refused(library_copy):
    library_copy("alignment.yaml", "  G5:\n", "  G4:\n    type: goal\n    text: again\n  G5:\n")
    assert "the key 'G4' appears twice" in problems_of(library_copy.dir)


def test_unknown_parameter_in_text(library_copy):
    library_copy(
        "harm_control.yaml",
        "text: The control evaluation overestimates",
        "text: The {evaluation_name} overestimates",
    )
    message = problems_of(library_copy.dir)
    assert "harm_control.yaml: node G2: unknown parameter {evaluation_name} in the text." in message


def test_unknown_field_of_a_repeated_item(library_copy):
    library_copy("harm_inability.yaml", '"{rm.name}".\'', '"{rm.title}".\'')
    message = problems_of(library_copy.dir)
    assert "node G2: {rm.title}: an item of risk_models has the fields" in message


def test_bad_combination(library_copy):
    library_copy(
        "root.yaml",
        "    combination: any\n    text: >-\n      Argument over the three",
        "    combination: most\n    text: >-\n      Argument over the three",
    )
    message = problems_of(library_copy.dir)
    assert "root.yaml: node S0: unknown combination 'most'; expected all, any or at_least: k" in (
        message
    )


def test_at_least_must_name_an_integer_parameter(library_copy):
    library_copy(
        "scheming_inability.yaml",
        'combination: {at_least: "{min_absent_prerequisites}"}',
        'combination: {at_least: "{t_covert}"}',
    )
    message = problems_of(library_copy.dir)
    assert "node S2: combination at_least {t_covert} must name an integer parameter." in message


def test_cel_syntax_error_names_the_position(library_copy):
    library_copy(
        "alignment.yaml",
        "criterion: binom_sf(k - 1, n, 0.25) >= 0.01",
        "criterion: binom_sf(k - 1, n, 0.25) >=",
    )
    message = problems_of(library_copy.dir)
    assert (
        "alignment.yaml: node Sn4: criterion 1: 'binom_sf(k - 1, n, 0.25) >=' does not compile"
        in (message)
    )
    assert "Syntax error at line 1, column" in message


def test_cel_unknown_name_is_an_error(library_copy):
    library_copy("alignment.yaml", "criterion: rate <= {t_nocot}", "criterion: ratio <= {t_nocot}")
    message = problems_of(library_copy.dir)
    assert "Unknown name 'ratio' at line 1, column 1" in message


def test_catalogue_check_that_does_not_compile(library_copy):
    library_copy("assumptions.yaml", "check: age_days <= {max_age_days}", "check: age_days <=> 3")
    message = problems_of(library_copy.dir)
    assert "assumptions.yaml: assumption A05: check 1: 'age_days <=> 3' does not compile" in message


def test_unknown_catalogue_id(library_copy):
    library_copy("alignment.yaml", "in_context_of: [A23]", "in_context_of: [A99]")
    message = problems_of(library_copy.dir)
    assert (
        "alignment.yaml: node G3: unknown catalogue id A99; the catalogue has A01–A32." in message
    )


def test_unknown_node_reference(library_copy):
    library_copy("alignment.yaml", "supported_by: [Sn4]", "supported_by: [Sn44]")
    assert "node G5: refers to 'Sn44', which is neither a node of this template" in problems_of(
        library_copy.dir
    )


def test_catalogue_entry_without_check_must_require_attestation(library_copy):
    library_copy(
        "assumptions.yaml",
        "    requires_attestation: true\n    attestation: A reviewer who audited",
        "    attestation: A reviewer who audited",
    )
    assert "assumption A27: has no checks; mark it requires_attestation: true." in problems_of(
        library_copy.dir
    )


def test_unknown_source(library_copy):
    library_copy(
        "alignment.yaml", "{key: MEI24, where: counterfactual oversight pairs}", "{key: XYZ99}"
    )
    assert "alignment.yaml: unknown source 'XYZ99'" in problems_of(library_copy.dir)


def test_unknown_template_key_and_parameter_type(library_copy):
    library_copy("alignment.yaml", "version: 1", "version: 1\nauthor: me")
    library_copy(
        "alignment.yaml", "type: integer\n    default: 3000", "type: count\n    default: 3000"
    )
    message = problems_of(library_copy.dir)
    assert "alignment.yaml: unknown key 'author' in a template" in message
    assert "parameter n_honeypot_opps: unknown type 'count'" in message


def test_bad_default_value(library_copy):
    library_copy(
        "alignment.yaml",
        "default: 0.1\n    description: Claimed bound",
        "default: 7\n    description: Claimed bound",
    )
    assert (
        "parameter p_scheme: default: p_scheme must be a probability between 0 and 1, not 7."
        in problems_of(library_copy.dir)
    )


def test_an_example_that_breaks_gsn_rules_is_refused(library_copy):
    # A solution supported by a goal breaks R6.
    library_copy(
        "alignment.yaml",
        "    text: Counterfactual pairs of runs with oversight on and off.",
        "    text: Counterfactual pairs of runs with oversight on and off.\n    supported_by: [G6]",
    )
    message = problems_of(library_copy.dir)
    assert "alignment.yaml: the example instance breaks GSN rule R" in message


def test_several_problems_are_reported_together(library_copy):
    library_copy("alignment.yaml", "in_context_of: [A23]", "in_context_of: [A98]")
    library_copy("harm_control.yaml", "in_context_of: [A20]", "in_context_of: [A97]")
    message = problems_of(library_copy.dir)
    assert "A98" in message and "A97" in message


# --------------------------------------------------------------------------------------------
# The CEL wrapper


def test_compile_accepts_run_variables_and_domain_functions():
    compiled = compile_expression("k == 0 && cp_upper(k, n, 0.95) <= 0.01")
    assert compiled.variables == {"k", "n"}
    assert "cp_upper" in compiled.functions
    compile_expression('meta.elicitation.methods.exists(m, m == "fine_tuning")')
    compile_expression("type(rate) == double && size(samples) > 0")


def test_compile_names_unknown_variables_and_functions():
    with pytest.raises(ExpressionError, match=r"Unknown name 'kk' at line 1, column 5"):
        compile_expression("k + kk > 1")
    with pytest.raises(ExpressionError, match=r"Unknown function 'cp_uper' at line 1, column 1"):
        compile_expression("cp_uper(k, n, 0.95) < 0.1")
    with pytest.raises(ExpressionError, match="The expression is empty."):
        compile_expression("  ")


def test_compile_reports_syntax_errors_with_line_and_column():
    with pytest.raises(ExpressionError, match=r"Syntax error at line 2, column 12: extraneous"):
        compile_expression("k == 0 &&\n  n >= 300 )")


def test_names_in_string_literals_are_not_variables():
    compile_expression('task == "oversight_subversion"')


def test_evaluate_with_stub_functions_and_errors():
    compiled = compile_expression("k == 0 && cp_upper(k, n, 0.95) <= 0.01")
    assert evaluate(compiled, {"k": 0, "n": 300}, {"cp_upper": lambda k, n, c: 0.00994}) is True
    assert evaluate(compile_expression("max([1, 5, 3]) == 5"), {}) is True
    with pytest.raises(ExpressionError, match="could not be evaluated"):
        evaluate(compile_expression("meta.x > 1"), {"meta": {}})
    assert set(DOMAIN_FUNCTIONS) >= {
        "cp_upper",
        "cp_lower",
        "wilson_upper",
        "wilson_lower",
        "binom_sf",
        "bootstrap_p",
        "p_red_win",
        "p_any_defection",
    }


def test_cel_literals_round_trip():
    import cel

    value = [0.01, 3, 'a "quoted" {x}', True, None, {"k": 1.0}]
    assert cel.evaluate(cel_literal(value)) == value
    assert cel_literal(1e-05) == "1e-05"
    assert cel_literal(2.0) == "2.0"


# --------------------------------------------------------------------------------------------
# Evidence policies in templates


HONEYPOT_CRITERION = "        criterion: p_any_defection(cp_upper(k, n, 0.95)"


def test_a_template_criterion_may_state_its_evidence_policy(library_copy):
    from safetycase.core.library import instantiate

    library_copy(
        "alignment.yaml",
        HONEYPOT_CRITERION,
        "        policy: pooled\n" + HONEYPOT_CRITERION,
    )
    library = load_library(library_copy.dir)
    instance = instantiate(library, "AL", dict(library.templates["AL"].example))
    (honeypot,) = [b for b in instance.bindings if b.policy]
    assert "p_any_defection" in honeypot.expression
    assert (honeypot.policy, honeypot.policy_justification) == ("pooled", "")
    assert len(instance.bindings) > 1  # the others are unset: the services store `all`


@pytest.mark.parametrize(
    ("policy_lines", "said"),
    [
        ("        policy: newest\n", "policy must be one of all, pooled, latest, not 'newest'"),
        ("        policy: latest\n", "needs a policy_justification"),
        ("        policy_justification: because\n", "policy_justification is given without"),
    ],
)
def test_a_bad_evidence_policy_is_refused_with_a_sentence(library_copy, policy_lines, said):
    library_copy("alignment.yaml", HONEYPOT_CRITERION, policy_lines + HONEYPOT_CRITERION)
    message = problems_of(library_copy.dir)
    assert "alignment.yaml" in message and said in message


def test_checks_take_no_policy(library_copy):
    library_copy(
        "assumptions.yaml",
        "        check: 'k == 0 && p_any_defection(",
        "        policy: pooled\n        check: 'k == 0 && p_any_defection(",
    )
    assert "unknown key 'policy'" in problems_of(library_copy.dir)
