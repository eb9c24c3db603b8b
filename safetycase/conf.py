"""Access to the project's own knobs in settings.SAFETYCASE, with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "DOT_RENDERER": "auto",
    "DIAGRAM_CACHE_SECONDS": 7 * 24 * 3600,
    # A page drawn for one session is kept this long under its ETag (views.conditional).
    "PAGE_CACHE_SECONDS": 300,
    # The outbox sweeper publishes a message this long after it was written or last tried.
    "OUTBOX_RETRY_SECONDS": 60,
    "OUTBOX_BATCH": 500,  # messages published per sweep at most
}


def setting(name: str) -> Any:
    return getattr(settings, "SAFETYCASE", {}).get(name, DEFAULTS[name])
