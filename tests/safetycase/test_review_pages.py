"""Review pages and forms: plain POST forms, viewers read only, outsiders get 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from safetycase import services
from safetycase.models import Challenge, Comment, Node, Version

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def post_form(client: Client, page: str, action: str, data: dict):
    """Submit a form found on `page` as a browser would: with the page's CSRF token."""
    html = client.get(page).content.decode()
    assert f'action="{action}"' in html, f"no form posting to {action} on {page}"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    return client.post(action, {**data, "csrfmiddlewaretoken": token})


@pytest.fixture
def g2(case):
    return Node.objects.get(case=case, identifier="G2")


def test_comment_form_on_the_node_page(case, author):
    page = f"/cases/{case.pk}/nodes/G2/"
    response = post_form(
        client_for(author), page, f"/cases/{case.pk}/nodes/G2/comments/", {"text": "<b>Why?</b>"}
    )
    assert response.status_code == 302 and response["Location"] == page
    assert Comment.objects.get().text == "<b>Why?</b>"
    html = client_for(author).get(page).content.decode()
    assert "&lt;b&gt;Why?&lt;/b&gt;" in html


def test_challenge_and_resolve_forms(case, reviewer, author):
    page = f"/cases/{case.pk}/nodes/G2/"
    post_form(
        client_for(reviewer), page, f"/cases/{case.pk}/nodes/G2/challenges/", {"claim": "Weak"}
    )
    challenge = Challenge.objects.get()
    # The open challenge is a flag on the case page and in the node panel.
    case_page = client_for(author).get(f"/cases/{case.pk}/").content.decode()
    panel_html = case_page.split('class="flags-panel"', 1)[1].split("</section>", 1)[0]
    assert "<code>challenge</code>" in panel_html and "Weak" in panel_html
    panel = client_for(author).get(page, HTTP_HX_REQUEST="true").content.decode()
    assert "<code>challenge</code>" in panel
    # The author answers; only a reviewer closes.
    author_page = client_for(author).get(page).content.decode()
    assert f"/challenges/{challenge.pk}/resolve/" not in author_page
    post_form(
        client_for(author),
        page,
        f"/cases/{case.pk}/challenges/{challenge.pk}/respond/",
        {"response": "Added Sn2"},
    )
    assert "Added Sn2" in client_for(reviewer).get(page).content.decode()
    response = post_form(
        client_for(reviewer),
        page,
        f"/cases/{case.pk}/challenges/{challenge.pk}/resolve/",
        {"resolution": "Accepted"},
    )
    assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.state == "resolved"
    assert (
        "<code>challenge</code>"
        not in client_for(author).get(f"/cases/{case.pk}/").content.decode()
    )


def test_viewers_see_no_forms_and_cannot_post(case, g2, viewer, reviewer):
    services.comment_create(actor=reviewer, node=g2, text="Visible to viewers")
    challenge = services.challenge_create(actor=reviewer, node=g2, claim="Open claim")
    client = Client()
    client.force_login(viewer)
    html = client.get(f"/cases/{case.pk}/nodes/G2/").content.decode()
    assert "Visible to viewers" in html and "Open claim" in html
    for form in ("/comments/", "/challenges/", "/resolve/"):
        assert form not in html
    assert "Sign off" not in client.get(f"/cases/{case.pk}/").content.decode()
    for url, data in [
        (f"/cases/{case.pk}/nodes/G2/comments/", {"text": "x"}),
        (f"/cases/{case.pk}/nodes/G2/challenges/", {"claim": "x"}),
        (f"/cases/{case.pk}/challenges/{challenge.pk}/resolve/", {"resolution": "x"}),
        (f"/cases/{case.pk}/versions/sign-off/", {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert Comment.objects.count() == 1 and not Version.objects.exists()


def test_outsiders_get_404_everywhere(case, g2, reviewer, outsider):
    services.version_sign_off(actor=reviewer, case=case)
    challenge = services.challenge_create(actor=reviewer, node=g2, claim="x")
    client = Client()
    client.force_login(outsider)
    for url in ("versions/", "versions/1/", "versions/diff/?a=1&b=1"):
        assert client.get(f"/cases/{case.pk}/{url}").status_code == 404
    for url in (
        "nodes/G2/comments/",
        "nodes/G2/challenges/",
        f"challenges/{challenge.pk}/resolve/",
        "versions/sign-off/",
        "versions/1/sign/",
    ):
        assert client.post(f"/cases/{case.pk}/{url}", {"text": "x"}).status_code == 404


def test_sign_off_button_on_the_case_page_and_versions_pages(case, reviewer, make_user):
    client = client_for(reviewer)
    sign_off = f"/cases/{case.pk}/versions/sign-off/"
    assert f'href="{sign_off}"' in client.get(f"/cases/{case.pk}/").content.decode()
    assert f'href="{sign_off}"' in client.get(f"/cases/{case.pk}/versions/").content.decode()
    # Without the confirmation nothing is signed; the page says why.
    unconfirmed = post_form(client, sign_off, sign_off, {"verdict": "approve", "note": "base"})
    assert unconfirmed.status_code == 200 and "Confirm that you reviewed" in (
        unconfirmed.content.decode()
    )
    assert not Version.objects.exists()
    response = post_form(
        client, sign_off, sign_off, {"verdict": "approve", "note": "base", "confirm": "yes"}
    )
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/versions/1/"
    services.node_create_do(case=case, identifier="G9", type="goal", statement="Added later")
    post_form(client, sign_off, sign_off, {"verdict": "approve", "confirm": "yes"})
    listing = client.get(f"/cases/{case.pk}/versions/").content.decode()
    assert f'href="/cases/{case.pk}/versions/2/"' in listing and "Compare" in listing
    detail = client.get(f"/cases/{case.pk}/versions/1/").content.decode()
    assert Version.objects.get(number=1).content_hash in detail and "base" in detail
    diff = client.get(f"/cases/{case.pk}/versions/diff/?a=1&b=2").content.decode()
    assert "G9 (goal): Added later" in diff
    assert client.get(f"/cases/{case.pk}/versions/diff/?a=1&b=7").status_code == 404
    # A second reviewer adds a signature from the version page.
    other = make_user("rita")
    services.membership_set(case=case, user=other, role="reviewer")
    post_form(
        client_for(other), f"/cases/{case.pk}/versions/1/", f"/cases/{case.pk}/versions/1/sign/", {}
    )
    assert Version.objects.get(number=1).signatures.count() == 2


def test_authors_cannot_sign_off(case, author):
    client = Client()
    client.force_login(author)
    assert "Sign off" not in client.get(f"/cases/{case.pk}/").content.decode()
    assert f"/cases/{case.pk}/versions/" in client.get(f"/cases/{case.pk}/").content.decode()
    assert client.post(f"/cases/{case.pk}/versions/sign-off/").status_code == 403
    assert not Version.objects.exists()


def test_an_empty_comment_shows_a_message(case, author):
    client = Client()
    client.force_login(author)
    response = client.post(f"/cases/{case.pk}/nodes/G2/comments/", {"text": " "}, follow=True)
    assert "A comment needs some text." in response.content.decode()
    assert not Comment.objects.exists()
