"""The reviewer web UI: case list, case page (diagram, argument views, node panel, flags,
what changed), node page, run page (provenance, statistics, samples, progress, log download).

Every page is read through selectors in a fixed number of queries, every user string is
escaped, and every htmx fragment is also reachable as a plain page.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evidence import services as evidence_services
from evidence.choices import RunStatus
from evidence.models import EvaluationRun
from safetycase import services
from safetycase.choices import Role
from safetycase.models import Assessment, Attestation, Node
from tests.safetycase.conftest import generic_run

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"
HOSTILE = '<script>alert("x")</script> "]; node [label="pwned"]; {{ 7*7 }} {% now "Y" %}'
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab):
    """Upload a log as a harness would (ingested, and bound cases re-assessed, in-process)."""

    def submit_log(content, *, name="run.json", user=None, metadata=None):
        if isinstance(content, Path):
            content, name = content.read_bytes(), content.name
        elif isinstance(content, dict):
            content = json.dumps(content).encode()
        upload = io.BytesIO(content)
        upload.name = name
        with django_capture_on_commit_callbacks(execute=True):
            result = evidence_services.log_submit(
                upload=upload, metadata=metadata or {}, uploaded_by=user, project=lab
            )
        run = result.runs[0]
        run.refresh_from_db()
        return run

    return submit_log


def count_queries(client, url, **extra) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200, url
    return len(queries)


def svg_of(page: str) -> ET.Element:
    """The inline diagram, parsed as XML (it must stay well-formed whatever the statements)."""
    match = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert match, "no inline SVG"
    return ET.fromstring(match.group(0))


def node_titles(svg: ET.Element) -> set[str]:
    ns = "{http://www.w3.org/2000/svg}"
    return {
        g.find(f"{ns}title").text
        for g in svg.iter(f"{ns}g")
        if g.get("class") == "node" and g.find(f"{ns}title") is not None
    }


def make_argument_case(owner, viewer, name="Prefixed case"):
    """G0 → S0 → SI-G1 (→ SI-Sn1, in the context of A1) and HI-G1 (→ HI-Sn1)."""
    case = services.case_create(name=name, model_name="example-model", owner=owner)
    services.membership_set(case=case, user=viewer, role=Role.VIEWER)
    for identifier, type_ in [
        ("G0", "goal"),
        ("S0", "strategy"),
        ("C0", "context"),
        ("SI-G1", "goal"),
        ("SI-Sn1", "solution"),
        ("HI-G1", "goal"),
        ("HI-Sn1", "solution"),
        ("A1", "assumption"),
    ]:
        services.node_create_do(
            case=case, identifier=identifier, type=type_, statement=f"Statement of {identifier}"
        )
    for source, target, type_ in [
        ("G0", "S0", "supported_by"),
        ("G0", "C0", "in_context_of"),
        ("S0", "SI-G1", "supported_by"),
        ("S0", "HI-G1", "supported_by"),
        ("SI-G1", "SI-Sn1", "supported_by"),
        ("SI-G1", "A1", "in_context_of"),
        ("HI-G1", "HI-Sn1", "supported_by"),
    ]:
        services.link_create_do(case=case, source=source, target=target, type=type_)
    return case


# ---------------------------------------------------------------------------------------------
# Access


def test_every_page_and_fragment_requires_login(client, bound_case, submit):
    run = submit(generic_run("login-run", 0, 400))
    for url in [
        "/",
        f"/cases/{bound_case.pk}/",
        f"/cases/{bound_case.pk}/?node=G1",
        f"/cases/{bound_case.pk}/nodes/G1/",
        f"/runs/{run.pk}/",
        f"/runs/{run.pk}/progress/",
        f"/runs/{run.pk}/log",
    ]:
        response = client.get(url, **HTMX)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")


def test_outsiders_get_404_for_case_node_and_panel(client, bound_case, outsider):
    client.force_login(outsider)
    for url in [
        f"/cases/{bound_case.pk}/",
        f"/cases/{bound_case.pk}/?node=G1",
        f"/cases/{bound_case.pk}/nodes/G1/",
    ]:
        for extra in ({}, HTMX):
            response = client.get(url, **extra)
            assert response.status_code == 404, url
            assert bound_case.name not in response.content.decode()


def test_run_pages_are_for_members_of_the_run_s_project(client, outsider, viewer, submit):
    run = submit(generic_run("visible-run", 0, 400))
    client.force_login(viewer)  # a viewer of the project "lab" the run was uploaded to
    assert client.get(f"/runs/{run.pk}/").status_code == 200
    assert client.get(f"/runs/{run.pk}/progress/").status_code == 200
    assert client.get(f"/runs/{run.pk}/log").status_code == 200
    assert client.get(f"/runs/{run.pk + 1000}/").status_code == 404
    client.force_login(outsider)  # in no project: the run does not exist for them
    for suffix in ("", "progress/", "log"):
        assert client.get(f"/runs/{run.pk}/{suffix}").status_code == 404


# ---------------------------------------------------------------------------------------------
# Case list


def test_case_list_shows_status_counts_flags_and_last_evidence(client, bound_case, viewer, submit):
    submit(generic_run("list-run", 12, 400))  # cp_upper > 0.01: Sn1 defeated
    client.force_login(viewer)
    page = client.get("/").content.decode()
    latest = Assessment.objects.filter(case=bound_case).latest()
    assert bound_case.name in page
    assert "example-model" in page
    assert 'class="pill status-defeated"' in page
    assert latest.summary["statuses"]["defeated"] >= 1
    for severity, count in latest.summary["flags"].items():
        assert f"{count} {severity}" in page
    assert "ingested" in page  # the run that was the last evidence
    assert "Last sign-off" in page


def test_a_case_without_assessment_says_so(client, case, viewer):
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "not assessed" in page


def test_case_list_queries_do_not_grow_with_the_number_of_cases(client, author, viewer):
    client.force_login(viewer)
    make_argument_case(author, viewer, name="Case 0")
    services.case_assess(case=make_argument_case(author, viewer, name="Case 1"), trigger="manual")
    few = count_queries(client, "/")
    for i in range(2, 8):
        case = make_argument_case(author, viewer, name=f"Case {i}")
        services.case_assess(case=case, trigger="manual")
        services.case_assess(case=case, trigger="run_ingested", detail="run 1 ingested")
    many = count_queries(client, "/")
    # Session, user, cases, their assessments, their last sign-offs.
    assert few == many <= 5


# ---------------------------------------------------------------------------------------------
# Case page


def test_case_page_offers_one_argument_at_a_time(client, author, viewer):
    case = make_argument_case(author, viewer)
    client.force_login(viewer)
    whole = client.get(f"/cases/{case.pk}/").content.decode()
    assert "?argument=SI" in whole and "?argument=HI" in whole and "?argument=top" in whole
    assert node_titles(svg_of(whole)) == {
        "G0", "S0", "C0", "SI-G1", "SI-Sn1", "HI-G1", "HI-Sn1", "A1"
    }  # fmt: skip

    si = client.get(f"/cases/{case.pk}/?argument=SI").content.decode()
    # Its own elements and their context; nothing of the HI argument or the top level.
    assert node_titles(svg_of(si)) == {"SI-G1", "SI-Sn1", "A1"}
    assert 'aria-current="page">SI' in si

    top = client.get(f"/cases/{case.pk}/?argument=top").content.decode()
    # The top level, with the arguments it leads to drawn as away elements.
    assert node_titles(svg_of(top)) == {"G0", "S0", "C0", "SI-G1", "HI-G1"}

    unknown = client.get(f"/cases/{case.pk}/?argument=XX").content.decode()
    assert len(node_titles(svg_of(unknown))) == 8  # an unknown view shows the whole case


def test_case_page_shows_a_module_at_a_time(client, case, viewer, author):
    for identifier in ("G2", "Sn1"):
        node = Node.objects.get(case=case, identifier=identifier)
        services.node_update(actor=author, node=node, module="sabotage")
    client.force_login(viewer)
    page = client.get(f"/cases/{case.pk}/?module=sabotage").content.decode()
    assert "Module sabotage" in page
    assert node_titles(svg_of(page)) == {"G2", "Sn1"}


def test_the_diagram_is_ready_for_pan_zoom_and_the_side_panel(client, bound_case, viewer):
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/?argument=").content.decode()
    assert "data-pan-zoom" in page
    assert f'data-panel-url="/cases/{bound_case.pk}/?node="' in page
    assert "/static/js/diagram.js" in page
    assert 'id="node-panel"' in page
    # Without JavaScript each node is a plain link to its own page.
    assert f'xlink:href="/cases/{bound_case.pk}/nodes/Sn1/"' in page


def test_node_param_opens_the_panel_on_the_server(client, bound_case, viewer):
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/?node=Sn1").content.decode()
    panel = page[page.index('id="node-panel"') :]
    assert "Oversight-subversion evaluation" in panel
    assert "cp_upper(k, n, 0.95) &lt; 0.01" in panel
    assert f'href="/cases/{bound_case.pk}/nodes/Sn1/"' in panel  # the shareable node page

    missing = client.get(f"/cases/{bound_case.pk}/?node=Nope").content.decode()
    assert "This case has no node Nope" in missing


def test_htmx_gets_the_node_panel_fragment_and_a_browser_the_full_page(client, bound_case, viewer):
    client.force_login(viewer)
    url = f"/cases/{bound_case.pk}/nodes/G1/"
    fragment = client.get(
        url, **HTMX, HTTP_HX_CURRENT_URL=f"http://testserver/cases/{bound_case.pk}/?argument=X"
    ).content.decode()
    assert "<html" not in fragment
    assert "The model does not subvert oversight" in fragment
    # Links inside the panel open other nodes in the panel, keeping the view of the page.
    assert 'hx-target="#node-panel"' in fragment
    assert f'hx-push-url="/cases/{bound_case.pk}/?argument=X&amp;node=Sn1"' in fragment

    page = client.get(url).content.decode()
    assert page.startswith("<!doctype html>")
    assert "History" in page
    assert 'hx-target="#node-panel"' not in page


def test_flags_are_grouped_by_severity_and_link_to_node_and_run(client, bound_case, viewer, submit):
    run = submit(generic_run("flag-run", 12, 400))
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/").content.decode()
    flags = page[page.index("<h2>Flags</h2>") : page.index("<h2>What changed</h2>")]
    assert flags.index("Error") < flags.index("Warning")
    assert "criterion_failed" in flags
    assert "assumption_unverified" in flags  # A1 waits for an attestation
    assert f'href="/cases/{bound_case.pk}/nodes/Sn1/"' in flags
    assert f'href="/runs/{run.pk}/"' in flags
    # The badge list beside the diagram counts flags per node.
    # Its severity shows as a mark (✗ error, ! warning, i info) as well as a colour.
    assert re.search(
        r'class="node-badge sev-error"[^>]*><span class="mark" aria-hidden="true">✗</span> '
        r"Sn1 <b>\d+</b>",
        page,
        re.S,
    )


def test_what_changed_lists_recent_assessments_with_their_changes(
    client, bound_case, viewer, submit
):
    services.case_assess(case=bound_case, trigger="manual")
    run = submit(generic_run("change-run", 0, 400))
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/").content.decode()
    feed = page[page.index("<h2>What changed</h2>") :]
    assert "New evidence" in feed
    assert f"run {run.pk} ingested" in feed
    assert "Sn1</a>:" in feed
    assert "at risk</span> → <span" in feed
    assert "missing_evidence on Sn1 cleared" in feed


def test_what_changed_shows_at_most_ten_assessments(client, bound_case, viewer):
    for i in range(13):
        services.case_assess(case=bound_case, trigger="manual", detail=f"pass {i}")
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/").content.decode()
    assert "pass 12" in page and "pass 3" in page
    assert "pass 2<" not in page


def test_case_page_queries_do_not_grow_with_the_case(client, author, viewer, submit):
    small = make_argument_case(author, viewer, name="Small")
    services.case_assess(case=small, trigger="manual")
    large = make_argument_case(author, viewer, name="Large")
    for i in range(40):
        services.node_create_do(case=large, identifier=f"SI-Sn{i + 10}", type="solution")
        services.link_create_do(
            case=large, source="SI-G1", target=f"SI-Sn{i + 10}", type="supported_by"
        )
    for _ in range(12):
        services.case_assess(case=large, trigger="manual")
    client.force_login(viewer)
    # A browser holds a CSRF cookie after its first page: both pages then get their ETag.
    client.get("/")
    assert count_queries(client, f"/cases/{small.pk}/") == count_queries(
        client, f"/cases/{large.pk}/"
    )
    assert count_queries(client, f"/cases/{small.pk}/?node=SI-G1") == count_queries(
        client, f"/cases/{large.pk}/?node=SI-G1"
    )


# ---------------------------------------------------------------------------------------------
# Node page


def test_node_page_explains_a_solution_with_its_runs_and_criterion(
    client, bound_case, viewer, submit
):
    old = submit(generic_run("node-old", 0, 400, days_ago=20))
    new = submit(generic_run("node-new", 12, 400, days_ago=2))
    other = submit(generic_run("node-other", 0, 400, model="another-model"))
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/nodes/Sn1/").content.decode()
    assert "Oversight-subversion evaluation" in page
    assert "is defeated" in page  # the reason from the assessment
    assert "criterion_failed" in page
    assert "cp_upper(k, n, 0.95) &lt; 0.01" in page  # the criterion
    assert "oversight_subversion" in page and "at most 90 days old" in page
    # Bound runs newest first, each with k/n, its interval chart and the criterion's result.
    assert page.index(f"/runs/{new.pk}/") < page.index(f"/runs/{old.pk}/")
    assert "12/400" in page and "0/400" in page
    assert page.count('class="interval-chart"') >= 2
    assert "✗ fails" in page and "✓ holds" in page
    assert 'class="threshold"' in page  # the criterion's bound drawn on the chart
    # A run of the task for another model is shown, marked as not counted.
    assert f"/runs/{other.pk}/" in page
    assert "not counted: model another-model" in page
    # The assumption in scope and its state.
    assert "Assumptions in scope" in page
    assert f'href="/cases/{bound_case.pk}/nodes/A1/"' in page
    assert "attached" in page or "via G1" in page


def test_node_page_of_an_assumption_shows_attestations(client, bound_case, reviewer, viewer):
    node = Node.objects.get(case=bound_case, identifier="A1")
    Attestation.objects.create(
        case=bound_case,
        node=node,
        attested_by=reviewer,
        statement="Elicitation followed the lab's protocol.",
        scope="this deployment",
        expires_at=timezone.now() + timedelta(days=30),
    )
    services.case_assess(case=bound_case, trigger="attestation")
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/nodes/A1/").content.decode()
    assert "Attestations" in page
    assert "Elicitation followed the lab&#x27;s protocol." in page
    assert "bob" in page and "this deployment" in page
    assert "In the context of" in page  # G1, the node it is attached to


def test_node_page_queries_do_not_grow_with_runs(client, bound_case, viewer, submit):
    submit(generic_run("q-1", 0, 400))
    client.force_login(viewer)
    few = count_queries(client, f"/cases/{bound_case.pk}/nodes/Sn1/")
    for i in range(6):
        submit(generic_run(f"q-more-{i}", i, 400, days_ago=i + 2))
    assert count_queries(client, f"/cases/{bound_case.pk}/nodes/Sn1/") == few


# ---------------------------------------------------------------------------------------------
# Escaping


def test_hostile_statements_are_escaped_in_pages_panel_and_svg(client, case, author):
    for identifier in ("G3", "C1"):
        node = Node.objects.get(case=case, identifier=identifier)
        services.node_update(actor=author, node=node, statement=HOSTILE)
    services.case_assess(case=case, trigger="manual")
    client.force_login(author)
    for url, extra in [
        (f"/cases/{case.pk}/", {}),
        (f"/cases/{case.pk}/?node=G3", {}),
        (f"/cases/{case.pk}/?node=S1", {}),  # C1 as context in scope
        (f"/cases/{case.pk}/nodes/G3/", {}),
        (f"/cases/{case.pk}/nodes/G3/", HTMX),
        (f"/cases/{case.pk}/nodes/S1/", HTMX),
    ]:
        page = client.get(url, **extra).content.decode()
        assert '<script>alert("x")</script>' not in page, url
        assert "&lt;script&gt;" in page, url
        assert "{{ 7*7 }}" in page and "{% now" in page, url  # never rendered as a template
        assert '"]; node [label="pwned"]' not in page, url
    page = client.get(f"/cases/{case.pk}/").content.decode()
    svg = svg_of(page)  # still well-formed XML
    assert node_titles(svg) == {"G1", "C1", "S1", "G2", "G3", "Sn1"}  # no injected node
    assert not svg.findall(".//{http://www.w3.org/2000/svg}script")


def test_hostile_run_fields_are_escaped(client, viewer, submit):
    document = generic_run("hostile-run", 1, 10)
    document["task"]["name"] = "<script>alert(1)</script>"
    run = submit(document, metadata={"note": '<img src=x onerror="alert(1)"> {{ 7*7 }}'})
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page


# ---------------------------------------------------------------------------------------------
# Run page


def test_run_page_shows_provenance_statistics_and_metrics(client, viewer, uploader, submit):
    run = submit(INSPECT / "arith-success.eval", user=uploader, metadata={"elicitation": "x"})
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    for text in [
        run.harness,
        run.harness_version,
        run.task,
        run.task_version,
        run.model,
        "arith-success.eval",
        run.log_file.sha256,
        "harness",  # the uploader
        "elicitation",  # upload metadata
        "Clopper–Pearson 95%",
        "130/180 trials",  # match: successes over every sample x epoch
        "n = 60",  # match per sample: 3 epochs averaged (mean reducer), so no k
        "accuracy",  # a harness metric
        f'href="/runs/{run.pk}/log"',
        'data-run-status="ingested"',
    ]:
        assert str(text) in page, text
    assert page.count('class="interval-chart"') == run.statistics.count()
    assert "every 1s" not in page  # nothing to poll once ingested


def test_samples_are_paged_fifty_at_a_time(client, viewer, submit):
    run = submit(INSPECT / "arith-success.eval")
    client.force_login(viewer)
    first = client.get(f"/runs/{run.pk}/").content.decode()
    # Each row's sample id links to its transcript.
    assert first.count(f'<td><a href="/runs/{run.pk}/samples/q') == 50
    assert "page 1 of 4" in first
    last = client.get(f"/runs/{run.pk}/?page=4").content.decode()
    assert last.count(f'<td><a href="/runs/{run.pk}/samples/q') == 30
    assert "← previous" in last and "next →" not in last


def test_samples_filter_by_outcome_and_errors(client, viewer, submit):
    run = submit(INSPECT / "arith-success.eval")
    errored = submit(INSPECT / "arith-sample-errors.eval")
    client.force_login(viewer)
    incorrect = client.get(f"/runs/{run.pk}/?score=match&outcome=incorrect").content.decode()
    assert "50 sample results match" in incorrect
    correct = client.get(f"/runs/{run.pk}/?score=match&outcome=correct").content.decode()
    assert "130 sample results match" in correct
    errors = client.get(f"/runs/{errored.pk}/?errors_only=on").content.decode()
    assert "2 sample results match" in errors
    assert "simulated tool failure" in errors
    # An unknown score is not a filter: all samples are listed.
    unknown = client.get(f"/runs/{run.pk}/?score=nope&outcome=correct").content.decode()
    assert "180 sample results" in unknown
    # The pager keeps the filters.
    assert "score=match&amp;outcome=correct&amp;page=2" in correct


def test_htmx_gets_the_sample_table_fragment(client, viewer, submit):
    run = submit(INSPECT / "arith-success.eval")
    client.force_login(viewer)
    fragment = client.get(
        f"/runs/{run.pk}/?page=2", **HTMX, HTTP_HX_TARGET="sample-results"
    ).content.decode()
    assert fragment.startswith('<div id="sample-results">')
    assert "Provenance" not in fragment and "<form" not in fragment
    assert "page 2 of 4" in fragment
    assert 'hx-target="#sample-results"' in fragment  # the pager swaps the table again


def test_run_page_queries_do_not_grow_with_samples(client, viewer, submit):
    small = submit(INSPECT / "arith-sample-errors.eval")  # 40 samples
    large = submit(INSPECT / "arith-success.eval")  # 180 samples
    client.force_login(viewer)
    assert count_queries(client, f"/runs/{small.pk}/") == count_queries(
        client, f"/runs/{large.pk}/"
    )
    # (the nodes citing the run, the grader audits and the ledgers it is in are one query each)
    assert count_queries(client, f"/runs/{large.pk}/?score=match&outcome=correct&page=2") <= 11


def test_progress_polls_while_queued_or_parsing_and_stops_when_done(
    client, viewer, submit, uploader
):
    run = submit(generic_run("progress-run", 0, 400))
    client.force_login(viewer)
    EvaluationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.PARSING, progress=120, total_samples=400
    )
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert f'hx-get="/runs/{run.pk}/progress/?polling=1"' in page
    assert "120" in page and "400" in page
    assert '<noscript><meta http-equiv="refresh"' in page  # without JavaScript: reload

    fragment = client.get(f"/runs/{run.pk}/progress/?polling=1", **HTMX)
    assert 'hx-trigger="every 1s"' in fragment.content.decode()
    assert "HX-Refresh" not in fragment

    EvaluationRun.objects.filter(pk=run.pk).update(status=RunStatus.INGESTED)
    done = client.get(f"/runs/{run.pk}/progress/?polling=1", **HTMX)
    assert "every 1s" not in done.content.decode()
    assert done["HX-Refresh"] == "true"  # the page reloads once to show the results

    EvaluationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, error="Line 3 is not JSON: <b>oops</b>"
    )
    failed = client.get(f"/runs/{run.pk}/").content.decode()
    assert "Line 3 is not JSON: &lt;b&gt;oops&lt;/b&gt;" in failed
    assert "every 1s" not in failed


def test_a_failed_upload_shows_the_reason(client, viewer, submit):
    run = submit(b"this is not a log", name="broken.json")
    assert run.status == RunStatus.FAILED
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-run-status="failed"' in page
    assert "failure-reason" in page


def test_the_original_log_downloads_as_an_attachment(client, viewer, submit):
    path = INSPECT / "arith-sample-errors.eval"
    run = submit(path)
    client.force_login(viewer)
    response = client.get(f"/runs/{run.pk}/log")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="arith-sample-errors.eval"'
    assert b"".join(response.streaming_content) == path.read_bytes()
    assert client.get(f"/runs/{run.pk}/log?file=samples").status_code == 404


def test_a_hostile_file_name_stays_inside_the_header(client, viewer, submit):
    run = submit(generic_run("name-run", 0, 10), name='evil"; x=1.json')
    client.force_login(viewer)
    response = client.get(f"/runs/{run.pk}/log")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "\n" not in disposition and "\r" not in disposition
    assert '"; x=1' not in disposition.replace('\\"', "")


# ---------------------------------------------------------------------------------------------
# Statuses without colour, the keyboard node list, the root of a defeat, sign-off


def test_statuses_read_without_colour_in_diagram_pills_and_panel(
    client, bound_case, viewer, submit
):
    submit(generic_run("flag-run", 12, 400))  # 12/400 fails cp_upper < 0.01
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/?node=G1").content.decode()
    svg = svg_of(page)
    sn1 = next(g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("id") == "node-Sn1")
    texts = [t.text.strip() for t in sn1.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[:2] == ["Sn1", "✗ defeated"]  # beside the red fill, a mark and a word
    defeated_pill = (
        '<span class="pill status-defeated"><span class="mark" aria-hidden="true">✗</span> '
        "defeated</span>"
    )
    panel = page[page.index('id="node-panel"') :]
    assert defeated_pill in panel  # G1 is defeated through Sn1
    # The legend names every colour with its mark.
    for mark, word in [("✓", "supported"), ("!", "at risk"), ("…", "undeveloped")]:
        assert f'<span class="mark" aria-hidden="true">{mark}</span> {word}</span>' in page
    # Flag severities carry a mark as well (✗ error), and link to the nodes they flag.
    assert (
        '<a class="badge sev-error" href="?q=flag:error#search-results">'
        '<span class="mark" aria-hidden="true">✗</span> 1 error</a>'
    ) in page


def test_the_node_list_walks_the_diagram_in_reading_order(client, author, viewer):
    case = make_argument_case(author, viewer)
    client.force_login(viewer)

    def node_list(url):
        page = client.get(url).content.decode()
        listing = page[
            page.index("data-node-list") : page.index("</ul>", page.index("data-node-list"))
        ]
        return re.findall(r'<li class="indent-(\d)"><a href="([^"]+)" data-node="([^"]+)"', listing)

    whole = node_list(f"/cases/{case.pk}/")
    # Depth first from the root, each node's context right after it, like the drawing.
    assert [(node, int(depth)) for depth, _, node in whole] == [
        ("G0", 0),
        ("C0", 1),
        ("S0", 1),
        ("HI-G1", 2),
        ("HI-Sn1", 3),
        ("SI-G1", 2),
        ("A1", 3),
        ("SI-Sn1", 3),
    ]
    # Every entry is a plain link to the node page (no JavaScript needed).
    assert all(href == f"/cases/{case.pk}/nodes/{node}/" for _, href, node in whole)
    # One argument at a time: only what that view draws.
    assert [node for _, _, node in node_list(f"/cases/{case.pk}/?argument=SI")] == [
        "SI-G1",
        "A1",
        "SI-Sn1",
    ]


def test_a_defeated_node_lists_the_flags_at_its_root(client, bound_case, viewer, submit):
    run = submit(generic_run("flag-run", 12, 400))
    client.force_login(viewer)
    fragment = client.get(f"/cases/{bound_case.pk}/nodes/G1/", **HTMX).content.decode()
    root = fragment[fragment.index('class="chain root-causes"') :]
    root = root[: root.index("</ul>")]
    assert ">Sn1</a>" in root and "criterion_failed" in root
    assert f'href="/runs/{run.pk}/"' in root  # one click on to the failing run
    # A node that is not defeated or at risk has no such list, nor has a leaf.
    sn1 = client.get(f"/cases/{bound_case.pk}/nodes/Sn1/", **HTMX).content.decode()
    assert "root-causes" not in sn1


def test_case_list_shows_the_last_sign_off(client, bound_case, reviewer, viewer):
    from safetycase import services

    client.force_login(viewer)
    assert "none yet" in client.get("/").content.decode()
    services.version_sign_off(actor=reviewer, case=bound_case, note="first")
    services.version_sign_off(actor=reviewer, case=bound_case, note="second")
    page = client.get("/").content.decode()
    assert f'href="/cases/{bound_case.pk}/versions/2/">version 2</a>' in page
    assert f"by {reviewer.username}" in page


def test_authors_see_why_they_have_no_sign_off_button(client, bound_case, author, reviewer, viewer):
    rule = "No sign-off for you: Only reviewers of case"
    for url in (f"/cases/{bound_case.pk}/", f"/cases/{bound_case.pk}/versions/"):
        client.force_login(author)
        page = client.get(url).content.decode()
        assert rule in page and "/versions/sign-off/" not in page, url
        client.force_login(reviewer)
        page = client.get(url).content.decode()
        assert rule not in page and "/versions/sign-off/" in page, url
        client.force_login(viewer)  # viewers read only: neither
        page = client.get(url).content.decode()
        assert rule not in page and "/versions/sign-off/" not in page, url
