"""The PDF read as a reader would: criteria in words, grouped check rows, unbroken identifiers."""

from __future__ import annotations

import io
import re
from io import StringIO

import pypdf
import pytest
from django.core.management import call_command

from safetycase import services
from safetycase.core import document
from safetycase.core.criteria_wording import describe
from safetycase.models import EvidenceBinding, SafetyCase

ZWSP = "\u200b"


def is_page_furniture(line: str, case_name: str) -> bool:
    """Running header, footer, a table header repeated where a table row spans pages and the
    empty-cell dash of a row's other column."""
    return (
        line.strip() == "—"
        or line.startswith(case_name)
        or bool(re.fullmatch(r"(case \S+ · .* · \w+ ?)?\d+ / \d+.*", line))
        or line.startswith("ID Statement Status")
    )


def reads_in_order(sentence: str, flat: str, gap: int = 200) -> bool:
    """Whether the words of `sentence` appear in `flat` (the PDF's text without whitespace) in
    order, each within `gap` characters of the one before. Text extraction orders lines by
    height on the page, so where a table row's sentence wraps beside a statement in the other
    column, the statement's lines come between the sentence's: the sentence is printed, but
    not as one run of text. Typst may also break a line, or a page, between a closing and an
    opening bracket with no space between them (`…2}[meta.access_level]`), so the words are split
    there too."""
    words = [w for w in re.split(r"\s+|(?<=[\]})])(?=[\[{(])", sentence) if w]
    position = flat.find(words[0]) if words else 0
    while position != -1:
        end = position + len(words[0])
        for word in words[1:]:
            found = flat.find(word, end, end + gap + len(word))
            if found == -1:
                break
            end = found + len(word)
        else:
            return True
        position = flat.find(words[0], position + 1)
    return False


def test_reading_order_allows_the_other_column_between_lines_but_not_a_missing_word():
    sentence = "Holds when every entry c of the deploy categories is in the eval categories."
    interleaved = (
        "Holdswheneveryentrycofthedeploy"
        + "oftenandhoweasilyattacks"
        + ("categoriesisintheevalcategories.")
    )
    assert reads_in_order(sentence, interleaved)
    assert not reads_in_order(sentence, interleaved.replace("eval", "deploy"))
    assert not reads_in_order(
        sentence,
        "Holdswheneveryentrycofthedeploy" + "x" * 400 + ("categoriesisintheevalcategories."),
    )


@pytest.mark.parametrize(
    ("expression", "kind", "sentence"),
    [
        (
            "k == 0 && cp_upper(k, n, 0.95) <= 0.05",
            "criterion",
            "Met when no sample shows the behaviour (k = 0) and the one-sided 95% "
            "Clopper–Pearson upper bound of the rate is at most 0.05.",
        ),
        ("rate <= 0.1", "criterion", "Met when the observed rate k/n is at most 0.1."),
        ("age_days <= 30", "check", "Holds when the run's age in days is at most 30."),
        (
            '!meta.weights_available || "fine_tuning" in meta.red_team.affordances',
            "check",
            "Holds when either the run's recorded weights available is false, or "
            "“fine_tuning” is in the run's recorded red team affordances.",
        ),
        (
            "0.05 >= wilson_upper(k, n, 0.9)",
            "criterion",
            "Met when the 90% Wilson upper bound of the rate is at most 0.05.",
        ),
        (
            "has(meta.successor_justification)",
            "check",
            "Holds when the run records successor justification.",
        ),
    ],
)
def test_criteria_read_as_sentences(expression, kind, sentence):
    assert describe(expression, kind=kind).sentence == sentence


def test_the_rate_bound_a_criterion_uses_is_read_from_its_shape():
    shape = describe("k == 0 && cp_upper(k, n, 0.9) <= 0.02").shape
    assert (shape.bound, shape.level, shape.threshold, shape.comparison) == (
        "cp_upper",
        0.9,
        0.02,
        "<=",
    )
    assert describe("rate >= 0.5").shape.level is None
    assert describe("meta.auroc >= 0.9").shape is None


def test_an_expression_the_wording_cannot_read_still_gets_a_sentence():
    assert describe("((", kind="check").sentence.startswith("Holds when")
    assert describe("").sentence == "Met when nothing: the expression is empty."


