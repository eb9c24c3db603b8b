"""Message helpers: how the assessment words lists, run ids, dates and statuses in its reasons
and flags."""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from safetycase.core.keys import id_key


def day_text(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def joined(items: Sequence[str], limit: int = 4) -> str:
    items = list(items)
    if len(items) > limit:
        items = [*items[: limit - 1], f"{len(items) - limit + 1} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def percent(value: float) -> str:
    return f"{value * 100:g}%"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def status_word(status: str) -> str:
    return status.replace("_", " ")


def quoted(expression_text: str) -> str:
    """An expression quoted on one line for a message: multi-line CEL (indented `&&` chains)
    would otherwise show up as literal "\\n" escapes."""
    return repr(re.sub(r"\s*\n\s*", " ", expression_text.strip()))


def task_text(selector: Mapping[str, Any]) -> str:
    task = (selector or {}).get("task")
    if task in (None, ""):
        return "any task"
    if isinstance(task, list | tuple):
        return "task " + " or ".join(repr(str(t)) for t in task)
    return f"task {str(task)!r}"


def run_ids_text(ids: frozenset[Any] | set[Any]) -> str:
    """ "run 7" or "runs 7, 9, 12 and 40 more", the smallest ids first, without sorting them
    all (a goal near the top may have thousands of runs below it)."""
    limit = 4
    if len(ids) <= limit:
        shown = [str(r) for r in sorted(ids, key=id_key)]
    else:
        shown = [str(r) for r in heapq.nsmallest(limit - 1, ids, key=id_key)]
        shown.append(f"{len(ids) - limit + 1} more")
    return f"{'run' if len(ids) == 1 else 'runs'} {joined(shown, limit)}"


def listing(ids: Sequence[str]) -> str:
    return joined(list(ids)) if ids else "none"


def is_or_are(ids: Sequence[str]) -> str:
    return "is" if len(ids) == 1 else "are"


def noun(word: str, ids: Sequence[str]) -> str:
    return word if len(ids) == 1 else word + "s"
