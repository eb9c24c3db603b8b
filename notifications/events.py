"""What an event says and how a webhook body is signed: pure functions, no Django."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_HEADER = "X-Safetycase-Signature-256"
EVENT_HEADER = "X-Safetycase-Event"
DELIVERY_HEADER = "X-Safetycase-Delivery"


@dataclass(frozen=True)
class Event:
    """Something a watcher hears of. `lines` maps a node identifier to a sentence about it
    ("" for what concerns the whole case): whoever watches the case reads every line, whoever
    watches a node reads that node's lines. `also_notify` are user ids told whether or not
    they watch (the uploader of a failed run, the attester of an expiring attestation);
    `actor_id` is never told of their own action."""

    kind: str
    title: str
    lines: Mapping[str, str]
    url: str = ""
    case_id: int | None = None
    project_id: int | None = None
    actor_id: int | None = None
    also_notify: frozenset[int] = frozenset()
    dedupe_key: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def lines_for(self, watched_nodes: Iterable[str]) -> list[str]:
        """The lines a user who watches `watched_nodes` ("" = the whole case) reads."""
        watched = set(watched_nodes)
        if "" in watched:
            return list(self.lines.values())
        return [line for node, line in self.lines.items() if node in watched]

    def payload(self, *, case_name: str = "", project_name: str = "") -> dict[str, Any]:
        """The webhook body: the whole event, every line."""
        return {
            "event": self.kind,
            "title": self.title,
            "case": {"id": self.case_id, "name": case_name} if self.case_id else None,
            "project": project_name,
            "url": self.url,
            "lines": dict(self.lines),
            "data": dict(self.data),
        }


def status_change_lines(changes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """One sentence per node whose status changed (an assessment's `changes["nodes"]`);
    nodes seen for the first time are not a change anyone is waiting to hear of."""
    lines = {}
    for change in changes:
        if change.get("before") is None:
            continue
        after = change.get("after") or "removed"
        lines[change["identifier"]] = f"{change['identifier']}: {change['before']} → {after}"
    return lines


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent and signed (compact, keys sorted)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """How a receiver checks a delivery (constant-time comparison)."""
    return hmac.compare_digest(signature(secret, body), header or "")


def retry_delay_seconds(attempts: int, *, base: int = 30, ceiling: int = 3600) -> int:
    """Exponential back-off after `attempts` failed attempts: 30 s, 60 s, 120 s … at most an
    hour."""
    return min(ceiling, base * 2 ** max(0, attempts - 1))
