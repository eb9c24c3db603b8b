"""Independence of the review, by role and never by superuser status: who signs a version,
who closes a challenge, and how many signatures a project requires. Through the API and the
pages, as a user (or an attacker with an owner's account) would try it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from evidence import projects
from safetycase import services
from safetycase.models import Challenge, SafetyCase, Signature, Version

pytestmark = pytest.mark.django_db


def sign_off_api(client, case, **body):
    return client.post(f"/api/v1/cases/{case.pk}/versions/", body, format="json")


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_owner(author):
    """alice, owner of the case's project, made a superuser (as `make run`'s admin is)."""
    author.is_superuser = author.is_staff = True
    author.save()
    return author


def test_an_owner_who_is_a_superuser_cannot_sign_off(case, superuser_owner, api_client_for):
    response = sign_off_api(api_client_for(superuser_owner), case)
    assert response.status_code == 403
    assert "superuser does not count" in response.json()["detail"]
    page = page_client(superuser_owner)
    assert page.get(f"/cases/{case.pk}/versions/sign-off/").status_code == 403
    posted = page.post(
        f"/cases/{case.pk}/versions/sign-off/", {"verdict": "approve", "confirm": "yes"}
    )
    assert posted.status_code == 403 and b"you are its owner" in posted.content
    assert "/versions/sign-off/" not in page.get(f"/cases/{case.pk}/").content.decode()
    assert not Version.objects.exists()


def test_a_superuser_who_is_no_member_cannot_sign_off(case, make_user, api_client_for):
    root = make_user("root")
    root.is_superuser = root.is_staff = True
    root.save()
    response = sign_off_api(api_client_for(root), case)
    assert response.status_code in (403, 404)
    assert not Version.objects.exists()


def test_an_owner_who_made_themselves_a_case_reviewer_still_cannot_sign(
    case, author, api_client_for
):
    services.membership_set(case=case, user=author, role="reviewer")  # the case role wins
    response = sign_off_api(api_client_for(author), case)
    assert response.status_code == 403
    assert "You are an owner of case" in response.json()["detail"]


def test_a_reviewer_who_edited_the_argument_cannot_sign(case, make_user, api_client_for):
    ada = make_user("ada")
    services.membership_set(case=case, user=ada, role="author")
    edited = api_client_for(ada).patch(
        f"/api/v1/cases/{case.pk}/nodes/G2/", {"statement": "Edited by ada"}, format="json"
    )
    assert edited.status_code == 200
    services.membership_set(case=case, user=ada, role="reviewer")
    response = sign_off_api(api_client_for(ada), case)
    assert response.status_code == 403
    assert "You edited the argument" in response.json()["detail"]


def test_an_author_cannot_co_sign(case, reviewer, superuser_owner):
    services.version_sign_off(actor=reviewer, case=case)
    response = page_client(superuser_owner).post(f"/cases/{case.pk}/versions/1/sign/")
    assert response.status_code == 403
    assert list(Signature.objects.values_list("user__username", flat=True)) == ["bob"]


def test_make_runs_admin_cannot_sign_off_the_demo(eager_celery, django_capture_on_commit_callbacks):
    """`make run`: setup_admin (admin is a superuser) and load_demo (admin owns the demo)."""
    call_command("setup_admin", "--reviewer", "reviewer", stdout=io.StringIO())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", "--reviewer", "reviewer", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    case = SafetyCase.objects.get()
    api = Client()
    api.force_login(admin)
    response = api.post(
        f"/api/v1/cases/{case.pk}/versions/",
        {"verdict": "approve"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "Only reviewers of case" in response.json()["detail"]
    ui = api.post(f"/cases/{case.pk}/versions/sign-off/", {"verdict": "approve", "confirm": "yes"})
    assert ui.status_code == 403 and b"superuser does not count" in ui.content
    # The demo's reviewer may sign, and sees what is open before doing so.
    reviewer = page_client(get_user_model().objects.get(username="reviewer"))
    page = reviewer.get(f"/cases/{case.pk}/versions/sign-off/").content.decode()
    assert "Defeated nodes" in page and "I reviewed what is open above" in page
    assert not Version.objects.exists()


# --- challenges


@pytest.fixture
def challenge(case, reviewer):
    g2 = case.nodes.get(identifier="G2")
    return services.challenge_create(actor=reviewer, node=g2, claim="Sabotage was not elicited")


def test_an_author_responds_but_cannot_close_a_challenge(
    case, challenge, superuser_owner, api_client_for
):
    owner = api_client_for(superuser_owner)
    base = f"/api/v1/cases/{case.pk}/challenges/{challenge.pk}"
    refused = owner.post(f"{base}/resolve/", {"resolution": "Done"}, format="json")
    assert refused.status_code == 403 and "authors respond" in refused.json()["detail"]
    answered = owner.post(f"{base}/respond/", {"response": "Fine-tuned now"}, format="json")
    assert answered.status_code == 200 and answered.json()["state"] == "open"
    # The page offers the author a response form, not a resolve form.
    html = page_client(superuser_owner).get(f"/cases/{case.pk}/nodes/G2/").content.decode()
    assert f"/challenges/{challenge.pk}/respond/" in html
    assert f"/challenges/{challenge.pk}/resolve/" not in html
    assert Challenge.objects.get().state == "open"


def test_another_reviewer_rejects_a_response_then_the_challenger_closes(
    case, challenge, author, reviewer, make_user, api_client_for
):
    rita = make_user("rita")
    services.membership_set(case=case, user=rita, role="reviewer")
    base = f"/api/v1/cases/{case.pk}/challenges/{challenge.pk}"
    early = api_client_for(rita).post(f"{base}/reject-response/", {"reason": "x"}, format="json")
    assert early.status_code == 409 and "not responded" in early.json()["detail"]
    api_client_for(author).post(f"{base}/respond/", {"response": "Enough"}, format="json")
    rejected = api_client_for(rita).post(
        f"{base}/reject-response/", {"reason": "Not fine-tuned"}, format="json"
    )
    assert rejected.status_code == 200
    assert (rejected.json()["state"], rejected.json()["response_rejection"]) == (
        "open",
        "Not fine-tuned",
    )
    closed = api_client_for(reviewer).post(
        f"{base}/resolve/", {"resolution": "Fine-tuned later"}, format="json"
    )
    assert closed.status_code == 200 and closed.json()["resolved_by"] == "bob"


# --- signatures a project requires


def test_a_project_can_require_two_reviewer_signatures(case, reviewer, make_user, api_client_for):
    project = case.project
    project.required_signatures = 2
    project.save()
    rita = make_user("rita")
    projects.project_member_set(project=project, user=rita, role="reviewer")
    created = sign_off_api(api_client_for(reviewer), case, note="first signature")
    assert created.status_code == 201
    assert (created.json()["signatures_required"], created.json()["signed_off"]) == (2, False)
    assert page_client(rita).post(f"/cases/{case.pk}/versions/1/sign/").status_code == 302
    listed = api_client_for(reviewer).get(f"/api/v1/cases/{case.pk}/versions/1/").json()
    assert [s["user"] for s in listed["signatures"]] == ["bob", "rita"]
    assert listed["signed_off"] is True
    page = page_client(rita).get(f"/cases/{case.pk}/versions/1/").content.decode()
    assert "2 of 2 required" in page
