"""Review services: comments, challenges, sign-off into chained immutable versions."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from safetycase import selectors, services
from safetycase.core.versions import content_hash
from safetycase.errors import ApplicationError, Conflict, PermissionDenied
from safetycase.models import (
    Challenge,
    Comment,
    ImmutableVersionError,
    Node,
    Signature,
    Version,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def g2(case):
    return Node.objects.get(case=case, identifier="G2")


@pytest.fixture
def second_reviewer(case, make_user):
    user = make_user("rita")
    services.membership_set(case=case, user=user, role="reviewer")
    return user


def test_authors_and_reviewers_comment(g2, author, reviewer):
    services.comment_create(actor=author, node=g2, text="Why this claim?")
    services.comment_create(actor=reviewer, node=g2, text="  Because.  ")
    assert [c.text for c in selectors.node_comments(node=g2)] == ["Why this claim?", "Because."]


@pytest.mark.parametrize("persona", ["viewer", "outsider"])
def test_viewers_and_outsiders_cannot_comment(g2, persona, request):
    with pytest.raises(PermissionDenied):
        services.comment_create(actor=request.getfixturevalue(persona), node=g2, text="hi")
    assert not Comment.objects.exists()


def test_an_empty_comment_is_refused(g2, author):
    with pytest.raises(ApplicationError):
        services.comment_create(actor=author, node=g2, text="   ")


def test_reviewers_challenge_and_an_open_challenge_is_a_flag(case, g2, reviewer):
    challenge = services.challenge_create(
        actor=reviewer, node=g2, claim="Sabotage was not elicited"
    )
    assert challenge.state == "open"
    flags = selectors.open_challenge_flags(case=case)
    assert [(f["type"], f["node"]) for f in flags] == [("challenge", "G2")]
    assert "Sabotage was not elicited" in flags[0]["message"]


@pytest.mark.parametrize("persona", ["author", "viewer", "outsider"])
def test_only_reviewers_challenge(g2, persona, request):
    with pytest.raises(PermissionDenied):
        services.challenge_create(actor=request.getfixturevalue(persona), node=g2, claim="no")


@pytest.mark.parametrize("resolver", ["reviewer", "second_reviewer"])
def test_the_challenger_or_another_reviewer_resolves(case, g2, reviewer, resolver, request):
    challenge = services.challenge_create(actor=reviewer, node=g2, claim="no")
    user = request.getfixturevalue(resolver)
    services.challenge_resolve(actor=user, challenge=challenge, resolution="Added evidence Sn1")
    challenge.refresh_from_db()
    assert (challenge.state, challenge.resolved_by, challenge.resolution) == (
        "resolved",
        user,
        "Added evidence Sn1",
    )
    assert selectors.open_challenge_flags(case=case) == []
    with pytest.raises(Conflict):
        services.challenge_resolve(actor=user, challenge=challenge, resolution="again")


@pytest.mark.parametrize("persona", ["author", "viewer", "outsider"])
def test_authors_and_others_cannot_resolve(g2, reviewer, persona, request):
    challenge = services.challenge_create(actor=reviewer, node=g2, claim="no")
    with pytest.raises(PermissionDenied):
        services.challenge_resolve(
            actor=request.getfixturevalue(persona), challenge=challenge, resolution="fine"
        )
    assert Challenge.objects.get().state == "open"


def test_resolving_needs_a_note(g2, reviewer):
    challenge = services.challenge_create(actor=reviewer, node=g2, claim="no")
    with pytest.raises(ApplicationError):
        services.challenge_resolve(actor=reviewer, challenge=challenge, resolution=" ")


# --- versions


def test_a_reviewer_signs_off_a_snapshot_of_the_case(bound_case, reviewer):
    services.case_assess(case=bound_case, trigger="manual")
    version = services.version_sign_off(actor=reviewer, case=bound_case, note="Q4 baseline")
    assert version.number == 1 and version.previous_hash == ""
    assert [s.user for s in version.signatures.all()] == [reviewer]
    snapshot = version.snapshot
    assert [n["identifier"] for n in snapshot["nodes"]] == ["A1", "G1", "Sn1"]
    assert {(x["source"], x["type"], x["target"]) for x in snapshot["links"]} == {
        ("G1", "supported_by", "Sn1"),
        ("G1", "in_context_of", "A1"),
    }
    assert snapshot["bindings"][0]["node"] == "Sn1"
    assert set(snapshot["assessment"]["statuses"]) >= {"G1", "Sn1"}
    assert version.content_hash == content_hash(services.version_content_of(version))


@pytest.mark.parametrize("persona", ["author", "viewer", "outsider"])
def test_authors_viewers_and_outsiders_cannot_sign_off(case, persona, request):
    with pytest.raises(PermissionDenied):
        services.version_sign_off(actor=request.getfixturevalue(persona), case=case)
    assert not Version.objects.exists()


def test_versions_are_numbered_and_chained(case, reviewer):
    v1 = services.version_sign_off(actor=reviewer, case=case)
    services.node_create_do(case=case, identifier="G4", type="goal", statement="More")
    v2 = services.version_sign_off(actor=reviewer, case=case)
    v3 = services.version_sign_off(actor=reviewer, case=case)
    assert [v.number for v in (v1, v2, v3)] == [1, 2, 3]
    assert v2.previous_hash == v1.content_hash and v3.previous_hash == v2.content_hash
    assert services.version_content_of(v2)["previous_hash"] == v1.content_hash
    # Same content, different place in the chain: a different hash.
    assert v3.snapshot == v2.snapshot and v3.content_hash != v2.content_hash


def test_other_reviewers_add_signatures_once(case, reviewer, second_reviewer, author):
    version = services.version_sign_off(actor=reviewer, case=case)
    services.version_cosign(actor=second_reviewer, version=version)
    assert {s.user for s in Signature.objects.filter(version=version)} == {
        reviewer,
        second_reviewer,
    }
    with pytest.raises(Conflict):
        services.version_cosign(actor=second_reviewer, version=version)
    with pytest.raises(PermissionDenied):
        services.version_cosign(actor=author, version=version)


def test_a_version_cannot_be_changed_or_deleted_through_the_model(case, reviewer):
    version = services.version_sign_off(actor=reviewer, case=case)
    original = version.content_hash
    version.snapshot = {"nodes": []}
    with pytest.raises(ImmutableVersionError):
        version.save()
    version.note = "edited"
    with pytest.raises(ImmutableVersionError):
        version.save(update_fields=["note"])
    with pytest.raises(ImmutableVersionError):
        version.delete()
    stored = Version.objects.get()
    assert stored.content_hash == original and stored.snapshot["nodes"]
    assert stored.note == ""


def test_the_admin_is_read_only_for_versions(case, reviewer, make_user):
    version = services.version_sign_off(actor=reviewer, case=case)
    admin = site._registry[Version]
    request = RequestFactory().get("/")
    request.user = make_user("root")
    request.user.is_superuser = request.user.is_staff = True
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request, version)
    assert not admin.has_delete_permission(request, version)
    assert "snapshot" in admin.get_readonly_fields(request, version)


def test_verify_versions_passes_an_intact_chain(case, reviewer, capsys):
    services.version_sign_off(actor=reviewer, case=case)
    services.version_sign_off(actor=reviewer, case=case)
    call_command("verify_versions")
    assert "2 version(s) verified" in capsys.readouterr().out


def test_verify_versions_detects_a_direct_database_edit(case, reviewer, capsys):
    services.version_sign_off(actor=reviewer, case=case)
    v2 = services.version_sign_off(actor=reviewer, case=case)
    tampered = dict(v2.snapshot, nodes=[])
    Version.objects.filter(pk=v2.pk).update(snapshot=tampered)
    with pytest.raises(CommandError):
        call_command("verify_versions")
    assert f"case {case.pk} version 2: content hash" in capsys.readouterr().err


def test_verify_versions_detects_a_rewritten_chain(case, reviewer, capsys):
    v1 = services.version_sign_off(actor=reviewer, case=case)
    services.version_sign_off(actor=reviewer, case=case)
    # Re-hashing version 1 after an edit breaks the link from version 2 and its signature.
    Version.objects.filter(pk=v1.pk).update(snapshot={"nodes": []})
    edited = Version.objects.get(pk=v1.pk)
    Version.objects.filter(pk=v1.pk).update(
        content_hash=content_hash(services.version_content_of(edited))
    )
    with pytest.raises(CommandError):
        call_command("verify_versions", case=case.pk)
    err = capsys.readouterr().err
    assert "version 2: previous hash" in err
    assert "version 1: the server's signature does not match" in err


def test_a_signature_cannot_be_changed(case, reviewer, second_reviewer):
    version = services.version_sign_off(actor=reviewer, case=case)
    signature = version.signatures.get()
    signature.user = second_reviewer
    with pytest.raises(ImmutableVersionError):
        signature.save()
    assert version.signatures.get().user == reviewer
