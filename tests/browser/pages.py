"""Helpers the browser tests share: logging in, keeping screenshots as test artifacts (in
artifacts/screenshots/, git-ignored; BROWSER_SCREENSHOTS=DIR puts them elsewhere) and reading
the diagram's view box."""

from __future__ import annotations

import os
from pathlib import Path

INSPECT = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"
ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")


def log_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", f"pw-{user.username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def screenshot(page, name: str, *, full_page: bool = True):
    """Keep a PNG of the page as a test artifact (SCREENSHOTS/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def view_box(page) -> list[float]:
    return [float(v) for v in page.get_attribute("#diagram svg", "viewBox").split()]
