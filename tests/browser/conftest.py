"""Shared set-up of the browser tests: one Debian Chromium per session driven by Playwright for
Python, pages with JavaScript errors collected, and the demo case with a user who can log in.

The tests fail when CI is set and /usr/bin/chromium or playwright is missing (CI installs
both); elsewhere they are skipped. BROWSER_CHROMIUM names another Chromium binary.
"""

from __future__ import annotations

import io
import os

import pytest
from django.core.management import call_command

from safetycase.models import SafetyCase

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")  # Debian's package
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright==1.65.2)")
    # Playwright's sync API keeps an event loop running in the test thread; the ORM calls the
    # tests make meanwhile are ordinary synchronous calls. Set only while the browser lives
    # (browser tests run last, tests/conftest.py), so subprocesses of other tests never see it.
    added = "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if added:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def expect(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    return expect


@pytest.fixture
def open_page(browser):
    contexts = []

    def open_page(*, javascript: bool = True, width: int = 1400, height: int = 900):
        context = browser.new_context(
            viewport={"width": width, "height": height}, java_script_enabled=javascript
        )
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def demo(make_user, eager_celery):
    """The demo case (131 nodes, 30 runs) with a reviewer who can log in."""
    user = make_user("rita")
    call_command("load_demo", owner=user.username, stdout=io.StringIO())
    case = SafetyCase.objects.get(memberships__user=user)
    return case, user
