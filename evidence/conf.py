"""Ingestion limits, from settings.EVIDENCE (each overridable by an environment variable)."""

from __future__ import annotations

from django.conf import settings

from evidence.parsers.base import Limits

DEFAULTS = {
    "MAX_UPLOAD_BYTES": 1024**3,
    "MAX_UNCOMPRESSED_BYTES": 4 * 1024**3,
    "MAX_MEMBER_BYTES": 256 * 1024**2,
    "MAX_MEMBERS": 200_000,
    "MAX_JSON_DEPTH": 200,
    "SAMPLE_BATCH_SIZE": 2000,
}


def setting(name: str):
    return getattr(settings, "EVIDENCE", {}).get(name, DEFAULTS[name])


def limits() -> Limits:
    return Limits(
        max_uncompressed_bytes=setting("MAX_UNCOMPRESSED_BYTES"),
        max_member_bytes=setting("MAX_MEMBER_BYTES"),
        max_members=setting("MAX_MEMBERS"),
        max_json_depth=setting("MAX_JSON_DEPTH"),
    )
