"""Owners manage the members of a case: services, API and the Members page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safetycase import selectors, services
from safetycase.choices import Role
from safetycase.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from safetycase.models import Membership

pytestmark = pytest.mark.django_db


def role_of(case, user) -> str | None:
    membership = Membership.objects.filter(case=case, user=user).first()
    return membership.role if membership else None


def test_the_creator_of_a_case_is_its_owner(case, author):
    assert role_of(case, author) == Role.OWNER


def test_an_owner_can_do_everything_an_author_can(case, author):
    assert author.has_perm("safetycase.edit_argument", case)
    assert author.has_perm("safetycase.manage_members", case)
    assert not author.has_perm("safetycase.review_case", case)  # owners do not sign off


def test_owner_adds_changes_and_removes_a_member(case, author, outsider):
    added = services.membership_add(actor=author, case=case, username="charlie", role=Role.VIEWER)
    assert role_of(case, outsider) == "viewer"
    services.membership_change_role(actor=author, membership=added, role=Role.AUTHOR)
    assert role_of(case, outsider) == "author"
    services.membership_remove(actor=author, membership=added)
    assert role_of(case, outsider) is None


def test_every_membership_change_is_in_history_with_who_and_what(case, author, outsider):
    added = services.membership_add(actor=author, case=case, username="charlie", role=Role.VIEWER)
    services.membership_change_role(actor=author, membership=added, role=Role.REVIEWER)
    services.membership_remove(actor=author, membership=added)
    records = list(Membership.history.filter(user=outsider).order_by("history_date", "history_id"))
    assert [(r.history_type, r.role, r.history_user) for r in records] == [
        ("+", "viewer", author),
        ("~", "reviewer", author),
        ("-", "reviewer", author),
    ]
    change = records[1].diff_against(records[0])
    assert [(c.field, c.old, c.new) for c in change.changes] == [("role", "viewer", "reviewer")]


@pytest.mark.parametrize("persona", ["reviewer", "viewer"])
def test_members_who_are_not_owners_cannot_manage_members(case, persona, request, outsider):
    actor = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.membership_add(actor=actor, case=case, username="charlie", role="viewer")
    membership = selectors.membership_for_case(case=case, username="vera")
    with pytest.raises(PermissionDenied):
        services.membership_change_role(actor=actor, membership=membership, role="author")
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=actor, membership=membership)
    assert role_of(case, outsider) is None
    assert role_of(case, request.getfixturevalue("viewer")) == Role.VIEWER


def test_an_author_cannot_manage_members(case, make_user, outsider):
    plain_author = make_user("ada")
    services.membership_set(case=case, user=plain_author, role=Role.AUTHOR)
    with pytest.raises(PermissionDenied, match="Only owners"):
        services.membership_add(actor=plain_author, case=case, username="charlie", role="viewer")


def test_the_last_owner_can_be_neither_demoted_nor_removed(case, author):
    own = selectors.membership_for_case(case=case, username="alice")
    with pytest.raises(Conflict, match="last owner"):
        services.membership_change_role(actor=author, membership=own, role=Role.AUTHOR)
    with pytest.raises(Conflict, match="last owner"):
        services.membership_remove(actor=author, membership=own)
    assert role_of(case, author) == Role.OWNER


def test_with_a_second_owner_the_first_may_step_down(case, author, reviewer):
    bob = selectors.membership_for_case(case=case, username="bob")
    services.membership_change_role(actor=author, membership=bob, role=Role.OWNER)
    own = selectors.membership_for_case(case=case, username="alice")
    services.membership_change_role(actor=author, membership=own, role=Role.VIEWER)
    assert role_of(case, author) == Role.VIEWER
    assert not author.has_perm("safetycase.manage_members", case.__class__.objects.get(pk=case.pk))


def test_bad_input_is_refused_with_a_sentence(case, author):
    with pytest.raises(ApplicationError, match="no user named 'nobody'"):
        services.membership_add(actor=author, case=case, username="nobody", role="viewer")
    with pytest.raises(ApplicationError, match="'boss' is not a role"):
        services.membership_add(actor=author, case=case, username="charlie", role="boss")
    with pytest.raises(Conflict, match="already a member"):
        services.membership_add(actor=author, case=case, username="bob", role="viewer")
    with pytest.raises(NotFound):
        selectors.membership_for_case(case=case, username="charlie")


# --------------------------------------------------------------------------------------------
# API


def test_api_lists_members_to_every_member(case, viewer, api_client_for):
    response = api_client_for(viewer).get(f"/api/v1/cases/{case.pk}/members/")
    assert response.status_code == 200
    assert response.json() == [
        {"username": "alice", "role": "owner"},
        {"username": "bob", "role": "reviewer"},
        {"username": "vera", "role": "viewer"},
    ]


def test_api_outsider_gets_404(case, outsider, api_client_for):
    client = api_client_for(outsider)
    assert client.get(f"/api/v1/cases/{case.pk}/members/").status_code == 404
    response = client.post(
        f"/api/v1/cases/{case.pk}/members/", {"username": "charlie", "role": "owner"}
    )
    assert response.status_code == 404


def test_api_owner_manages_members(case, author, outsider, api_client_for):
    client = api_client_for(author)
    url = f"/api/v1/cases/{case.pk}/members/"
    created = client.post(url, {"username": "charlie", "role": "viewer"}, format="json")
    assert created.status_code == 201 and created.json() == {
        "username": "charlie",
        "role": "viewer",
    }
    changed = client.patch(url + "charlie/", {"role": "reviewer"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "reviewer"
    assert client.delete(url + "charlie/").status_code == 204
    assert role_of(case, outsider) is None


def test_api_refusals_are_4xx_with_a_sentence(case, author, reviewer, api_client_for):
    url = f"/api/v1/cases/{case.pk}/members/"
    owner = api_client_for(author)
    last = owner.patch(url + "alice/", {"role": "viewer"}, format="json")
    assert last.status_code == 409 and "last owner" in last.json()["detail"]
    assert owner.delete(url + "alice/").status_code == 409
    unknown = owner.post(url, {"username": "nobody", "role": "viewer"}, format="json")
    assert unknown.status_code == 400 and "no user named" in unknown.json()["detail"]
    bad_role = owner.post(url, {"username": "charlie", "role": "boss"}, format="json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()["detail"]
    assert owner.delete(url + "nobody/").status_code == 404
    denied = api_client_for(reviewer).patch(url + "vera/", {"role": "author"}, format="json")
    assert denied.status_code == 403 and "Only owners" in denied.json()["detail"]


# --------------------------------------------------------------------------------------------
# Members page


def test_members_page_shows_forms_only_to_owners(client, case, author, viewer):
    url = reverse("case_members", args=[case.pk])
    client.force_login(viewer)
    page = client.get(url)
    assert page.status_code == 200
    assert b"alice" in page.content and b"Add a member" not in page.content
    client.force_login(author)
    page = client.get(url)
    assert b"Add a member" in page.content and b"Remove" in page.content


def test_owner_adds_and_removes_members_from_the_page(client, case, author, outsider):
    client.force_login(author)
    added = client.post(
        reverse("case_members", args=[case.pk]), {"username": "charlie", "role": "reviewer"}
    )
    assert added.status_code == 302 and role_of(case, outsider) == "reviewer"
    client.post(reverse("case_member_role", args=[case.pk, "charlie"]), {"role": "author"})
    assert role_of(case, outsider) == "author"
    client.post(reverse("case_member_remove", args=[case.pk, "charlie"]))
    assert role_of(case, outsider) is None


def test_page_shows_why_a_change_is_refused(client, case, author):
    client.force_login(author)
    response = client.post(reverse("case_member_remove", args=[case.pk, "alice"]), follow=True)
    assert "last owner" in response.content.decode()
    response = client.post(
        reverse("case_members", args=[case.pk]), {"username": "nobody", "role": "viewer"}
    )
    assert response.status_code == 400 and "no user named" in response.content.decode()


def test_page_refuses_non_owners_and_outsiders(client, case, reviewer, outsider, viewer):
    client.force_login(reviewer)
    url = reverse("case_member_role", args=[case.pk, "vera"])
    assert client.post(url, {"role": "author"}).status_code == 403
    assert role_of(case, viewer) == "viewer"
    client.force_login(outsider)
    assert client.get(reverse("case_members", args=[case.pk])).status_code == 404
    assert client.post(url, {"role": "author"}).status_code == 404


def test_migration_makes_the_first_author_of_each_ownerless_case_its_owner(make_user):
    """Cases from before the owner role have authors only; the migration promotes the first."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("safetycase.migrations.0007_owner_role")
    first, second, other = make_user("first"), make_user("second"), make_user("other")
    old = services.case_create(name="Old case")
    services.membership_set(case=old, user=first, role=Role.AUTHOR)
    services.membership_set(case=old, user=second, role=Role.AUTHOR)
    owned = services.case_create(name="Owned case", owner=other)
    services.membership_set(case=owned, user=first, role=Role.AUTHOR)

    migration.first_authors_become_owners(apps, None)

    assert role_of(old, first) == "owner" and role_of(old, second) == "author"
    assert role_of(owned, other) == "owner" and role_of(owned, first) == "author"
    latest = Membership.history.filter(case=old, user=first).latest()
    assert (latest.history_type, latest.role) == ("~", "owner")
    assert "first author became the owner" in latest.history_change_reason
