"""The issue's browser flows, end to end in Chromium, and the laptop-screen and keyboard checks.

- an author edits a node's statement and the case page's diagram shows the new text;
- a reviewer signs off, and the version appears in the versions list with its hash; after a
  later edit and a second sign-off, the diff between the two versions shows the change;
- the demo case: clicking a defeated node shows its flag and its run;
- a new user finds why the demo's top goal is not supported in three clicks from the case list;
- the diagram and its node list work from the keyboard;
- at 1280×800 and 1366×768 no page scrolls sideways.

Each flow keeps screenshots of the pages it passes as test artifacts (see pages.py).
"""

# The browser fixtures come from conftest.py; pytest passes them in as arguments.
from __future__ import annotations

import re

import pytest

from safetycase import services
from safetycase.models import Link, Version

from .pages import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOPS = [(1280, 800), (1366, 768)]


@pytest.fixture
def demo_reviewer(demo, make_user):
    case, _ = demo
    reviewer = make_user("bob")
    services.membership_set(case=case, user=reviewer, role="reviewer")
    return reviewer


def edit_statement(page, expect, live_server, case, identifier: str, statement: str):
    """As an author: open the node in the case page's panel, follow its edit link, save."""
    page.goto(f"{live_server.url}/cases/{case.pk}/?node={identifier}")
    page.locator("#node-panel a", has_text=f"Edit {identifier}").click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/nodes/{identifier}/edit/")
    page.fill("textarea[name=statement]", statement)
    page.click(f"button:has-text('Save {identifier}')")
    expect(page.locator(".message")).to_contain_text(f"{identifier} was saved.")


def sign_off(page, expect, live_server, case, note: str) -> Version:
    """As a reviewer: from the case page to the sign-off page, which lists what is open; a
    verdict, a note and the confirmation sign; the new version's page opens."""
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.click("a:has-text('Sign off…')")
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/versions/sign-off/")
    expect(page.locator("[data-open-items]")).to_contain_text("Defeated nodes")
    page.check("input[name=verdict][value=approve]")
    page.fill("#sign-off-note", note)
    page.check("input[name=confirm]")
    page.click("button:has-text('Sign off')")
    page.wait_for_url(re.compile(rf"/cases/{case.pk}/versions/\d+/$"))
    version = Version.objects.filter(case=case).order_by("-number").first()
    expect(page.locator("h1")).to_have_text(f"Version {version.number}")
    expect(page.locator("dl.facts")).to_contain_text(version.content_hash)
    return version


def test_an_edit_shows_in_the_diagram_and_two_sign_offs_compare(
    live_server, demo, demo_reviewer, open_page, expect
):
    case, author = demo
    reviewer_page = open_page()
    log_in(reviewer_page, live_server, demo_reviewer)
    first = sign_off(reviewer_page, expect, live_server, case, "before the edit")
    assert first.number == 1

    # The author changes SI-G1's statement; the diagram on the case page shows the new text.
    author_page = open_page()
    log_in(author_page, live_server, author)
    old_statement = case.nodes.get(identifier="SI-G1").statement
    edit_statement(
        author_page, expect, live_server, case, "SI-G1", "Edited in a browser by the author"
    )
    screenshot(author_page, "authoring-node-edit")
    author_page.locator(".crumbs a", has_text=case.name).click()
    diagram_node = author_page.locator("#diagram #node-SI-G1")
    expect(diagram_node).to_contain_text("Edited in a browser by the author")
    assert old_statement[:30] not in diagram_node.text_content()
    # The author has no sign-off button, and the page says why.
    expect(author_page.locator("a", has_text="Sign off…")).to_have_count(0)
    expect(author_page.locator("[data-sign-off-rule]")).to_contain_text("Only reviewers of case")

    # The reviewer signs off again; the list shows both versions with their hashes.
    second = sign_off(reviewer_page, expect, live_server, case, "after the edit")
    assert second.number == 2 and second.previous_hash == first.content_hash
    reviewer_page.click("text=all versions")
    rows = reviewer_page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    for version in (first, second):
        row = rows.filter(has=reviewer_page.locator(f"a[href$='/versions/{version.number}/']"))
        expect(row.locator("code.hash")).to_have_text(version.content_hash[:16] + "…")
        expect(row.locator("code.hash")).to_have_attribute("title", version.content_hash)
    screenshot(reviewer_page, "versions")

    # The diff between them shows the changed statement, old text struck through.
    reviewer_page.select_option("select[name=a]", "1")
    reviewer_page.select_option("select[name=b]", "2")
    reviewer_page.click("button:has-text('Compare')")
    reviewer_page.wait_for_url(re.compile(r"/versions/diff/\?a=1&b=2$"))
    changed = reviewer_page.locator("ul.diff-changed li", has_text="SI-G1")
    expect(changed.locator("ins")).to_have_text("Edited in a browser by the author")
    expect(changed.locator("del")).to_have_text(old_statement)
    screenshot(reviewer_page, "diff")
    assert reviewer_page.js_errors == [] and author_page.js_errors == []


