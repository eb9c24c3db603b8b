"""Fast reads: conditional GET of the case page, compressed SVG and JSON, and the
status-coloured diagram drawn once per assessment."""

from __future__ import annotations

import gzip

import pytest
from django.contrib import messages
from django.core.cache import cache
from django.test import Client

from notifications import services as notification_services
from safetycase import selectors, services
from safetycase.selectors import diagrams

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def signed_in(user) -> Client:
    """A browser of `user` that has been on the site once (so it holds a CSRF cookie)."""
    client = Client()
    client.force_login(user)
    client.get("/")
    return client


def page_url(case) -> str:
    return f"/cases/{case.pk}/"


def test_an_unchanged_case_page_is_not_sent_again(case, viewer):
    browser = signed_in(viewer)
    first = browser.get(page_url(case))
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    assert "Cookie" in first["Vary"]
    assert first["Cache-Control"] in {"private, no-cache", "no-cache, private"}
    assert first["Last-Modified"]

    again = browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and "Cookie" in again["Vary"]
    # Another part of the case (another URL) is another page.
    other = browser.get(page_url(case) + "?node=G2", HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200


def test_the_304_costs_a_handful_of_queries(case, viewer, django_assert_num_queries):
    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]
    # The session, the user, the case, the user's membership, and the one query of
    # selectors.content_version; the page itself (nodes, assessment, findings ...) is not read.
    with django_assert_num_queries(5):
        assert browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_an_edit_changes_the_case_page_etag(case, author, viewer):
    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]

    services.node_update(actor=author, node=case.nodes.get(identifier="G3"), statement="Reworded")

    changed = browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "Reworded" in changed.content.decode()


def test_a_new_assessment_changes_the_case_page_etag(case, viewer):
    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]

    services.case_assess(case=case, trigger="manual")

    changed = browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_new_watch_changes_the_case_page_etag(case, viewer):
    """Watches have no history table: the user's own count of them is in the validator."""
    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]

    notification_services.watch(actor=viewer, case=case)

    changed = browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    notification_services.unwatch(actor=viewer, case=case)
    assert browser.get(page_url(case), HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 200


def test_a_role_change_changes_the_case_page_etag(case, author, viewer):
    from safetycase.choices import Role

    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]

    services.membership_set(case=case, user=viewer, role=Role.AUTHOR)

    assert browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_another_user_gets_no_304_for_someone_elses_etag(case, author, viewer):
    """The author's page has edit buttons the viewer's has not: the viewer, sending the
    author's validator, gets their own page, not 304."""
    author_etag = signed_in(author).get(page_url(case))["ETag"]
    viewers_page = signed_in(viewer).get(page_url(case), HTTP_IF_NONE_MATCH=author_etag)
    assert viewers_page.status_code == 200 and viewers_page["ETag"] != author_etag


def test_another_session_of_the_same_user_gets_no_304(case, viewer):
    """Each session has its own CSRF secret, and the page carries a token for it."""
    etag = signed_in(viewer).get(page_url(case))["ETag"]
    other = signed_in(viewer).get(page_url(case), HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200 and other["ETag"] != etag
    assert 'name="csrfmiddlewaretoken"' in other.content.decode()


def test_a_browser_without_a_csrf_cookie_gets_the_page_and_no_etag(case, viewer):
    browser = Client()
    browser.force_login(viewer)
    first = browser.get(page_url(case))
    assert first.status_code == 200 and "ETag" not in first


def test_a_page_with_a_flashed_message_is_drawn_again(case, viewer, rf):
    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]
    # A flashed message lives in the messages cookie until it is shown.
    request = rf.get("/")
    from django.contrib.messages.storage.cookie import CookieStorage

    storage = CookieStorage(request)
    storage.add(messages.SUCCESS, "Saved.")
    response = Client().get("/")  # any response to carry the cookie
    storage.update(response)
    browser.cookies["messages"] = response.cookies["messages"].value

    shown = browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag)

    assert shown.status_code == 200 and "ETag" not in shown
    assert "Saved." in shown.content.decode()


def test_html_pages_are_never_compressed(case, viewer):
    """BREACH: the page carries a CSRF token beside text the user typed (?q=)."""
    page = signed_in(viewer).get(page_url(case) + "?q=G2", HTTP_ACCEPT_ENCODING="gzip")
    assert page.status_code == 200 and not page.has_header("Content-Encoding")


def test_the_diagram_is_sent_gzipped_to_clients_that_accept_it(case, api_client_for, viewer):
    client = api_client_for(viewer)
    url = f"/api/v1/cases/{case.pk}/diagram.svg"
    plain = client.get(url)
    packed = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    assert not plain.has_header("Content-Encoding")
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 2
    assert packed["Content-Type"] == "image/svg+xml"
    assert {"Accept-Encoding", "Cookie"} <= {v.strip() for v in packed["Vary"].split(",")}
    assert packed["ETag"] == plain["ETag"] and packed["Last-Modified"]
    # Revalidating the compressed copy works as for the plain one.
    again = client.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert again.status_code == 304


def test_json_is_sent_gzipped_to_clients_that_accept_it(case, api_client_for, viewer):
    client = api_client_for(viewer)
    url = f"/api/v1/cases/{case.pk}/"
    plain = client.get(url)
    packed = client.get(url, HTTP_ACCEPT_ENCODING="gzip")

    assert packed["Content-Encoding"] == "gzip" and not plain.has_header("Content-Encoding")
    assert gzip.decompress(packed.content) == plain.content
    # GZipMiddleware weakens the tag of what it compresses; it still revalidates.
    assert packed["ETag"] == "W/" + plain["ETag"]
    again = client.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert again.status_code == 304


