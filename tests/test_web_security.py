"""Web security settings: Content-Security-Policy, CSRF on every form, login rate limiting and
upload limits.

The page tests walk the URL configuration rather than a hand-kept list, so a new UI page is
checked as soon as it is routed (a route whose arguments this file cannot fill fails the test).
"""

from __future__ import annotations

import io
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from evidence.models import EvaluationRun, LogFile
from safetycase import services
from safetycase.choices import Role
from safetycase.core.library import default_library
from safetycase.models import PdfExport, SafetyCase

pytestmark = pytest.mark.django_db

EXPECTED_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def parse_policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


class PageScan(HTMLParser):
    """What a strict policy would block in a page, and its POST forms' CSRF fields."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inline_scripts: list[str] = []
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.handler_attributes: list[str] = []
        self.javascript_urls: list[str] = []
        self.post_forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.handler_attributes.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action", "xlink:href") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.javascript_urls.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and "src" not in values:
            # A JSON data block is not executed, so CSP does not apply to it; anything else is.
            if values.get("type") not in ("application/json", "application/ld+json"):
                self.inline_scripts.append(self.getpos())
        if tag == "style":
            self.style_elements += 1
        if tag == "form":
            self._form = {"method": (values.get("method") or "get").lower(), "csrf": False}
            self._form["action"] = values.get("action")
            if self._form["method"] == "post":
                self.post_forms.append(self._form)
        if tag == "input" and self._form is not None:
            if values.get("name") == "csrfmiddlewaretoken" and values.get("value"):
                self._form["csrf"] = True

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def scan(html: str) -> PageScan:
    page = PageScan()
    page.feed(html)
    page.close()
    return page


def test_the_page_scan_finds_what_the_policy_blocks():
    page = scan(
        '<script>x()</script><script src="/s.js"></script><script type="application/json">{}'
        '</script><style>p{}</style><p style="color:red" onclick="x()">'
        '<a href="javascript:x()">a</a><svg><g onload="x()"></g></svg>'
        '<form method="post"><input name="csrfmiddlewaretoken" value="t"></form>'
        '<form method="POST"></form><form method="get"></form>'
    )
    assert len(page.inline_scripts) == 1
    assert page.style_elements == 1 and len(page.style_attributes) == 1
    assert len(page.handler_attributes) == 2 and len(page.javascript_urls) == 1
    assert [form["csrf"] for form in page.post_forms] == [True, False]


def ui_routes():
    """(route name, path converters) of every page outside the API, admin and health check."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern

    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/", "healthz")):
            continue
        yield pattern.name, set(pattern.pattern.converters)


@pytest.fixture
def demo_site(author, reviewer, settings, eager_celery, django_capture_on_commit_callbacks):
    """The demo case (nodes, runs, bindings, flags) with every kind of object a page shows:
    an open challenge, two signed-off versions and a finished PDF export."""
    # Above this size the export page is an HTML page with its queue, not a PDF download.
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_SYNC_MAX_NODES": 0}
    with django_capture_on_commit_callbacks(execute=True):  # ingest the demo's runs
        call_command("load_demo", owner=author.username, stdout=io.StringIO())
    case = SafetyCase.objects.get(memberships__user=author)
    # An Inspect log beside them: its run page lists samples, each with a transcript page.
    from evidence import services as evidence_services

    inspect_log = Path(__file__).resolve().parent / "fixtures" / "inspect" / "arith-success.eval"
    with open(inspect_log, "rb") as upload, django_capture_on_commit_callbacks(execute=True):
        inspect_run = evidence_services.log_submit(upload=upload, project=case.project).runs[0]
    services.membership_set(case=case, user=reviewer, role=Role.REVIEWER)
    from evidence import projects

    projects.project_member_set(project=case.project, user=reviewer, role=Role.REVIEWER)
    node = case.nodes.get(identifier="G0")
    services.comment_create(actor=reviewer, node=node, text="<script>alert(1)</script> noted")
    # Signed before the challenge: an open challenge refuses approval.
    services.version_sign_off(actor=reviewer, case=case, note="first")
    second = services.version_sign_off(
        actor=reviewer,
        case=case,
        note="second",
        verdict="approve_with_conditions",
        conditions=[{"node": "G0", "text": "<b>Re-run</b> the honeypots"}],
    )
    challenge = services.challenge_create(actor=reviewer, node=node, claim="Is this enough?")
    export = PdfExport.objects.create(
        case=case, created_by=author, status=PdfExport.Status.QUEUED, progress=10
    )
    binding = case.bindings.first()
    link = case.links.first()
    from safetycase.models import CriterionChange

    change = CriterionChange.objects.create(
        case=case,
        binding=binding,
        node=binding.node,
        run=EvaluationRun.objects.filter(status="ingested").first(),
        old_expression="k == 0",
        new_expression=binding.expression,
        changed_by=author,
    )
    arguments = {
        "case_id": case.pk,
        "identifier": node.identifier,
        "run_id": inspect_run.pk,
        "sample_id": "q00000",
        "result_id": inspect_run.samples.get(sample_id="q00000", epoch=1).pk,
        "export_id": export.pk,
        "link_id": link.pk,
        "binding_id": binding.pk,
        "challenge_id": challenge.pk,
        "change_id": change.pk,
        "condition_id": second.conditions.get().pk,
        "number": 1,
        "username": reviewer.username,
        "project_id": case.project_id,
    }
    return case, arguments