def test_clicking_a_defeated_node_shows_its_flag_and_its_run(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page()
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/?argument=HI")
    page.click("[data-zoom=fit]")  # the whole HI argument in view
    node = page.locator("#node-HI-Sn3\\.2")
    expect(node).to_contain_text("✗ defeated")  # the status is written, not only coloured
    node.locator("a").click()

    panel = page.locator("#node-panel")
    expect(panel.locator(".node-title")).to_contain_text("HI-Sn3.2")
    expect(panel.locator(".node-title .pill")).to_have_text("✗ defeated")
    flag = panel.locator(".why li.flag", has_text="criterion_failed")
    expect(flag).to_contain_text("does not meet the criterion")
    run_link = flag.locator("a.run-ref")
    run_id = re.fullmatch(r"run (\d+)", run_link.inner_text()).group(1)
    expect(panel.locator("table.runs")).to_contain_text("3/300")
    screenshot(page, "case-defeated-node")

    run_link.click()
    page.wait_for_url(f"{live_server.url}/runs/{run_id}/")
    expect(page.locator("#run-progress [data-run-status]")).to_have_text("ingested")
    screenshot(page, "run")
    page.go_back()
    page.goto(f"{live_server.url}/cases/{case.pk}/nodes/HI-Sn3.2/")
    expect(page.locator("h1")).to_contain_text("HI-Sn3.2")
    screenshot(page, "node")
    assert page.js_errors == []


def test_why_the_demo_top_goal_is_not_supported_takes_three_clicks(
    live_server, demo, open_page, expect
):
    case, user = demo
    page = open_page()
    log_in(page, live_server, user)  # lands on the case list
    screenshot(page, "case-list")
    clicks = 0

    def click(locator):
        nonlocal clicks
        clicks += 1
        locator.click()

    click(page.locator("a.case-name", has_text=case.name))
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("dl.summary")).to_contain_text("! at risk")

    # The top goal is drawn first at a readable size; its panel says why, down to the root.
    click(page.locator("#diagram #node-G0 a"))
    panel = page.locator("#node-panel")
    expect(panel.locator(".node-title")).to_contain_text("G0")
    expect(panel.locator(".reason")).to_contain_text("G0 is at risk")
    root_causes = panel.locator("ul.root-causes")
    expect(root_causes).to_contain_text("criterion_failed")

    click(root_causes.locator("a.node-ref", has_text="HI-Sn3.2").first)
    expect(panel.locator(".node-title")).to_contain_text("HI-Sn3.2")
    # The failing evidence: the run, its k/n and interval, and the criterion it fails.
    expect(panel.locator(".reason")).to_contain_text("does not meet the criterion")
    expect(panel.locator("table.runs")).to_contain_text("✗ fails")
    expect(panel.locator("table.runs svg.interval-chart")).to_have_count(1)
    assert clicks == 3
    screenshot(page, "why-top-goal-three-clicks", full_page=False)
    assert page.js_errors == []