def test_an_unchanged_diagram_is_read_without_loading_the_argument(
    case, api_client_for, viewer, django_assert_num_queries
):
    client = api_client_for(viewer)
    url = f"/api/v1/cases/{case.pk}/diagram.svg"
    first = client.get(url)
    # The token with its user (its use was recorded by the first read: at most once a
    # minute), the case, the membership, and the validator query; the nodes and links are not
    # loaded again, nor is the SVG drawn.
    with django_assert_num_queries(4):
        second = client.get(url)
    assert second.status_code == 200 and second.content == first.content


def test_the_status_coloured_diagram_is_drawn_once_per_assessment(case, monkeypatch):
    drawn = []
    real_argument_dot = diagrams.argument_dot

    def counting_argument_dot(*args, **kwargs):
        drawn.append(kwargs.get("statuses"))
        return real_argument_dot(*args, **kwargs)

    monkeypatch.setattr(diagrams, "argument_dot", counting_argument_dot)
    argument = selectors.case_argument(case=case)
    first = services.case_assess(case=case, trigger="manual")

    one = selectors.case_view_svg(case=case, argument=argument, statuses=first.statuses)
    two = selectors.case_view_svg(case=case, argument=argument, statuses=first.statuses)
    assert one == two and len(drawn) == 1

    recoloured = {**first.statuses, "G2": "defeated"}
    other = selectors.case_view_svg(case=case, argument=argument, statuses=recoloured)
    assert len(drawn) == 2 and other != one
    assert drawn[1]["G2"] == "defeated"


def test_the_case_page_draws_its_diagram_once_until_the_assessment_changes(
    case, viewer, monkeypatch
):
    drawn = []
    real_argument_dot = diagrams.argument_dot
    monkeypatch.setattr(
        diagrams,
        "argument_dot",
        lambda *a, **k: drawn.append(1) or real_argument_dot(*a, **k),
    )
    services.case_assess(case=case, trigger="manual")
    browser = signed_in(viewer)
    browser.get(page_url(case))
    browser.get(page_url(case))
    assert len(drawn) == 1


def test_a_full_read_of_an_unchanged_page_is_not_drawn_again(
    case, viewer, django_assert_num_queries
):
    """A client that keeps no copy asks again without If-None-Match: the page drawn for its
    session is sent from the cache, with the same five queries as a 304."""
    browser = signed_in(viewer)
    first = browser.get(page_url(case))
    with django_assert_num_queries(5):
        second = browser.get(page_url(case))
    assert second.status_code == 200 and second.content == first.content
    assert second["ETag"] == first["ETag"]


def test_a_full_read_after_an_edit_shows_the_edit(case, author, viewer):
    browser = signed_in(viewer)
    browser.get(page_url(case))
    browser.get(page_url(case))

    services.node_update(actor=author, node=case.nodes.get(identifier="G3"), statement="Reworded")

    assert "Reworded" in browser.get(page_url(case)).content.decode()


def test_no_page_is_kept_when_the_setting_is_zero(case, viewer, settings):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PAGE_CACHE_SECONDS": 0}
    browser = signed_in(viewer)
    etag = browser.get(page_url(case))["ETag"]
    assert cache.get("safetycase:page:" + etag.strip('"')) is None


def test_downloads_keep_their_bytes():
    """Only SVG, JSON, scripts and styles are compressed: a download (a zip here) is sent
    as it is, with its length."""
    from django.http import HttpResponse
    from django.test import RequestFactory

    from safetycase.compression import CompressNonHtmlMiddleware

    download = HttpResponse(b"PK" + b"0" * 4000, content_type="application/zip")
    asking = RequestFactory().get("/", HTTP_ACCEPT_ENCODING="gzip")
    kept = CompressNonHtmlMiddleware(lambda r: download)(asking)
    assert not kept.has_header("Content-Encoding") and kept.content.startswith(b"PK")
    svg = HttpResponse(b"<svg>" + b" " * 4000 + b"</svg>", content_type="image/svg+xml")
    packed = CompressNonHtmlMiddleware(lambda r: svg)(asking)
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content).startswith(b"<svg>")


def test_a_challenge_and_its_resolution_change_the_case_page_etag(case, author, reviewer):
    """The header counts open challenges: opening one and resolving it (an update of the
    same row) each give the page a new ETag, and the page says so."""
    services.case_assess(case=case, trigger="manual")
    browser = signed_in(reviewer)
    etag = browser.get(page_url(case))["ETag"]

    challenge = services.challenge_create(
        actor=reviewer, node=case.nodes.get(identifier="G2"), claim="The evaluation is stale"
    )
    opened = browser.get(page_url(case), HTTP_IF_NONE_MATCH=etag)
    assert opened.status_code == 200 and opened["ETag"] != etag
    assert "data-open-challenges>1<" in opened.content.decode()

    services.challenge_resolve(actor=reviewer, challenge=challenge, resolution="Rerun")
    resolved = browser.get(page_url(case), HTTP_IF_NONE_MATCH=opened["ETag"])
    assert resolved.status_code == 200 and resolved["ETag"] not in {etag, opened["ETag"]}
    assert "data-open-challenges>0<" in resolved.content.decode()