@pytest.mark.django_db
def test_the_demo_pdf_gives_every_binding_a_sentence_and_breaks_no_identifier(
    author, eager_celery, tmp_path
):
    call_command("load_demo", "--owner", "alice", stdout=StringIO(), stderr=StringIO())
    demo = SafetyCase.objects.get()
    out = tmp_path / "demo.pdf"
    call_command("export_pdf", str(demo.pk), str(out), stdout=StringIO())
    pages = pypdf.PdfReader(io.BytesIO(out.read_bytes())).pages
    lines = []
    for page in pages:
        lines += [
            line
            for line in (page.extract_text() or "").replace(ZWSP, "").splitlines()
            if not is_page_furniture(line, demo.name)
        ]
    # Typst sets straight apostrophes as typographic ones.
    flat = re.sub(r"\s+", "", "".join(lines)).replace("\u2019", "'")

    bindings = list(EvidenceBinding.objects.filter(node__case=demo).select_related("node"))
    assert bindings
    for binding in bindings:
        kind = "check" if binding.node.type == "assumption" else "criterion"
        sentence = describe(binding.expression, kind=kind).sentence
        assert re.sub(r"\s+", "", sentence) in flat or reads_in_order(sentence, flat), sentence

    # A line may end at `.`, `_`, an operator or a space, never inside a word of an identifier.
    words = set()
    for binding in bindings:
        words.update(w for w in re.findall(r"[A-Za-z0-9]+", binding.expression) if len(w) > 2)
    broken = []
    for before, after in zip(lines, lines[1:], strict=False):
        tail = re.search(r"[A-Za-z0-9]+$", before)
        head = re.match(r"[A-Za-z0-9]+", after)
        if tail and head and tail.group(0) + head.group(0) in words:
            if not (tail.group(0) in words and head.group(0) in words):
                broken.append((before[-30:], after[:30]))
    assert broken == []


def test_a_check_over_many_runs_is_one_row_per_run_and_one_summary():
    runs = [{"id": i, "task": "t", "statistics": []} for i in range(1, 20)]
    citations = [
        {
            "binding": 7,
            "node": "A05",
            "run": run["id"],
            "role": "scope",
            "via": via,
            "outcome": True,
            "detail": "",
        }
        for run in runs
        for via in ("S1", "S2")  # both solutions cite every run
    ]
    citations[0] = {**citations[0], "outcome": False}
    citations[1] = {**citations[1], "outcome": False}
    data = {
        "case": {"name": "c"},
        "nodes": [
            {"identifier": "G1", "type": "goal", "statement": "g"},
            {"identifier": "S1", "type": "solution", "statement": "s"},
            {"identifier": "S2", "type": "solution", "statement": "s"},
            {"identifier": "A05", "type": "assumption", "statement": "a"},
        ],
        "links": [
            {"source": "G1", "target": "S1", "type": "supported_by"},
            {"source": "G1", "target": "S2", "type": "supported_by"},
            {"source": "G1", "target": "A05", "type": "in_context_of"},
        ],
        "bindings": [
            {"id": 7, "node": "A05", "kind": "check", "selector": {}, "expression": "age_days <= 9"}
        ],
        "citations": citations,
        "runs": runs,
    }
    check = document.build_document(data, content_hash="0")["assumptions"][0]["checks"][0]
    assert [r["run"]["id"] for r in check["runs"]] == [str(i) for i in range(1, 20)]
    assert [v["id"] for v in check["runs"][0]["via"]] == ["S1", "S2"]
    assert check["tally"] == "19 runs: 18 hold, 1 does not hold"
    assert check["words"] == "Holds when the run's age in days is at most 9."
    citations[0] = {**citations[0], "outcome": True}
    citations[1] = {**citations[1], "outcome": True}
    check = document.build_document(data, content_hash="0")["assumptions"][0]["checks"][0]
    assert check["tally"] == "19 runs, all hold"