def test_the_diagram_and_its_node_list_work_from_the_keyboard(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page()
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/?argument=SI")

    # The node list is one Tab stop; the arrow keys walk it in the diagram's reading order.
    items = page.locator("[data-node-list] a[data-node]")
    order = items.evaluate_all("links => links.map(a => a.dataset.node)")
    assert order[0] == "SI-G0" and len(order) == page.locator("#diagram g.node").count()
    expect(page.locator("[data-node-list] a[tabindex='0']")).to_have_count(1)
    page.focus("[data-node-list] a[tabindex='0']")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.node")
    assert focused == order[2]
    # The node under focus is marked in the diagram too.
    expect(page.locator(f"#diagram g.node.focused[id='node-{focused}']")).to_have_count(1)
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.dataset.node") == order[-1]
    page.keyboard.press("Home")
    page.keyboard.press("Enter")  # opens the node beside the diagram, as a click does
    expect(page.locator("#node-panel .node-title")).to_contain_text(order[0])
    assert page.url.endswith(f"?argument=SI&node={order[0]}")

    # The diagram's nodes are focusable links too: one Tab stop, arrows move (down the tree:
    # to the first element supporting SI-G0), Enter opens.
    diagram_stop = page.locator("#diagram g.node a[tabindex='0']")
    expect(diagram_stop).to_have_count(1)
    diagram_stop.focus()
    page.keyboard.press("ArrowDown")
    first_support = (
        Link.objects.filter(case=case, source__identifier="SI-G0", type="supported_by")
        .order_by("target__identifier")
        .values_list("target__identifier", flat=True)[0]
    )
    second = page.evaluate("document.activeElement.closest('g.node').id")
    assert second == f"node-{first_support}"
    page.keyboard.press("Enter")
    expect(page.locator("#node-panel .node-title")).to_contain_text(first_support)
    outline = page.evaluate(
        "getComputedStyle(document.activeElement.querySelector('polygon, ellipse, path'))"
        ".strokeWidth"
    )
    assert float(outline.rstrip("px")) >= 4  # a visible focus mark on the node
    screenshot(page, "case-keyboard", full_page=False)
    assert page.js_errors == []


@pytest.mark.parametrize(("width", "height"), LAPTOPS)
def test_laptop_screens_need_no_horizontal_scrolling(
    live_server, demo, open_page, expect, width, height
):
    case, user = demo
    page = open_page(width=width, height=height)
    log_in(page, live_server, user)
    pages = {
        "case-list": "/",
        "case": f"/cases/{case.pk}/?node=G0",
        "node": f"/cases/{case.pk}/nodes/HI-Sn3.2/",
        "authoring-node-edit": f"/cases/{case.pk}/nodes/SI-G1/edit/",
        "versions": f"/cases/{case.pk}/versions/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} is {scroll_width}px wide at {width}×{height}"
        # Nor does a table scroll sideways inside its box.
        for box in page.locator(".table-scroll").all():
            inner, outer = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
            assert inner <= outer, f"a table on {path} is {inner}px wide in {outer}px"
        screenshot(page, f"{name}-{width}x{height}", full_page=False)
    # On the case page the node panel sits beside the diagram, not below it.
    page.goto(f"{live_server.url}/cases/{case.pk}/?node=G0")
    diagram = page.locator("#diagram").bounding_box()
    panel = page.locator("#node-panel").bounding_box()
    assert panel["x"] >= diagram["x"] + diagram["width"]
    assert panel["x"] + panel["width"] <= width


def test_a_sub_argument_folds_away_and_back(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page()
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/?argument=HI")
    page.click("[data-zoom=fit]")
    expect(page.locator("#node-HI-Sn3\\.2")).to_have_count(1)
    page.locator("#node-HI-G2\\.2 a").click()
    panel = page.locator("#node-panel")
    expect(panel.locator(".node-title")).to_contain_text("HI-G2.2")

    panel.locator(".fold-link a").click()  # a plain link: the page reloads with HI-G2.2 folded
    page.wait_for_url(re.compile(r"fold=HI-G2.2"))
    expect(page.locator("#node-HI-Sn3\\.2")).to_have_count(0)
    expect(page.locator("#node-HI-G2\\.2")).to_contain_text("folded below")
    expect(page.locator("[data-node-list] [data-node='HI-Sn3.2']")).to_have_count(0)
    expect(panel.locator(".node-title")).to_contain_text("HI-G2.2")  # its panel stays open
    screenshot(page, "case-folded")

    page.click("text=Unfold all")
    expect(page.locator("#node-HI-Sn3\\.2")).to_have_count(1)
    assert page.js_errors == []


def test_a_reviewer_attests_an_assumption_with_an_expiry(
    live_server, demo, demo_reviewer, open_page, expect
):
    """From the assumption's panel on the case page: statement, evidence reference and an
    expiry date (pre-filled with the project's 180 days); the attestation is listed with it."""
    from datetime import timedelta

    from django.utils import timezone

    from safetycase.models import Attestation

    case, _ = demo
    assumption = case.nodes.filter(type="assumption").order_by("identifier").first()
    page = open_page()
    log_in(page, live_server, demo_reviewer)
    page.goto(f"{live_server.url}/cases/{case.pk}/?node={assumption.identifier}")
    form = page.locator("#node-panel form.attest-form")
    default = (timezone.now() + timedelta(days=180)).date().isoformat()
    expect(form.locator("input[name=expires_on]")).to_have_value(default)
    day = (timezone.now() + timedelta(days=10)).date().isoformat()
    form.locator("textarea[name=statement]").fill("Elicited with fine-tuning, see ES-2")
    form.locator("input[name=evidence_reference]").fill("report ES-2")
    form.locator("input[name=expires_on]").fill(day)
    form.locator("button", has_text="Attest").click()
    expect(page.locator(".message")).to_contain_text(f"{assumption.identifier} attested.")
    listed = page.locator("[data-attestations]")
    expect(listed).to_contain_text("Elicited with fine-tuning, see ES-2")
    expect(listed).to_contain_text(f"expires soon: {day}")
    attestation = Attestation.objects.get(node=assumption)
    assert attestation.attested_by == demo_reviewer
    assert attestation.evidence_reference == "report ES-2"
    assert attestation.expires_at.date().isoformat() == day
    screenshot(page, "attestation")
