"""Access to the project's own knobs in settings.SAFETYCASE, with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "DOT_RENDERER": "auto",
    "DIAGRAM_CACHE_SECONDS": 7 * 24 * 3600,
}


def setting(name: str) -> Any:
    return getattr(settings, "SAFETYCASE", {}).get(name, DEFAULTS[name])
