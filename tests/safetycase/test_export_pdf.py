"""PDF export of a safety case: document assembly, diagram pages, the Typst PDF, API, command.

PDF content is checked through the text pypdf extracts and the PDF outline (bookmarks), never
through bytes (house style 32), except where determinism is the point.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pypdf
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from evidence import services as evidence_services
from safetycase import services
from safetycase.adapters import typst as pdf
from safetycase.core import assessment, document
from safetycase.core.document import evidence, parts
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.models import Attestation, Node, PdfExport, SafetyCase
from safetycase.services import case_export_pdf
from tests.safetycase.conftest import generic_run

ZWSP = "\u200b"


# --------------------------------------------------------------------------------------------
# Helpers


def reader(content: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(content))


def printed_font_sizes(page) -> list[float]:
    """The size in pt at which each piece of text of the page prints: the font size times
    the vertical scale of the text matrix and the current transformation (the diagram's
    scaling) together."""
    sizes: list[float] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            c = tm[2] * cm[0] + tm[3] * cm[2]
            d = tm[2] * cm[1] + tm[3] * cm[3]
            sizes.append(size * (c * c + d * d) ** 0.5)

    page.extract_text(visitor_text=visit)
    return sizes


def pdf_text(content: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in reader(content).pages)
    return text.replace(ZWSP, "")


def squeeze(text: str) -> str:
    """Without any whitespace: lines wrap anywhere in the PDF."""
    return re.sub(r"\s+", "", text.replace(ZWSP, ""))


def outline(content: bytes) -> list[tuple[int, str, int]]:
    """(depth, title, page number from 1) of every bookmark, in document order."""
    pdf_reader = reader(content)
    out: list[tuple[int, str, int]] = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append((depth, item.title, pdf_reader.get_destination_page_number(item) + 1))

    walk(pdf_reader.outline, 0)
    return out


def argument_bookmarks(content: bytes) -> list[tuple[int, str]]:
    """The bookmarks of chapter 3 (one per element of the argument tree), with their depth."""
    entries = outline(content)
    start = next(i for i, (_, title, _) in enumerate(entries) if title == "3 The argument")
    out = []
    for depth, title, _page in entries[start + 1 :]:
        if depth == 0:
            break
        if " · " in title:
            out.append((depth, title.split(" · ")[0]))
    return out


def internal_links(content: bytes) -> int:
    count = 0
    for page in reader(content).pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/Link":
                continue
            action = annotation.get("/A")
            if "/Dest" in annotation or (action is not None and action.get("/S") == "/GoTo"):
                count += 1
    return count


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab):
    """Upload a log as a harness would (ingested, and bound cases re-assessed, in-process)."""

    def submit_log(document_: dict, *, user=None):
        upload = io.BytesIO(json.dumps(document_).encode())
        upload.name = f"{document_['run']['id']}.json"
        with django_capture_on_commit_callbacks(execute=True):
            result = evidence_services.log_submit(upload=upload, uploaded_by=user, project=lab)
        run = result.runs[0]
        run.refresh_from_db()
        return run

    return submit_log


# --------------------------------------------------------------------------------------------
# Pure parts: document helpers


def test_anchors_are_label_safe_and_never_shared():
    identifiers = ["G1", "G-1", "G_1", "G.1", "G 1", "G/1", "Ĝ1", "G\\1", "G]1"]
    anchors = [document.anchor("node", i) for i in identifiers]
    assert len(set(anchors)) == len(anchors)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", a) for a in anchors)
    assert document.anchor("run", 12) == "run-12"


def test_long_words_get_break_opportunities_but_short_text_does_not():
    assert document.breakable("An ordinary statement with short words.") == (
        "An ordinary statement with short words."
    )
    word = "x" * 500
    broken = document.breakable(f"before {word} after")
    assert broken.replace(ZWSP, "") == f"before {word} after"
    assert max(len(p) for p in broken.split(ZWSP)) <= document.BREAK_EVERY + len("before ")


def test_breaks_never_split_a_grapheme_cluster():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji made of a ZWJ sequence
    devanagari = "नमस्ते"  # consonants with combining vowel signs and a virama
    text = (family * 12) + (devanagari * 8) + ("e\u0301" * 20)
    broken = document.breakable(text)
    assert broken.replace(ZWSP, "") == text
    for index, char in enumerate(broken):
        if char == ZWSP:
            after = broken[index + 1]
            assert after not in "\u200d\u0301" and after not in "्ेिी"
            assert broken[index - 1] != "\u200d"


def test_content_hash_is_canonical():
    a = {"b": [1, 2, {"z": "é", "a": None}], "a": "x"}
    b = {"a": "x", "b": [1, 2, {"a": None, "z": "é"}]}
    assert document.content_hash(a) == document.content_hash(b)
    assert document.content_hash(a) != document.content_hash({**a, "a": "y"})
    assert re.fullmatch(r"[0-9a-f]{64}", document.content_hash(a))


def test_argument_order_is_depth_first_from_the_top_goal_and_writes_each_element_once():
    nodes = [
        {"identifier": i, "type": t}
        for i, t in [
            ("G1", "goal"),
            ("S1", "strategy"),
            ("G2", "goal"),
            ("G10", "goal"),
            ("Sn1", "solution"),
            ("C1", "context"),
            ("CG1", "counter_goal"),
            ("X1", "goal"),
            ("L1", "goal"),
            ("L2", "goal"),
        ]
    ]
    links = [
        {"source": s, "target": t, "type": k}
        for s, t, k in [
            ("G1", "S1", "supported_by"),
            ("G1", "C1", "in_context_of"),
            ("S1", "G10", "supported_by"),
            ("S1", "G2", "supported_by"),
            ("G2", "Sn1", "supported_by"),
            ("G10", "Sn1", "supported_by"),  # a DAG: Sn1 has two parents
            ("CG1", "G2", "challenges"),
            ("L1", "L2", "supported_by"),  # a cycle outside the tree
            ("L2", "L1", "supported_by"),
        ]
    ]
    order, _children = document.argument_order(nodes, links, "G1")
    assert [(i, d) for i, d, _ in order] == [
        ("G1", 1),
        ("S1", 2),
        ("G2", 3),
        ("CG1", 4),
        ("Sn1", 4),
        ("G10", 3),
        ("X1", 1),
        ("L1", 1),
        ("L2", 2),
    ]


# --------------------------------------------------------------------------------------------
# Pure parts: diagram pages


def fake_render(width_per_node=120.0, height=150.0):
    """An SVG as wide as its nodes side by side (labels counted in the DOT)."""

    def render(dot: str) -> str:
        count = dot.count("label=<")
        return f'<svg width="{count * width_per_node}pt" height="{height}pt"></svg>'

    return render


def planner_for(argument: Argument, render) -> parts.Planner:
    def group(element: Element) -> str:
        return element.identifier.split("-")[0] if "-" in element.identifier else ""

    return parts.Planner(
        argument,
        statuses={},
        group_of=group,
        group_titles={"SI": "Scheming Inability", "HI": "Harm Inability"},
        render=render,
        order=[e.identifier for e in argument.elements],
    )


def two_argument_tree(leaves: int) -> Argument:
    elements = [Element("G0", "goal", "Top"), Element("S0", "strategy", "Over both")]
    relations = [Relation("G0", "S0", "supported_by")]
    for prefix in ("SI", "HI"):
        elements += [Element(f"{prefix}-G0", "goal", prefix), Element(f"{prefix}-S1", "strategy")]
        relations += [
            Relation("S0", f"{prefix}-G0", "supported_by"),
            Relation(f"{prefix}-G0", f"{prefix}-S1", "supported_by"),
        ]
        elements.append(Element(f"{prefix}-C1", "context", "Scope"))
        relations.append(Relation(f"{prefix}-G0", f"{prefix}-C1", "in_context_of"))
        for k in range(leaves):
            elements += [
                Element(f"{prefix}-G{k + 1}", "goal", "claim"),
                Element(f"{prefix}-Sn{k + 1}", "solution", "evidence"),
            ]
            relations += [
                Relation(f"{prefix}-S1", f"{prefix}-G{k + 1}", "supported_by"),
                Relation(f"{prefix}-G{k + 1}", f"{prefix}-Sn{k + 1}", "supported_by"),
            ]
    return Argument(elements=elements, relations=relations)


def test_a_small_argument_is_drawn_whole():
    planned = planner_for(two_argument_tree(1), fake_render()).plan()
    assert len(planned) == 1
    assert planned[0].title == "The whole argument"
    assert planned[0].page["scale"] >= parts.MIN_SCALE


def test_a_large_argument_is_drawn_per_argument_and_every_element_has_one_home():
    argument = two_argument_tree(8)
    planned = planner_for(argument, fake_render()).plan()
    assert len(planned) > 2
    tree = [e.identifier for e in argument.elements if e.type != "context"]
    homes = [i for p in planned for i in p.members]
    assert sorted(homes) == sorted(tree)  # each tree element is drawn as its own exactly once
    assert [p.number for p in planned] == list(range(1, len(planned) + 1))
    assert planned[0].members[:2] == ["G0", "S0"]
    assert {p.group for p in planned} == {"", "SI", "HI"}
    si = [p for p in planned if p.group == "SI"]
    assert si[0].title == f"Scheming Inability (1 of {len(si)})"
    assert si[0].roots == ["SI-G0"]
    for part in planned:
        assert part.page["scale"] >= parts.MIN_SCALE
        assert part.page["paper"] in ("a4", "a3")


def test_each_part_says_where_the_argument_continues_and_where_it_comes_from():
    argument = two_argument_tree(8)
    planned = planner_for(argument, fake_render()).plan()
    home = {i: p.number for p in planned for i in p.members}
    for part in planned:
        inside = set(part.members)
        # Every supported-by edge leaving the part is listed under the diagram it goes to.
        leaving = {
            (r.target, home[r.target])
            for r in argument.relations
            if r.source in inside and r.target in home and r.target not in inside
        }
        listed = {(i, c["number"]) for c in part.continues for i in c["identifiers"]}
        assert listed == leaving, part.number
        arriving = {
            (r.target, home[r.source])
            for r in argument.relations
            if r.target in inside and r.source in home and r.source not in inside
        }
        back = {(i, c["number"]) for c in part.continued_from for i in c["identifiers"]}
        assert back == arriving, part.number
    assert any(p.continues for p in planned) and any(p.continued_from for p in planned)


def test_pdf_diagrams_draw_no_small_text_and_every_statement_whole():
    from safetycase.core.diagrams import PRINT, argument_dot

    statement = " ".join(f"clause{i} of a long claim" for i in range(60))  # ~1,300 characters
    argument = Argument(
        elements=[
            Element("G1", "goal", statement),
            Element("Sn1", "solution", statement),
            Element("C1", "context", "Where"),
        ],
        relations=[Relation("G1", "Sn1", "supported_by"), Relation("G1", "C1", "in_context_of")],
    )
    statuses = {"G1": "at_risk", "Sn1": "defeated"}
    printed = argument_dot(argument, statuses=statuses, lettering=PRINT)
    sizes = [float(v) for v in re.findall(r'(?:point-size="|fontsize=)"?([\d.]+)', printed)]
    assert sizes and min(sizes) >= parts.PRINT_SMALLEST_FONT == 10.0
    labels = re.sub(r'tooltip="[^"]*"', "", printed)  # tooltips are not printed
    assert "…" not in labels
    for i in range(60):
        assert f"clause{i} " in printed
    # On screen (zoomable) statements are cut and the status word is smaller.
    screen = argument_dot(argument, statuses=statuses)
    assert "…" in screen and 'point-size="8"' in screen


def test_a_wide_fan_out_wraps_onto_rows_in_print():
    """Twenty children side by side would need a page no printer takes at a legible scale; in
    the PDF they wrap onto rows of PRINT.row_limit, and the drawing is narrower for it."""
    from safetycase.adapters.graphviz import render_svg
    from safetycase.core.diagrams import PRINT, SCREEN, argument_dot

    elements = [Element("G1", "goal", "Top"), Element("S1", "strategy", "Over each")]
    relations = [Relation("G1", "S1", "supported_by")]
    for i in range(20):
        elements.append(Element(f"G1{i:02}", "goal", f"Claim number {i} holds"))
        relations.append(Relation("S1", f"G1{i:02}", "supported_by"))
    argument = Argument(elements=elements, relations=relations)
    printed = argument_dot(argument, lettering=PRINT)
    assert printed.count("style=invis") == 20 - PRINT.row_limit
    assert "style=invis" not in argument_dot(argument, lettering=SCREEN)
    wide_w, wide_h = parts.svg_size(render_svg(argument_dot(argument, lettering=SCREEN)))
    rows_w, rows_h = parts.svg_size(render_svg(printed))
    assert rows_w < 0.6 * wide_w and rows_h > wide_h
    assert parts.fits(rows_w, rows_h) and not parts.fits(wide_w, wide_h)


def test_away_bands_name_the_home_diagram():
    argument = two_argument_tree(8)
    seen: list[str] = []

    def render(dot: str) -> str:
        seen.append(dot)
        return fake_render()(dot)

    planned = planner_for(argument, render).plan()
    home = next(p.number for p in planned if "SI-G0" in p.members)
    final_dots = seen[-len(planned) :]
    assert any(f"continued in diagram {home}" in dot for dot in final_dots)


def test_pages_prefer_a4_then_a3_and_a2_for_what_cannot_be_cut():
    small = parts.page_for(300, 200)
    assert small["paper"] == "a4" and small["scale"] == parts.MAX_SCALE  # grows to fill
    # Landscape fills more of the page with this one: the drawing area is 785.9 x 435.3 pt.
    middling = parts.page_for(600, 350)
    assert middling["flipped"] and middling["scale"] == pytest.approx(435.28 / 350, abs=0.01)
    wide = parts.page_for(1500, 600)
    assert wide["paper"] == "a3" and wide["flipped"] and wide["scale"] >= parts.MIN_SCALE
    tall = parts.page_for(600, 1500)
    assert not tall["flipped"]
    # Too large for A3 at a legible scale: cut when it can be; else on A2, still legible.
    assert not parts.fits(2000, 700)
    bigger = parts.page_for(2000, 700)
    assert bigger["paper"] == "a2" and bigger["flipped"] and bigger["scale"] >= parts.MIN_SCALE
    huge = parts.page_for(10000, 5000)
    assert huge["paper"] == "a2" and huge["scale"] < parts.MIN_SCALE
    # 10 pt, the PDF diagrams' smallest text, at the smallest scale a page is chosen for.
    assert parts.MIN_SCALE * parts.PRINT_SMALLEST_FONT >= 7.0
    assert parts.svg_size('<svg width="12.5pt" height="30pt" viewBox="0 0 1 1">') == (12.5, 30.0)


# --------------------------------------------------------------------------------------------
# Pure parts: cited runs


def test_citations_name_the_evidence_run_or_why_there_is_none():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    case = assessment.CaseFacts(model_name="m", model_version="1")
    nodes = [
        assessment.NodeFacts("G1", "goal"),
        assessment.NodeFacts("Sn1", "solution"),
        assessment.NodeFacts("Sn2", "solution"),
        assessment.NodeFacts("A1", "assumption"),
    ]
    relations = [
        Relation("G1", "Sn1", "supported_by"),
        Relation("G1", "Sn2", "supported_by"),
        Relation("G1", "A1", "in_context_of"),
    ]
    bindings = [
        assessment.BindingFacts(1, "Sn1", "criterion", {"task": "t1"}, 90, "cp_upper(k, n) < 0.02"),
        assessment.BindingFacts(2, "Sn2", "criterion", {"task": "t2"}, 30, "k == 0"),
        assessment.BindingFacts(3, "A1", "check", {}, None, "n >= 100"),
    ]

    def run(id_, task, days, k, n, version="1"):
        return assessment.RunFacts(
            id=id_,
            task=task,
            model="m",
            model_version=version,
            finished_at=now - timedelta(days=days),
            statistics={"s": (k, n)},
        )

    runs = [
        run(10, "t1", 50, 0, 300),  # older, superseded: not cited
        run(11, "t1", 5, 3, 300),  # evidence of Sn1, fails
        run(20, "t2", 60, 0, 50),  # too old for Sn2's 30 days
        run(21, "t2", 1, 0, 50, version="0"),  # another model version
    ]
    rows = evidence.citations(
        case=case, nodes=nodes, relations=relations, bindings=bindings, runs=runs, now=now
    )
    summary = [(r["node"], r["run"], r["role"], r["via"], r["outcome"]) for r in rows]
    assert summary == [
        ("A1", 11, "scope", "Sn1", True),
        ("Sn1", 11, "evidence", "", False),
        ("Sn2", 20, "stale", "", None),
        ("Sn2", 21, "model_mismatch", "", None),
    ]
    assert rows[1]["detail"] == "k/n = 3/300"


def test_citations_report_expressions_that_cannot_be_evaluated():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    rows = evidence.citations(
        case=assessment.CaseFacts("m", ""),
        nodes=[assessment.NodeFacts("Sn1", "solution")],
        relations=[],
        bindings=[
            assessment.BindingFacts(1, "Sn1", "criterion", {"task": "t"}, None, "rate < 0.1")
        ],
        runs=[assessment.RunFacts(id=1, task="t", model="m", finished_at=now)],  # no k/n
        now=now,
    )
    assert rows[0]["outcome"] is None and "rate" in rows[0]["detail"]


# --------------------------------------------------------------------------------------------
# The PDF of a small case


@pytest.mark.django_db
def test_the_pdf_shows_the_argument_with_bookmarks_and_links(case):
    result = case_export_pdf(case=case)
    assert result.content.startswith(b"%PDF-")
    assert result.pages == len(reader(result.content).pages) >= 6
    text = pdf_text(result.content)
    flat = squeeze(text)
    assert squeeze("The model cannot cause catastrophic harm through scheming") in flat
    for node in case.nodes.all():
        assert node.identifier in text
        assert squeeze(node.statement) in flat
    assert squeeze(f"content hash {result.content_hash}") in squeeze(
        text.replace("Content", "content")
    )
    assert "working copy" in text
    # Flags of the assessment: G3 is undeveloped, Sn1 has no evidence bound.
    latest = case.assessments.latest()
    assert latest.flags
    for flag in latest.flags:
        assert squeeze(flag["message"]) in flat

    chapters = [title for depth, title, _ in outline(result.content) if depth == 0]
    assert chapters == [
        "Executive summary",
        "1 Summary",
        "2 Argument diagrams",
        "3 The argument",
        "4 Evidence",
        "5 Assumptions",
        "6 Flags",
        "7 Review record",
    ]
    assert argument_bookmarks(result.content) == [
        (1, "G1"),
        (2, "S1"),
        (3, "G2"),
        (4, "Sn1"),
        (3, "G3"),
    ]
    assert internal_links(result.content) >= 5
    assert result.diagrams == 1
    assert "The whole argument" in text


@pytest.mark.django_db
def test_the_evidence_appendix_lists_every_cited_run_with_its_log_hash(
    bound_case, submit, uploader
):
    old = submit(generic_run("old-pass", 0, 400, days_ago=200), user=uploader)  # stale
    failing = submit(generic_run("new-fail", 12, 400, days_ago=2), user=uploader)
    other = submit(generic_run("other", 0, 400, model="another-model"), user=uploader)
    Attestation.objects.create(
        case=bound_case,
        node=Node.objects.get(case=bound_case, identifier="A1"),
        attested_by=uploader,
        statement="Elicitation followed the lab's standard ES-2.",
        expires_at=timezone.now() + timedelta(days=30),
    )
    services.case_assess(case=bound_case, trigger="manual")

    result = case_export_pdf(case=bound_case)
    text = pdf_text(result.content)
    flat = squeeze(text)
    assert squeeze(f"Run {failing.pk} · oversight_subversion") in flat
    assert failing.log_file.sha256 in flat
    assert failing.log_file.name in text
    assert "harness" in text  # the uploader
    assert "[0.01" in text  # the Clopper–Pearson interval of 12/400
    assert squeeze("cp_upper(k, n, 0.95) < 0.01") in flat
    assert "not met" in text
    # The newer failing run is the evidence; the stale one is superseded, so not cited; a run of
    # another model selects no binding of this case and no flag names it.
    assert old.log_file.sha256 not in flat
    assert other.log_file.sha256 not in flat
    assert squeeze("Elicitation followed the lab's standard ES-2.") in flat
    latest = bound_case.assessments.latest()
    for flag in latest.flags:
        assert squeeze(flag["message"]) in flat
    run_bookmarks = [t for d, t, _ in outline(result.content) if t.startswith("Run ")]
    assert run_bookmarks == [f"Run {failing.pk} · oversight_subversion"]


HOSTILE = [
    '#set page(width: 1cm) and #pagebreak() and #panic("x")',
    "$x^2$ and $$ unbalanced $",
    "[*b*] ] [ *bold?* _it_ `raw` <label> @ref // comment /* block",
    "backslashes \\ \\\\ \\u{1F600} and quotes \" ' and = heading - list + enum",
    "Arabic: مرحبا بالعالم · Devanagari: नमस्ते दुनिया",
    "Chinese: 你好世界 · emoji: 🚀✅👨‍👩‍👧",
]


@pytest.mark.django_db
def test_hostile_text_prints_literally(author):
    long_word = "supercalifragilistic" * 25  # 500 characters without a space
    case = services.case_create(
        name="#let x = 1 [*case*] $name$",
        model_name="model #1 [beta]",
        model_version="$v$",
        deployment="@deployment \\ #emph[x]",
        description=" ".join(HOSTILE),
        owner=author,
    )
    services.node_create_do(case=case, identifier="G1", type="goal", statement=HOSTILE[0])
    services.node_create_do(case=case, identifier="S1", type="strategy", statement=HOSTILE[1])
    services.node_create_do(case=case, identifier="G2", type="goal", statement=HOSTILE[2])
    services.node_create_do(case=case, identifier="G3", type="goal", statement=HOSTILE[3])
    services.node_create_do(case=case, identifier="C1", type="context", statement=HOSTILE[4])
    services.node_create_do(case=case, identifier="A1", type="assumption", statement=HOSTILE[5])
    services.node_create_do(case=case, identifier="Sn1", type="solution", statement=long_word)
    for source, target, kind in [
        ("G1", "S1", "supported_by"),
        ("S1", "G2", "supported_by"),
        ("S1", "G3", "supported_by"),
        ("G2", "Sn1", "supported_by"),
        ("G1", "C1", "in_context_of"),
        ("G1", "A1", "in_context_of"),
    ]:
        services.link_create_do(case=case, source=source, target=target, type=kind)

    result = case_export_pdf(case=case)
    pages = reader(result.content).pages
    # Nothing changed the page size: every A4 page stays A4 (diagram pages are A4 or A3).
    assert all(float(p.mediabox.width) > 500 for p in pages)
    text = pdf_text(result.content)
    flat = squeeze(text)
    for statement in HOSTILE[:4]:
        assert squeeze(statement) in flat, statement
    assert squeeze("#let x = 1 [*case*] $name$") in flat
    assert squeeze("@deployment \\ #emph[x]") in flat
    assert long_word in flat
    # Other scripts come through, and never break their Latin neighbours; that CJK and emoji
    # get real glyphs from the Debian fonts is test_export_fonts.py's concern.
    assert set("مرحبا") <= set(text)
    assert set("नमस") <= set(text)
    assert "Chinese:" in text and "emoji:" in text
    # The long word was wrapped, not run off the page: no text line is wider than the page.
    wrapped = [line for line in text.splitlines() if "supercal" in line]
    assert len(wrapped) > 3 and max(len(line) for line in wrapped) < 120


@pytest.mark.django_db
def test_the_same_data_gives_the_same_document(case):
    first = case_export_pdf(case=case)
    second = case_export_pdf(case=case)
    assert first.content == second.content
    assert first.content_hash == second.content_hash
    assert pdf_text(first.content) == pdf_text(second.content)

    node = Node.objects.get(case=case, identifier="G2")
    node.statement = "The model lacks the capability for covert sabotage"
    node.save()
    changed = case_export_pdf(case=case)
    assert changed.content_hash != first.content_hash
    assert "covert sabotage" in pdf_text(changed.content)


@pytest.mark.django_db
def test_pdfa_is_written_on_request(case):
    result = case_export_pdf(case=case, pdfa=True)
    metadata = reader(result.content).xmp_metadata
    assert metadata is not None
    xml = metadata.stream.get_data().decode("utf-8", "replace")
    assert "pdfaid" in xml and "<pdfaid:part>2</pdfaid:part>" in xml.replace(" ", "")
    assert b"pdfaid" not in case_export_pdf(case=case).content


@pytest.mark.django_db
def test_a_case_never_assessed_is_assessed_for_its_export(case):
    case.assessments.all().delete()
    result = case_export_pdf(case=case)
    assert case.assessments.count() == 1
    assert result.overall_status == case.assessments.get().overall_status


# --------------------------------------------------------------------------------------------
# The demo case


@pytest.mark.django_db(transaction=True)
def test_the_demo_case_exports_to_a_complete_pdf(author, eager_celery, tmp_path):
    call_command("load_demo", "--owner", "alice", stdout=StringIO(), stderr=StringIO())
    demo = SafetyCase.objects.get()
    out = tmp_path / "demo.pdf"
    message = StringIO()
    call_command("export_pdf", str(demo.pk), str(out), stdout=message)
    content = out.read_bytes()
    assert message.getvalue().startswith(f"Wrote {out}: ")

    text = pdf_text(content)
    flat = squeeze(text)
    nodes = list(demo.nodes.all())
    for node in nodes:
        assert node.identifier in text
    latest = demo.assessments.latest()
    for flag in latest.flags:
        assert squeeze(flag["message"]) in flat, flag["message"]
        if flag["run"]:
            assert f"Run {flag['run']} ·" in text
    # Every run the case cites is in the appendix with the sha256 of its original log.
    from evidence.models import EvaluationRun

    for run in EvaluationRun.objects.select_related("log_file"):
        assert run.log_file.sha256 in flat, run.task

    # Bookmarks follow the argument: every goal, strategy and solution once, top goal first.
    tree = sorted(n.identifier for n in nodes if n.type in ("goal", "strategy", "solution"))
    bookmarks = argument_bookmarks(content)
    assert bookmarks[0] == (1, "G0")
    assert sorted(title for _, title in bookmarks) == tree
    order, _ = document.argument_order(
        [{"identifier": n.identifier, "type": n.type} for n in nodes],
        [
            {"source": lk.source.identifier, "target": lk.target.identifier, "type": lk.type}
            for lk in demo.links.select_related("source", "target")
        ],
        "G0",
    )
    assert [(d, i) for i, d, _ in order] == bookmarks

    # Too large for one page: one set of diagrams per argument, each readable.
    diagrams = [t for d, t, _ in outline(content) if t.startswith("Diagram ")]
    assert len(diagrams) > 4
    for name in ("Scheming Inability", "Harm Inability", "Harm Control", "Alignment"):
        assert any(name in t for t in diagrams), name
    pages = reader(content).pages
    assert len(pages) > 30
    assert internal_links(content) > 200

    # Legible diagrams: no text under 7 pt on any diagram page (positions and sizes of the
    # text pypdf reads, the page's own transforms applied), each page says where it
    # continues, with the page number.
    diagram_pages = [
        (number, page)
        for number, page in enumerate(pages, start=1)
        if page.extract_text().lstrip().startswith("Diagram ")
    ]
    assert len(diagram_pages) == len(diagrams)
    for number, page in diagram_pages:
        sizes = printed_font_sizes(page)
        assert len(sizes) > 50, number
        assert min(sizes) >= 7.0, (number, min(sizes))
    continued = [squeeze(page.extract_text()) for _, page in diagram_pages[1:]]
    assert all(re.search(r"Continuedfromdiagram\d+\(page\d+\)", t) for t in continued)
    assert any(re.search(r"Continuesindiagram\d+\(page\d+\)", t) for t in continued)
    # Statements are whole in the drawings: each appears in full on its diagram page.
    diagram_text = squeeze(" ".join(page.extract_text() for _, page in diagram_pages))
    for node in nodes:
        assert squeeze(node.statement) in diagram_text, node.identifier


# --------------------------------------------------------------------------------------------
# API


@pytest.mark.django_db
def test_members_get_the_pdf_and_outsiders_a_404(case, author, viewer, outsider, api_client_for):
    url = f"/api/v1/cases/{case.pk}/export.pdf"
    for member in (author, viewer):
        response = api_client_for(member).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert "attachment" in response["Content-Disposition"]
        assert response.content.startswith(b"%PDF-")
        assert re.fullmatch(r"[0-9a-f]{64}", response["X-Content-Hash"])
        assert int(response["X-Page-Count"]) == len(reader(response.content).pages)
    assert api_client_for(outsider).get(url).status_code == 404
    assert api_client_for(None).get(url).status_code in (401, 403)
    assert api_client_for(author).get(url, HTTP_ACCEPT="application/pdf").status_code == 200
    pdfa = api_client_for(author).get(url + "?pdfa=1")
    assert b"pdfaid" in pdfa.content


@pytest.mark.django_db
def test_large_cases_are_exported_by_a_worker(
    case,
    author,
    outsider,
    api_client_for,
    settings,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_SYNC_MAX_NODES": 3}
    client = api_client_for(author)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/api/v1/cases/{case.pk}/export.pdf")
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"]
    export = PdfExport.objects.get(pk=body["id"])
    assert export.created_by == author

    status = client.get(body["url"]).json()
    assert status["status"] == "done" and status["progress"] == 100
    assert status["pages"] >= 6 and re.fullmatch(r"[0-9a-f]{64}", status["content_hash"])
    download = client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    content = b"".join(download.streaming_content)
    assert content.startswith(b"%PDF-")
    assert download["X-Content-Hash"] == status["content_hash"]

    outsider_client = api_client_for(outsider)
    assert outsider_client.get(body["url"]).status_code == 404
    assert outsider_client.get(status["download_url"]).status_code == 404
    assert client.get(f"/api/v1/cases/{case.pk}/exports/999999/").status_code == 404
    listed = client.get(f"/api/v1/cases/{case.pk}/exports/").json()
    assert [e["id"] for e in listed] == [export.pk]


@pytest.mark.django_db
def test_an_export_can_be_queued_and_polled(
    case, viewer, api_client_for, django_capture_on_commit_callbacks
):
    client = api_client_for(viewer)
    # Without running the on-commit enqueue the export stays queued and cannot be downloaded.
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/api/v1/cases/{case.pk}/exports/", {"pdfa": True}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["pdfa"] is True and body["download_url"] is None
    download = client.get(f"/api/v1/cases/{case.pk}/exports/{body['id']}/download")
    assert download.status_code == 409

    from safetycase.tasks import export_case_pdf

    assert export_case_pdf(body["id"]) == "done"
    assert export_case_pdf(body["id"]) == "done"  # a redelivered task changes nothing
    export = PdfExport.objects.get(pk=body["id"])
    assert export.file.name.endswith(".pdf") and export.finished_at is not None
    assert b"pdfaid" in export.file.read()


@pytest.mark.django_db
def test_a_failed_export_says_why(case, author, monkeypatch):
    def broken(*args, **kwargs):
        raise pdf.PdfError("Typst could not compile the document: boom")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    export = PdfExport.objects.create(case=case, created_by=author)
    from safetycase.services import pdf_export_run

    pdf_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == "failed" and "boom" in export.error and not export.file


# --------------------------------------------------------------------------------------------
# Command and pages


@pytest.mark.django_db
def test_the_command_writes_the_pdf(case, tmp_path):
    out = tmp_path / "nested" / "case.pdf"
    message = StringIO()
    call_command("export_pdf", case.name, str(out), "--pdfa", stdout=message)
    assert out.read_bytes().startswith(b"%PDF-")
    assert "(PDF/A-2b)" in message.getvalue()
    assert "content hash" in message.getvalue()
    with pytest.raises(CommandError, match="no case"):
        call_command("export_pdf", "no such case", str(tmp_path / "x.pdf"))


@pytest.mark.django_db
def test_the_export_page_gives_small_cases_the_pdf(client, case, author, outsider):
    url = f"/cases/{case.pk}/export/"
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(author)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert url.encode() in page.content


@pytest.mark.django_db
def test_the_export_page_prepares_large_cases_in_the_background(
    client, case, author, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_SYNC_MAX_NODES": 3}
    client.force_login(author)
    url = f"/cases/{case.pk}/export/"
    form = client.get(url)
    assert form.status_code == 200 and b"Prepare the PDF" in form.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"pdfa": "1"})
    assert response.status_code == 302
    export = PdfExport.objects.get()
    assert response["Location"] == f"/cases/{case.pk}/export/{export.pk}/"
    status = client.get(response["Location"])
    assert b"Download the PDF" in status.content
    assert f"/api/v1/cases/{case.pk}/exports/{export.pk}/download".encode() in status.content
    assert b'http-equiv="refresh"' not in status.content

    export.status, export.progress, export.stage = "running", 40, "drawing the diagrams"
    export.save()
    running = client.get(response["Location"])
    assert b'http-equiv="refresh"' in running.content and b"40%" in running.content


def test_the_template_ships_beside_the_adapter():
    assert Path(pdf.TEMPLATE).is_file()
    assert 'json("data.json")' in Path(pdf.TEMPLATE).read_text(encoding="utf-8")
    assert "eval(" not in Path(pdf.TEMPLATE).read_text(encoding="utf-8")
