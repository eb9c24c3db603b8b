"""A reviewer's day in Chromium: finding nodes of the demo case by search, the diagram
following the node chosen in the panel, the case page at 800 px, uploading a log on the runs
index (dropped onto the form) and reading a sample's transcript from its run page."""

from __future__ import annotations

import base64
import re

import pytest
from django.contrib.auth.models import Permission

from evidence import projects
from evidence.models import EvaluationRun

from .pages import INSPECT, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def inside(box, frame) -> bool:
    return (
        box["x"] >= frame["x"] - 1
        and box["y"] >= frame["y"] - 1
        and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        and box["y"] + box["height"] <= frame["y"] + frame["height"] + 1
    )


def test_searching_the_demo_for_honeypot_lists_and_highlights_the_al_solutions(
    live_server, demo, open_page, expect
):
    case, user = demo
    solutions = set(
        case.nodes.filter(
            type="solution", identifier__startswith="AL-", statement__icontains="honeypot"
        ).values_list("identifier", flat=True)
    )
    assert solutions, "the demo's alignment argument cites honeypot results"
    page = open_page()
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.fill("#case-search-q", "honeypot")
    page.press("#case-search-q", "Enter")
    page.wait_for_url(re.compile(r"\?q=honeypot"))
    results = page.locator("[data-search-results] a[data-node]")
    listed = set(results.evaluate_all("links => links.map(a => a.dataset.node)"))
    assert solutions <= listed
    expect(page.locator("#search-results h2")).to_contain_text(f"{len(listed)} nodes match")
    for identifier in solutions:
        expect(page.locator(f"#diagram g.node.search-hit[id='node-{identifier}']")).to_have_count(1)
    marked = page.locator("#diagram g.node.search-hit").evaluate_all(
        "groups => groups.map(g => g.id.slice(5))"
    )
    assert set(marked) <= listed  # only what was found is marked
    # The first node found is in view.
    first = page.locator(f"#diagram g.node[id='node-{marked[0]}']").bounding_box()
    assert inside(first, page.locator("#diagram").bounding_box())
    screenshot(page, "case-search-honeypot", full_page=False)

    # A result opens beside the diagram, which follows it.
    results.first.click()
    node = listed_first = results.first.get_attribute("data-node")
    expect(page.locator("#node-panel .node-title")).to_contain_text(listed_first)
    expect(page.locator(f"#diagram g.node.selected[id='node-{node}']")).to_have_count(1)
    assert page.js_errors == []


def test_clicking_a_node_in_the_panel_pans_the_diagram_to_it(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page(width=1440, height=900)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/?node=G0")
    expect(page.locator("#node-panel .node-title")).to_contain_text("G0")
    frame = page.locator("#diagram").bounding_box()
    # A node the panel links to that is out of view.
    far = None
    for link in page.locator("#node-panel a.node-ref[hx-get]").all():
        identifier = link.inner_text().strip()
        group = page.locator(f"#diagram g.node[id='node-{identifier}']")
        if identifier != "G0" and group.count() and not inside(group.bounding_box(), frame):
            far = (link, identifier)
            break
    assert far, "the top goal's panel links to a node out of view"
    link, identifier = far
    link.scroll_into_view_if_needed()
    link.click()
    expect(page.locator("#node-panel .node-title")).to_contain_text(identifier)
    group = page.locator(f"#diagram g.node.selected.focused[id='node-{identifier}']")
    expect(group).to_have_count(1)
    assert inside(group.bounding_box(), page.locator("#diagram").bounding_box())
    assert page.locator("#diagram g.node.focused").count() == 1  # the ring moved
    assert page.locator("#node-panel").evaluate("p => p.scrollTop") == 0
    assert page.js_errors == []


def test_at_800_px_nothing_scrolls_sideways_and_the_panel_shows_after_a_click(
    live_server, demo, open_page, expect
):
    case, user = demo
    page = open_page(width=800, height=900)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    # The skip link is the first Tab stop and leads to the diagram.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "diagram"

    page.locator("[data-node-list] a[data-node]").nth(3).click()
    expect(page.locator("#node-panel .node-title")).to_be_visible()
    panel = page.locator("#node-panel").bounding_box()
    assert panel["y"] >= 0 and panel["y"] < 900 * 0.5, panel  # over the diagram, in view
    assert panel["x"] + panel["width"] <= 800
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    screenshot(page, "case-800-panel", full_page=False)
    assert page.js_errors == []


def test_a_dropped_eval_log_is_ingested_and_its_samples_read(live_server, demo, open_page, expect):
    case, user = demo
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )
    projects.project_member_set(project=case.project, user=user, role="author")
    page = open_page()
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator("table.runs tbody tr")).to_have_count(
        EvaluationRun.objects.filter(project=case.project).count()
    )
    log = INSPECT / "arith-success.eval"
    dropped = page.evaluate_handle(
        """(b64) => {
            const text = atob(b64);
            const bytes = new Uint8Array(text.length);
            for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "arith-success.eval"));
            return transfer;
        }""",
        base64.b64encode(log.read_bytes()).decode(),
    )
    page.dispatch_event("[data-drop-zone]", "drop", {"dataTransfer": dropped})
    expect(page.locator("[data-drop-list]")).to_have_text("1 file: arith-success.eval")
    page.select_option("select[name=project]", case.project.name)
    page.click("button:has-text('Upload')")
    page.wait_for_url(re.compile(r"/runs/\?uploaded=\d+$"))
    run = EvaluationRun.objects.get(log_file__name="arith-success.eval")
    uploaded = page.locator("#uploaded")
    expect(uploaded).to_contain_text(f"Run {run.pk}")
    expect(uploaded.locator("[data-run-status]")).to_have_text("ingested")
    expect(page.locator(".message.success")).to_contain_text("1 file uploaded")
    screenshot(page, "runs-uploaded")

    # From the run page, a sample id opens its transcript.
    uploaded.locator(f"a[href='/runs/{run.pk}/']").click()
    page.locator("table.samples a", has_text="q00001").first.click()
    page.wait_for_url(re.compile(rf"/runs/{run.pk}/samples/q00001/\?epoch=1$"))
    expect(page.locator("h1")).to_contain_text("q00001")
    expect(page.locator("#input")).to_contain_text("Reply with the number only.")
    messages = page.locator("#messages .message-item")
    expect(messages).to_have_count(3)
    roles = messages.locator(".message-role").all_inner_texts()
    assert [r.strip().lower() for r in roles] == ["system", "user", "assistant"]
    scores = page.locator("#scores table.sample-scores")
    expect(scores).to_contain_text("model_graded_fact")
    expect(scores).to_contain_text("GRADE:")  # the grader's explanation
    expect(scores).to_contain_text("closeness")
    screenshot(page, "sample-transcript")
    assert page.js_errors == []