@pytest.mark.django_db
def test_a_signed_version_has_its_review_record_signature_block_and_identifier_on_every_page(
    case, author, reviewer
):
    node = case.nodes.order_by("identifier").first()
    services.comment_create(actor=author, node=node, text="Is the bound one-sided?")
    challenge = services.challenge_create(
        actor=reviewer, node=node, claim="The honeypots were seen in training."
    )
    services.challenge_respond(
        actor=author, challenge=challenge, response="Fresh honeypots were written."
    )
    services.challenge_resolve(actor=reviewer, challenge=challenge, resolution="Accepted.")
    services.case_assess(case=case, trigger="manual")
    version = services.version_sign_off(actor=reviewer, case=case)
    # Raised after the sign-off: not part of the version's record.
    services.challenge_create(actor=reviewer, node=node, claim="A later counter-claim.")

    content = services.version_export_pdf(version=version).content
    pages = pypdf.PdfReader(io.BytesIO(content)).pages
    text = "\n".join(p.extract_text() or "" for p in pages).replace(ZWSP, "")
    flat = re.sub(r"\s+", "", text)
    assert "Executive summary" in text
    record = flat[flat.rindex("7Reviewrecord") : flat.rindex("8Signatures")]
    for words in (
        "The honeypots were seen in training.",
        "Fresh honeypots were written.",
        "Is the bound one-sided?",
        f"{reviewer.username},",
        f"{author.username},",
    ):
        assert re.sub(r"\s+", "", words) in record, words
    assert "Alatercounter-claim." not in flat
    block = flat[flat.rindex("8Signatures") :]
    assert reviewer.username in block
    assert version.content_hash in block
    assert "manage.pyverify_versions" in block
    identifier = f"case {case.pk} · v1 · {version.content_hash[:12]}"
    for page in pages:
        assert identifier in (page.extract_text() or ""), identifier


def test_a_rate_criterion_gets_an_interval_chart_at_its_own_level():
    data = {
        "case": {"name": "c"},
        "nodes": [{"identifier": "Sn1", "type": "solution", "statement": "s"}],
        "links": [],
        "bindings": [
            {
                "id": 1,
                "node": "Sn1",
                "kind": "criterion",
                "selector": {"task": "t"},
                "expression": "k == 0 && cp_upper(k, n, 0.9) <= 0.05",
            }
        ],
        "citations": [
            {"binding": 1, "node": "Sn1", "run": 4, "role": "evidence", "via": "", "outcome": True}
        ],
        "runs": [{"id": 4, "task": "t", "statistics": [{"name": "s", "k": 0, "n": 100}]}],
    }
    chart = document.build_document(data, content_hash="0")["argument"][0]["evidence"][0]["chart"]
    # With no success in n trials the one-sided upper bound at level c is 1 - (1 - c)^(1/n).
    assert chart["points"] == [
        {"run": "4", "rate": 0.0, "bound": pytest.approx(1 - 0.1 ** (1 / 100))}
    ]
    assert (chart["threshold"], chart["level"]) == (0.05, "90%")


def test_evidence_freshness_counts_each_run_once_however_many_bindings_cite_it():
    runs = [
        {"id": 1, "task": "t", "statistics": [], "finished_at": "2026-11-01T00:00:00+00:00"},
        {"id": 2, "task": "t", "statistics": [], "finished_at": "2026-11-20T00:00:00+00:00"},
    ]
    citations = [
        {"binding": b, "node": node, "run": run, "role": "evidence", "outcome": True}
        for b, node, run in ((1, "S1", 1), (2, "S2", 1), (3, "S3", 2))
    ]
    data = {
        "case": {"name": "c"},
        "nodes": [{"identifier": "G1", "type": "goal", "statement": "g"}]
        + [{"identifier": f"S{i}", "type": "solution", "statement": "s"} for i in (1, 2, 3)],
        "links": [{"source": "G1", "target": f"S{i}", "type": "supported_by"} for i in (1, 2, 3)],
        "bindings": [
            {"id": i, "node": f"S{i}", "kind": "criterion", "selector": {}, "expression": "k == 0"}
            for i in (1, 2, 3)
        ],
        "citations": citations,
        "runs": runs,
        "assessment": {"created_at": "2026-11-30T00:00:00+00:00", "statuses": {}, "flags": []},
    }
    freshness = document.build_document(data, content_hash="0")["executive"]["freshness"]
    assert freshness.startswith("2 evidence runs, finished between 2026-11-01 and 2026-11-20")
    assert "the oldest was 29 days old" in freshness
