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
    # The upload request reads at most this much of a log (its header); larger logs are
    # read, validated and identified by the worker.
    "HEADER_READ_BYTES": 1024 * 1024,
    # Caps on what one run may hold; a log over any of them is refused with a sentence.
    "MAX_SCORE_NAMES": 1000,
    "MAX_METRICS": 5000,
    "MAX_SAMPLE_ID_CHARS": 300,
    # Provenance sent with an upload (the `metadata` field): serialised size and nesting.
    "MAX_METADATA_BYTES": 65536,
    "MAX_METADATA_DEPTH": 20,
    # The sweeper sends again runs queued longer than this whose job the broker never
    # accepted (it was down), and runs whose job it accepted RESEND_SENT_AFTER_SECONDS ago and
    # that are still queued (the job was lost; a run merely waiting behind others is not sent
    # twice before then). It also recovers runs whose parsing
    # worker has not reported progress (its heartbeat) for STALE_PARSING_SECONDS: sent again,
    # or failed once MAX_INGEST_ATTEMPTS attempts have been made.
    "REQUEUE_AFTER_SECONDS": 120,
    "RESEND_SENT_AFTER_SECONDS": 3600,
    "STALE_PARSING_SECONDS": 600,
    "MAX_INGEST_ATTEMPTS": 3,
    # A sample's page reads its transcript from the stored log: at most this many bytes.
    "MAX_TRANSCRIPT_BYTES": 32 * 1024**2,
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
