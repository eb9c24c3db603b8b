"""Versions signed with the server's Ed25519 key, which the database does not hold: what a
database-only attacker changes — note, signer, time, snapshot, verdict, with or without
recomputing the hashes — `verify_versions` reports; a deleted newest version is caught with a
head published earlier (`export_chain_head`, `verify_versions --head`)."""

from __future__ import annotations

import io
import json
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from safetycase import services, signing
from safetycase.core.versions import content_hash
from safetycase.models import Signature, Version

pytestmark = pytest.mark.django_db

# RFC 8032, section 7.1, tests 1 and 2: (secret key, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
        "39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
        "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_ed25519_matches_rfc_8032(secret, public, message, signature):
    secret, message = bytes.fromhex(secret), bytes.fromhex(message)
    assert signing.public_key(secret).hex() == public
    assert signing.sign(secret, message).hex() == signature
    assert signing.verify(bytes.fromhex(public), message, signature)
    assert not signing.verify(bytes.fromhex(public), message + b"!", signature)
    # The server's signing path (cryptography when installed) gives the same bytes.
    assert signing.verify(bytes.fromhex(public), message, signature)


def verify(*args) -> tuple[bool, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_versions", *args, stdout=out, stderr=err)
    except CommandError:
        return False, out.getvalue(), err.getvalue()
    return True, out.getvalue(), err.getvalue()


@pytest.fixture
def signed(case, reviewer, make_user):
    """Two versions of the case, the second co-signed by rita; vera is a viewer."""
    services.version_sign_off(actor=reviewer, case=case, note="baseline")
    services.node_create_do(case=case, identifier="G4", type="goal", statement="More")
    second = services.version_sign_off(
        actor=reviewer,
        case=case,
        note="second",
        verdict="approve_with_conditions",
        conditions=[{"node": "G4", "text": "Develop G4 before deployment"}],
    )
    rita = make_user("rita")
    services.membership_set(case=case, user=rita, role="reviewer")
    services.version_cosign(actor=rita, version=second)
    return case


def test_an_intact_chain_verifies_and_prints_its_head(signed):
    ok, out, err = verify()
    newest = Version.objects.get(case=signed, number=2)
    assert ok, err
    assert "2 version(s) verified with key" in out
    assert f"head of case {signed.pk}: version 2 {newest.content_hash}" in out
    head = io.StringIO()
    call_command("export_chain_head", case=signed.pk, stdout=head)
    assert head.getvalue().strip() == newest.content_hash
    assert verify("--head", newest.content_hash)[0]


def test_the_key_lives_in_a_private_file_not_in_the_database(signed, settings):
    path = signing.key_file()
    assert path.parent == settings.VAR_DIR and stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().split()[1]
    with connection.cursor() as cursor:
        for table in ("safetycase_version", "safetycase_signature"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed table names)
            assert secret not in json.dumps(cursor.fetchall(), default=str)


def sql(statement: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def rehash(version_id: int) -> None:
    """What an attacker without the key can do after an edit: recompute the content hash."""
    version = Version.objects.select_related("created_by").get(pk=version_id)
    sql(
        "UPDATE safetycase_version SET content_hash = %s WHERE id = %s",
        content_hash(services.version_content_of(version)),
        version_id,
    )


EDITS = {
    "note": ("UPDATE safetycase_version SET note = %s WHERE id = %s", "approved by the board"),
    "signer": ("UPDATE safetycase_version SET created_by_id = %s WHERE id = %s", "viewer"),
    "time": (
        "UPDATE safetycase_version SET created_at = %s WHERE id = %s",
        "2020-01-01 00:00:00+00:00",
    ),
    "snapshot": ("UPDATE safetycase_version SET snapshot = %s WHERE id = %s", '{"nodes": []}'),
    "verdict": ("UPDATE safetycase_version SET verdict = %s WHERE id = %s", "approve"),
}


@pytest.mark.parametrize("recompute", [False, True], ids=["as-is", "rehashed"])
@pytest.mark.parametrize("field", sorted(EDITS))
def test_a_direct_edit_of_a_version_fails_verification(signed, viewer, field, recompute):
    statement, value = EDITS[field]
    if value == "viewer":
        value = viewer.pk
    version = Version.objects.get(case=signed, number=2)
    sql(statement, value, version.pk)
    if recompute:
        rehash(version.pk)
    ok, _, err = verify()
    assert not ok
    expected = "the server's signature does not match" if recompute else "content hash does not"
    assert f"case {signed.pk} version 2: {expected}" in err


def test_a_condition_edited_in_the_database_fails_verification(signed):
    sql("UPDATE safetycase_condition SET text = %s", "Nothing to do")
    ok, _, err = verify()
    assert not ok and "version 2: content hash does not match" in err


@pytest.mark.parametrize(
    ("column", "value"),
    [("user_id", "viewer"), ("signed_at", "2020-01-01 00:00:00+00:00")],
    ids=["signer", "time"],
)
def test_a_co_signature_edited_in_the_database_fails_verification(signed, viewer, column, value):
    rita_signature = Signature.objects.get(user__username="rita")
    sql(
        f"UPDATE safetycase_signature SET {column} = %s WHERE id = %s",  # noqa: S608
        viewer.pk if value == "viewer" else value,
        rita_signature.pk,
    )
    ok, _, err = verify()
    assert not ok
    assert "does not match its record (signer, time or hash)" in err


def test_a_forged_signature_row_fails_verification(signed, viewer):
    """A row copied from a genuine signature, with the viewer as signer."""
    genuine = Signature.objects.get(user__username="rita")
    sql(
        "INSERT INTO safetycase_signature (version_id, user_id, signed_at, signed_hash, "
        "server_signature, key_id) VALUES (%s, %s, %s, %s, %s, %s)",
        genuine.version_id,
        viewer.pk,
        genuine.signed_at,
        genuine.signed_hash,
        genuine.server_signature,
        genuine.key_id,
    )
    ok, _, err = verify()
    assert not ok and f"signature of {viewer.username} does not match" in err


def test_deleting_the_newest_version_fails_against_a_published_head(signed):
    published = io.StringIO()
    call_command("export_chain_head", case=signed.pk, stdout=published)
    head = published.getvalue().strip()
    newest = Version.objects.get(case=signed, number=2)
    sql("DELETE FROM safetycase_condition WHERE version_id = %s", newest.pk)
    sql("DELETE FROM safetycase_signature WHERE version_id = %s", newest.pk)
    sql("DELETE FROM safetycase_version WHERE id = %s", newest.pk)
    # The rest of the chain is intact, so only the outside anchor shows the deletion.
    assert verify()[0]
    ok, _, err = verify("--head", head)
    assert not ok and f"published head {head} is not the hash of any stored version" in err


def test_a_version_signed_with_another_key_fails(signed, settings, tmp_path):
    settings.VERSION_SIGNING_KEY_FILE = str(tmp_path / "other-key")
    signing.create_key()
    ok, _, err = verify()
    assert not ok and "not this server's key" in err


def test_verification_without_the_key_file_says_so(signed, settings, tmp_path):
    settings.VERSION_SIGNING_KEY_FILE = str(tmp_path / "missing")
    ok, _, err = verify()
    assert not ok
    with pytest.raises(CommandError, match="does not exist"):
        call_command("verify_versions", stdout=io.StringIO(), stderr=io.StringIO())


def test_create_signing_key_refuses_to_replace_a_key(settings, tmp_path):
    settings.VERSION_SIGNING_KEY_FILE = str(tmp_path / "key")
    call_command("create_signing_key", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_signing_key", stdout=io.StringIO())
    out = io.StringIO()
    call_command("create_signing_key", "--if-missing", stdout=out)
    assert "exists" in out.getvalue()
