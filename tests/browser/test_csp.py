"""The pages under the Content-Security-Policy in a real browser: Chromium reports every
script, style or image the policy blocks (a `securitypolicyviolation` event and a console
error); a page that needed inline code would lose it and report it here."""

from __future__ import annotations

import io

import pytest

from evidence import services as evidence_services

from .pages import INSPECT, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:`
    + `${event.lineNumber}`
  );
});
"""


@pytest.fixture
def watched_page(open_page):
    """A page whose CSP violations (from any document it loads) end up in page.violations."""
    page = open_page()
    violations: list[str] = []
    page.context.expose_binding("reportCspViolation", lambda source, text: violations.append(text))
    page.context.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.violations = violations
    return page


def test_the_case_page_node_panel_and_run_page_work_under_the_policy(
    live_server,
    demo,
    watched_page,
    expect,
):
    case, user = demo
    page = watched_page
    log_in(page, live_server, user)
    response = page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # The diagram script ran (its toolbar is shown) and htmx is loaded.
    expect(page.locator("[data-diagram-toolbar]")).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"

    # A node click swaps the panel in through htmx, without leaving the page.
    page.evaluate("window.sameDocument = true")
    page.click("#node-G0 a")
    expect(page.locator("#node-panel .node-title")).to_contain_text("G0")
    assert page.evaluate("window.sameDocument") is True

    # The panel shows a run's interval chart (an inline SVG) and links to the run page.
    page.locator(".flags-panel a.node-ref", has_text="HI-Sn3.2").first.click()
    expect(page.locator("#node-panel table.runs svg.interval-chart")).to_have_count(1)
    # The ledger chart fills the panel's width (an SVG scaled by the stylesheet alone).
    ledger = page.locator("#node-panel svg.ledger-chart")
    expect(ledger).to_have_count(1)
    panel_width = page.locator("#node-panel").bounding_box()["width"]
    assert ledger.bounding_box()["width"] >= min(300, panel_width * 0.8)
    log = INSPECT / "arith-sample-errors.eval"
    upload = io.BytesIO(log.read_bytes())
    upload.name = log.name
    run = evidence_services.log_submit(upload=upload, project=case.project).runs[0]
    evidence_services.run_ingest(run_id=run.pk)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("table.samples tbody tr").first).to_be_visible()
    page.select_option("select[name=outcome]", "incorrect")  # the htmx filter
    expect(page.locator("#sample-results")).to_contain_text("match")

    page.goto(f"{live_server.url}/cases/{case.pk}/nodes/G0/edit/")
    expect(page.locator("form textarea").first).to_be_visible()
    assert page.violations == []
    assert page.js_errors == []


def test_the_api_docs_work_under_the_policy(live_server, demo, watched_page, expect):
    _, user = demo
    page = watched_page
    log_in(page, live_server, user)
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI started (its start-up script is a file) and loaded the schema.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Safety-case tracker API")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/v1/cases/").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert page.violations == []
    assert page.js_errors == []


def test_a_blocked_inline_script_is_reported(live_server, demo, watched_page):
    """The watch itself works: an inline script added to a page is refused and reported."""
    _, user = demo
    page = watched_page
    log_in(page, live_server, user)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") is None
    assert any("script-src" in violation for violation in page.violations), page.violations