# Extra addresses for states a bare route does not show: a selected node, one argument, a
# filtered sample table, a diff of two versions.
EXTRA_QUERIES = {
    "case_detail": ["?node=G0", "?argument=SI"],
    "run_detail": ["?outcome=incorrect"],
    "run_sample": ["?epoch=2"],
    "version_diff": ["?a=1&b=2"],
}
# Routes that are not pages: downloads (gsn2x zip, original log, PDF), and logging out.
NOT_HTML = {"authoring_export", "run_log", "version_export", "logout"}


def ui_pages(arguments: dict) -> list[str]:
    urls = []
    templates = sorted(default_library().templates)
    for name, converters in ui_routes():
        if name in NOT_HTML:
            continue
        if converters == {"template"}:
            urls += [reverse(name, kwargs={"template": template}) for template in templates]
            continue
        missing = converters - set(arguments)
        assert not missing, f"Add sample values for {missing} to check the page {name}."
        url = reverse(name, kwargs={key: arguments[key] for key in converters})
        urls += [url] + [url + query for query in EXTRA_QUERIES.get(name, [])]
    return urls


def rendered_pages(client: Client, urls: list[str], refused_ok: bool = False):
    """Each page as a full page and as the htmx fragment the UI swaps in. With refused_ok,
    a 403 page (a reviewer on an authoring page) is checked like any other."""
    for url in urls:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url, **headers)
            if response.status_code in (302, 405):
                continue  # an action that only accepts POST, or redirects to a page we visit
            expected = (200, 403) if refused_ok else (200,)
            assert response.status_code in expected, (url, headers, response.status_code)
            if response["Content-Type"].startswith("text/html"):
                yield url, headers, response


def test_html_pages_carry_the_content_security_policy(client, author):
    for url in ("/login/", "/api/docs/"):
        response = client.get(url)
        assert parse_policy(response["Content-Security-Policy"]) == EXPECTED_POLICY, url
    client.force_login(author)
    response = client.get("/")
    assert parse_policy(response["Content-Security-Policy"]) == EXPECTED_POLICY
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_no_page_needs_inline_script_or_style(demo_site, author, reviewer):
    case, arguments = demo_site
    checked = set()
    for user in (author, reviewer):
        client = Client()
        client.force_login(user)
        urls = ui_pages(arguments)
        if user == author:  # authors cannot sign their case: the reviewer's walk covers it
            urls = [url for url in urls if not url.endswith("/versions/sign-off/")]
        pages = rendered_pages(client, urls, refused_ok=user == reviewer)
        for url, headers, response in pages:
            page = scan(response.content.decode())
            where = (user.username, url, headers)
            assert page.inline_scripts == [], where
            assert page.handler_attributes == [], where
            assert page.javascript_urls == [], where
            # style-src 'self' refuses both <style> elements and style="" attributes.
            assert page.style_elements == 0, where
            assert page.style_attributes == [], where
            checked.add(url)
    # The walk reached the pages that matter: case, diagram with panel, node, run, authoring.
    assert f"/cases/{case.pk}/?node=G0" in checked
    assert f"/cases/{case.pk}/nodes/G0/" in checked
    assert f"/runs/{arguments['run_id']}/" in checked
    assert f"/cases/{case.pk}/nodes/G0/edit/" in checked
    assert "/cases/new/" in checked
    assert len(checked) > 25
    # The diagram is inlined: it must be in what we scanned.
    html = Client()
    html.force_login(author)
    assert "<svg" in html.get(f"/cases/{case.pk}/").content.decode()


def test_the_api_docs_page_loads_its_start_up_script_from_a_url(client):
    page = client.get("/api/docs/")
    found = scan(page.content.decode())
    assert found.inline_scripts == [] and found.style_elements == 0
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_every_post_form_carries_a_csrf_token(demo_site, author, reviewer, client):
    case, arguments = demo_site
    forms_seen = 0
    pages = [(client, "/login/")]
    for user in (author, reviewer):
        logged_in = Client()
        logged_in.force_login(user)
        pages += [(logged_in, url) for url in ui_pages(arguments)]
    for page_client, url in pages:
        for _, headers, response in rendered_pages(page_client, [url], refused_ok=True):
            for form in scan(response.content.decode()).post_forms:
                assert form["csrf"], (url, headers, form)
                forms_seen += 1
    # Log out, node edit and delete, comments, challenges, sign-off, links, bindings, import…
    assert forms_seen > 30


