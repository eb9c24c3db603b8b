"""Conditional GET for pages that differ per user: an ETag built before rendering, 304 Not
Modified when the browser already has that page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import http_date, parse_etags

from safetycase import selectors
from safetycase.conf import setting


def unless_page_not_modified(
    request: HttpRequest, parts: tuple, render: Callable[[], HttpResponse]
) -> HttpResponse:
    """`render()`, or 304 when If-None-Match names the page's ETag.

    The ETag covers `parts` (what the page is of), everything the pages read
    (`selectors.content_version`), and who asks: the user and their rights, the session and
    the CSRF secret — a page carries a CSRF token valid for that secret only, and the header
    and buttons depend on the user — plus the full URL. `Vary: Cookie` keeps caches from
    handing one user's page to another. Last-Modified is sent for information; only the ETag
    answers 304, because not every change leaves a time behind (a deleted watch does not).

    A full read (no If-None-Match, e.g. a client that keeps no copy) of a page drawn before
    for the same ETag gets that drawing from the cache: the ETag names exactly this user,
    session, URL and content, so the kept page is the one `render()` would draw now."""
    csrf_secret = request.META.get("CSRF_COOKIE")
    if csrf_secret is None or len(messages.get_messages(request)):
        # No CSRF cookie yet: this answer sets one, so a kept copy would carry a token for
        # another secret. A flashed message is shown once: the page must be drawn again.
        return render()
    user = request.user
    version, last_modified = selectors.content_version(user=user)
    etag = selectors.page_etag(
        *parts,
        version,
        user.pk,
        user.is_superuser,
        user.is_staff,
        request.session.session_key,
        csrf_secret,
        request.get_full_path(),
        bool(request.headers.get("HX-Request")),
    )
    sent = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
    response = HttpResponseNotModified() if etag in sent else _drawn_once(etag, render)
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["Cookie"])
    return response


PAGE_PREFIX = "safetycase:page:"


def _drawn_once(etag: str, render: Callable[[], HttpResponse]) -> HttpResponse:
    seconds = setting("PAGE_CACHE_SECONDS")
    key = PAGE_PREFIX + etag.strip('"')
    kept = cache.get(key) if seconds else None
    if kept is not None:
        content, content_type = kept
        return HttpResponse(content, content_type=content_type)
    response = render()
    if seconds and response.status_code == 200 and not response.streaming:
        cache.set(key, (response.content, response["Content-Type"]), timeout=seconds)
    return response
