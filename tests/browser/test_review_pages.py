"""The reviewer pages in a real browser: Playwright for Python driving Debian's Chromium.

A reviewer logs in, opens the demo case, clicks nodes of the diagram and reads them in the side
panel without leaving the page, pans and zooms, switches to one argument at a time, and follows
a run that a harness posts through the API while the page is open until it is ingested. The same
flows with JavaScript disabled still reach every node page through plain links.

The browser, pages and demo fixtures are in conftest.py; screenshots are kept as test
artifacts (pages.py).
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from evidence import projects
from evidence import services as evidence_services
from evidence.models import EvaluationRun

from .pages import INSPECT, log_in, screenshot, view_box

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_reads_nodes_beside_the_diagram(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page()
    log_in(page, live_server, user)
    page.click(f"text={case.name}")
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    screenshot(page, "case")

    # Clicking a node of the diagram loads its panel through htmx: no navigation.
    page.evaluate("window.sameDocument = true")
    page.click("#node-G0 a")
    panel = page.locator("#node-panel")
    expect(panel.locator(".node-title")).to_contain_text("G0")
    expect(panel).to_contain_text("Why")
    assert page.evaluate("window.sameDocument") is True
    assert page.url == f"{live_server.url}/cases/{case.pk}/?node=G0"  # shareable
    expect(page.locator("#node-G0")).to_have_class(re.compile(r"\bselected\b"))

    # One argument at a time.
    page.click("nav.tabs >> text=SI")
    page.wait_for_url(re.compile(r"\?argument=SI$"))
    assert 20 < page.locator("#diagram g.node").count() < 60
    assert page.locator("#node-HI-G0").count() == 0
    page.evaluate("window.sameDocument = true")
    page.click("#node-SI-G0 a")
    expect(panel.locator(".node-title")).to_contain_text("SI-G0")
    assert page.url.endswith(f"/cases/{case.pk}/?argument=SI&node=SI-G0")
    # Links inside the panel open other nodes in the panel too.
    panel.locator("a.node-ref", has_text="SI-S1").first.click()
    expect(panel.locator(".node-title")).to_contain_text("SI-S1")
    assert page.url.endswith("?argument=SI&node=SI-S1")
    assert page.evaluate("window.sameDocument") is True
    screenshot(page, "case-si-panel")

    # The flags list opens a flagged solution; its evidence shows the run and its interval.
    page.locator(".flags-panel a.node-ref", has_text="HI-Sn3.2").first.click()
    expect(panel.locator(".node-title")).to_contain_text("HI-Sn3.2")
    expect(panel.locator("table.runs svg.interval-chart")).to_have_count(1)
    expect(panel).to_contain_text("✗ fails")

    # The address is the state: reloading renders the same panel on the server.
    page.reload()
    expect(panel.locator(".node-title")).to_contain_text("HI-Sn3.2")
    panel.locator("a", has_text="Open the node page").click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/nodes/HI-Sn3.2/")
    expect(page.locator("h1")).to_contain_text("HI-Sn3.2")
    assert page.js_errors == []


def test_the_diagram_pans_and_zooms(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page()
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/?argument=HC")
    expect(page.locator("[data-diagram-toolbar]")).to_be_visible()
    first = view_box(page)

    box = page.locator("#diagram").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)  # zoom in around the pointer
    zoomed = view_box(page)
    assert zoomed[2] < first[2] and zoomed[3] < first[3]

    # Dragging moves the view and does not open the node under the pointer.
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 150, y - 80, steps=5)
    page.mouse.up()
    moved = view_box(page)
    assert moved[0] > zoomed[0] and moved[1] > zoomed[1]
    assert moved[2:] == zoomed[2:]
    expect(page.locator("#node-panel .placeholder")).to_be_visible()

    page.click("[data-zoom=reset]")
    assert view_box(page) == pytest.approx(first)
    page.click("[data-zoom=fit]")
    fitted = view_box(page)
    assert fitted[2] >= first[2]
    page.click("[data-zoom=in]")
    assert view_box(page)[2] < fitted[2]
    assert page.js_errors == []


def test_a_run_posted_meanwhile_is_followed_until_ingested(
    live_server, make_user, uploader, lab, open_page, expect, monkeypatch, eager_celery
):
    # The worker is played by the test: the upload is stored and queued, nothing more.
    queued: list[int] = []
    monkeypatch.setattr(evidence_services, "_enqueue_ingest", queued.append)
    reviewer = make_user("rita")
    projects.project_member_set(project=lab, user=reviewer, role="reviewer")
    page = open_page()
    log_in(page, live_server, reviewer)

    out = io.StringIO()
    call_command("create_token", uploader.username, "--ingest", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]  # the key is the last line
    harness = open_page().context.request  # its own context: no session cookie
    log = INSPECT / "arith-success.eval"
    response = harness.post(
        f"{live_server.url}/api/v1/runs/",
        headers={"Authorization": f"Token {token}"},
        multipart={
            "file": {"name": log.name, "mimeType": "application/zip", "buffer": log.read_bytes()}
        },
    )
    assert response.status == 202, response.text()
    run_id = response.json()["id"]
    assert queued == [run_id]

    page.goto(f"{live_server.url}/runs/{run_id}/")
    status = page.locator("#run-progress [data-run-status]")
    expect(status).to_have_text("queued")

    EvaluationRun.objects.filter(pk=run_id).update(status="parsing", progress=60, total_samples=180)
    expect(status).to_have_text("parsing")
    expect(page.locator("#run-progress")).to_contain_text("60 samples read of 180")
    screenshot(page, "run-parsing")

    evidence_services.run_ingest(run_id=run_id)
    expect(status).to_have_text("ingested")
    # Once ingested the page shows the results: statistics and the first 50 samples.
    expect(page.locator("table.samples tbody tr")).to_have_count(50)
    expect(page.locator("table.stats")).to_contain_text("130/180")
    expect(page.locator("#run-progress")).not_to_have_attribute("hx-trigger", "every 1s")
    screenshot(page, "run-ingested")

    # The sample filter and pager swap the table in place.
    page.evaluate("window.sameDocument = true")
    page.select_option("select[name=score]", "match")
    expect(page.locator("#sample-results")).to_contain_text("180 sample results match")
    page.select_option("select[name=outcome]", "incorrect")
    expect(page.locator("#sample-results")).to_contain_text("50 sample results match")
    assert page.locator(".pager").count() == 0  # 50 results: one page
    assert page.evaluate("window.sameDocument") is True
    assert "score=match" in page.url
    assert page.js_errors == []


def test_without_javascript_every_node_is_a_link_to_its_page(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page(javascript=False)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("[data-diagram-toolbar]")).to_be_hidden()

    page.click("#node-G0 a")
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/nodes/G0/")
    expect(page.locator("h1")).to_contain_text("G0")

    # The node list under the diagram: every entry a plain link, each its own Tab stop.
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    entries = page.locator("[data-node-list] a[data-node]")
    assert entries.count() == page.locator("#diagram g.node").count()
    expect(page.locator("[data-node-list] a[tabindex='-1']")).to_have_count(0)
    page.locator("[data-node-list] a[data-node='S0']").click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/nodes/S0/")

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.click("nav.tabs >> text=SI")
    page.wait_for_url(re.compile(r"\?argument=SI$"))
    page.click("#node-SI-Sn2 a")
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/nodes/SI-Sn2/")
    expect(page.locator("h1")).to_contain_text("SI-Sn2")
    expect(page.locator(".evidence")).to_contain_text("instrumental_alignment_faking")
    screenshot(page, "node-no-js")

    # Flags link to the node page and to the run page.
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.locator(".flags-panel a.node-ref", has_text="HI-Sn3.2").first.click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/nodes/HI-Sn3.2/")
    page.locator("table.runs a", has_text="run ").first.click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    expect(page.locator("#run-progress [data-run-status]")).to_have_text("ingested")


def test_without_javascript_a_parsing_run_page_reloads_until_done(
    live_server, make_user, lab, open_page, expect, monkeypatch, eager_celery
):
    monkeypatch.setattr(evidence_services, "_enqueue_ingest", lambda run_id: None)
    reviewer = make_user("rita")
    projects.project_member_set(project=lab, user=reviewer, role="reviewer")
    log = INSPECT / "arith-sample-errors.eval"
    upload = io.BytesIO(log.read_bytes())
    upload.name = log.name
    run = evidence_services.log_submit(upload=upload, project=lab).runs[0]
    page = open_page(javascript=False)
    log_in(page, live_server, reviewer)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("[data-run-status]")).to_have_text("queued")
    evidence_services.run_ingest(run_id=run.pk)
    expect(page.locator("[data-run-status]")).to_have_text("ingested")  # <noscript> refresh
    expect(page.locator("table.samples tbody tr")).to_have_count(40)