def test_a_post_without_the_csrf_token_is_refused(author):
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    response = client.post("/cases/new/import/", {})
    assert response.status_code == 403


# Login rate limiting ------------------------------------------------------------------------


def log_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def login_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    return 3


def test_a_username_is_locked_after_the_failure_limit(client, author, login_limit):
    for _ in range(login_limit - 1):
        response = log_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert "did not match" in response.content.decode()
    response = log_in(client, "alice", "wrong")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "Try again in 15 minutes" in response.content.decode()
    lockout_page = scan(response.content.decode())
    assert lockout_page.inline_scripts == [] and lockout_page.style_attributes == []
    # Now even the right password is refused from this address; from another one it works,
    # so nobody can lock a colleague out with wrong passwords.
    response = log_in(Client(), "alice", "pw-alice", "10.0.0.1")
    assert response.status_code == 429
    assert log_in(Client(), "alice", "pw-alice", "10.9.9.9").status_code == 302


def test_the_lockout_ends_when_the_window_passes(client, author, login_limit, settings):
    for _ in range(login_limit):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", "pw-alice").status_code == 429
    # Age the recorded failures past the window instead of sleeping through it.
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = log_in(client, "alice", "pw-alice")
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_successful_login_resets_the_count(author, login_limit):
    client = Client()
    for _ in range(login_limit - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", "pw-alice").status_code == 302
    client.logout()
    for _ in range(login_limit - 1):
        assert log_in(client, "alice", "wrong").status_code == 200
    assert log_in(client, "alice", "pw-alice").status_code == 302


def test_other_users_elsewhere_are_unaffected(author, reviewer, login_limit):
    for _ in range(login_limit + 2):
        log_in(Client(), "alice", "wrong", "10.0.0.1")
    response = log_in(Client(), "bob", "pw-bob", "10.0.0.2")
    assert response.status_code == 302


def test_one_address_guessing_many_usernames_is_locked(author, reviewer, login_limit):
    for index in range(login_limit):
        log_in(Client(), f"nobody{index}", "wrong", "10.6.6.6")
    assert log_in(Client(), "bob", "pw-bob", "10.6.6.6").status_code == 429
    assert log_in(Client(), "bob", "pw-bob", "10.0.0.7").status_code == 302


def test_behind_the_proxy_the_client_address_comes_from_its_header(
    author, reviewer, login_limit, settings
):
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    for index in range(login_limit):
        Client().post(
            "/login/",
            {"username": f"nobody{index}", "password": "x"},
            REMOTE_ADDR="172.18.0.5",  # the proxy
            HTTP_X_REAL_IP="203.0.113.9",
        )
    other_client = Client().post(
        "/login/",
        {"username": "bob", "password": "pw-bob"},
        REMOTE_ADDR="172.18.0.5",
        HTTP_X_REAL_IP="203.0.113.10",
    )
    assert other_client.status_code == 302
    locked_client = Client().post(
        "/login/",
        {"username": "bob", "password": "pw-bob"},
        REMOTE_ADDR="172.18.0.5",
        HTTP_X_REAL_IP="203.0.113.9",
    )
    assert locked_client.status_code == 429


def test_login_limits_come_from_the_environment():
    from tests.test_settings import run_manage

    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds(), "
        "settings.CLIENT_IP_HEADER)",
        DEBUG="1",
        LOGIN_FAILURE_LIMIT="7",
        LOGIN_LOCKOUT_SECONDS="120",
        CLIENT_IP_HEADER="X-Real-IP",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["7", "120.0", "X-Real-IP"]


# Upload limits ------------------------------------------------------------------------------


def test_an_upload_declared_over_the_limit_is_refused_before_it_is_read(
    uploader, api_client_for, settings
):
    settings.EVIDENCE = {**settings.EVIDENCE, "MAX_UPLOAD_BYTES": 10_000}
    client = api_client_for(uploader)
    body = b"x" * 100
    response = client.generic(
        "POST",
        "/api/v1/runs/",
        body,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(10_000 + 2 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "The upload is larger than the limit of 10000 bytes."
    assert LogFile.objects.count() == 0 and EvaluationRun.objects.count() == 0


def test_an_upload_over_the_limit_leaves_no_rows_and_no_files(uploader, api_client_for, settings):
    settings.EVIDENCE = {**settings.EVIDENCE, "MAX_UPLOAD_BYTES": 2000}
    # Small enough to pass the declared-length check: refused while it is streamed.
    upload = io.BytesIO(b"{" + b" " * 5000 + b"}")
    upload.name = "big.json"
    response = api_client_for(uploader).post("/api/v1/runs/", {"file": upload}, format="multipart")
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "The file is larger than the upload limit of 2000 bytes (EVIDENCE_MAX_UPLOAD_BYTES)."
    )
    assert LogFile.objects.count() == 0 and EvaluationRun.objects.count() == 0
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or [p for p in media.rglob("*") if p.is_file()] == []
