"""Sort keys, timestamps and canonical JSON shared by the core, so every listing orders the same
way (G2 before G10, integer ids before text ids) and every hash is taken of the same bytes."""

from __future__ import annotations

import functools
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=1 << 17)
def natural_key(text: Any) -> tuple[Any, ...]:
    """Sort key putting G2 before G10: the text split into letters and numbers."""
    return tuple(int(p) if i % 2 else p for i, p in enumerate(_DIGITS.split(str(text))))


def id_key(value: Any) -> tuple[Any, ...]:
    """Sort key for ids that are integers (database rows) or text (interchange): integers
    first, in numeric order, then text in natural order."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, ())
    return (1, 0, natural_key(str(value)))


def timestamp(moment: datetime | None) -> float:
    """POSIX seconds; a naive datetime is taken as UTC; None is -inf (oldest)."""
    if moment is None:
        return -math.inf
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def canonical_json(data: Any) -> str:
    """JSON with sorted keys, no insignificant whitespace and text left as UTF-8: equal data
    gives equal text, so its hash identifies the data."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
