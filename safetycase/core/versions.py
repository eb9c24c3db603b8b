"""The signed content of a case's versions and the hash chain over them. Pure.

A version's signed content is the canonical JSON of: the case and version number, the
snapshot, the verdict with its reasons and conditions, the items open at sign-off, the note,
the signer and the time, and the previous version's content hash (the first version chains to
""). `content_hash` = sha256 of that JSON; the server signs
`VERSION_MESSAGE_PREFIX + content_hash` with its Ed25519 key. Every reviewer's signature is a
signature record (version, the content hash it covers, signer, time), hashed and signed by the
server the same way. `verify_versions` recomputes all of it; see `verify_chain`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from safetycase.core.keys import canonical_json

SNAPSHOT_SCHEMA = "safetycase.version/1"
SIGNED_SCHEMA = "safetycase.signed-version/2"
SIGNATURE_SCHEMA = "safetycase.version-signature/1"
VERSION_MESSAGE_PREFIX = b"safetycase version content hash\n"
SIGNATURE_MESSAGE_PREFIX = b"safetycase version signature hash\n"


def moment(value: datetime) -> str:
    """A timestamp as it is signed: ISO 8601 in UTC with microseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def person(user_id: int, username: str) -> dict[str, Any]:
    return {"id": user_id, "username": username}


def version_content(
    *,
    case_id: int,
    number: int,
    snapshot: dict[str, Any],
    verdict: str,
    reasons: str,
    conditions: Iterable[dict[str, str]],
    open_items: dict[str, Any],
    note: str,
    created_by: dict[str, Any],
    created_at: datetime,
    previous_hash: str,
) -> dict[str, Any]:
    return {
        "schema": SIGNED_SCHEMA,
        "case": case_id,
        "number": number,
        "snapshot": snapshot,
        "verdict": verdict,
        "reasons": reasons,
        "conditions": sorted(
            ({"node": c["node"], "text": c["text"]} for c in conditions), key=canonical_json
        ),
        "open_items": open_items,
        "note": note,
        "created_by": created_by,
        "created_at": moment(created_at),
        "previous_hash": previous_hash,
    }


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def signature_content(
    *, case_id: int, number: int, signed_hash: str, signer: dict[str, Any], signed_at: datetime
) -> dict[str, Any]:
    return {
        "schema": SIGNATURE_SCHEMA,
        "case": case_id,
        "number": number,
        "signed_hash": signed_hash,
        "signer": signer,
        "signed_at": moment(signed_at),
    }


def version_message(hash_: str) -> bytes:
    return VERSION_MESSAGE_PREFIX + hash_.encode("ascii")


def signature_message(hash_: str) -> bytes:
    return SIGNATURE_MESSAGE_PREFIX + hash_.encode("ascii")


def chain_hash(snapshot: dict[str, Any], previous_hash: str) -> str:
    """The hash of the first versions (schema safetycase.version/1), which signed only the
    snapshot and the previous hash; kept so that their digest can still be shown."""
    payload = f"{previous_hash}\n{canonical_json(snapshot)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def verify_chain(
    versions: Iterable[dict[str, Any]],
    *,
    key_id: str,
    verify_signature: Callable[[bytes, str], bool],
) -> list[str]:
    """Problems found in one case's versions, in number order; empty when intact.

    Each item of `versions` is a dict with `number`, `content` (the version_content rebuilt
    from the stored row), the stored `content_hash`, `previous_hash`, `server_signature`,
    `key_id` and `signatures` (dicts with `content` from signature_content, `server_signature`
    and `key_id`). `verify_signature(message, signature_hex)` checks an Ed25519 signature
    with the server's public key, whose id is `key_id`.
    """
    problems: list[str] = []
    previous_hash = ""
    expected_number = 1
    for version in versions:
        where = f"case {version['content']['case']} version {version['number']}"
        if version["number"] != expected_number:
            problems.append(f"{where}: version {expected_number} is missing before it")
        expected_number = version["number"] + 1
        if version["previous_hash"] != previous_hash:
            problems.append(f"{where}: previous hash does not match the previous version")
        recomputed = content_hash(version["content"])
        if recomputed != version["content_hash"]:
            problems.append(f"{where}: content hash does not match its signed content")
        if version["key_id"] != key_id:
            problems.append(
                f"{where}: signed with key {version['key_id'] or '(none)'}, not this server's "
                f"key {key_id}"
            )
        elif not verify_signature(version_message(recomputed), version["server_signature"]):
            problems.append(f"{where}: the server's signature does not match its content")
        if not version["signatures"]:
            problems.append(f"{where}: has no reviewer signature")
        for signature in version["signatures"]:
            record = signature["content"]
            who = f"{where}: signature of {record['signer']['username']}"
            if record["signed_hash"] != recomputed:
                problems.append(f"{who} covers another content hash")
            if signature["key_id"] != key_id:
                problems.append(f"{who} was made with key {signature['key_id'] or '(none)'}")
            elif not verify_signature(
                signature_message(content_hash(record)), signature["server_signature"]
            ):
                problems.append(f"{who} does not match its record (signer, time or hash)")
        previous_hash = version["content_hash"]
    return problems
