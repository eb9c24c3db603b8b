"""The hash chain of a case's signed versions.

`chain_hash` = sha256(previous version's chain hash + "\\n" + canonical JSON of the snapshot);
the first version of a case chains to "". Stored as `Version.content_hash`; `verify_chain`
recomputes it. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from safetycase.core.keys import canonical_json

SNAPSHOT_SCHEMA = "safetycase.version/1"


def chain_hash(snapshot: dict[str, Any], previous_hash: str) -> str:
    payload = f"{previous_hash}\n{canonical_json(snapshot)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def verify_chain(versions: Iterable[Any]) -> list[str]:
    """Problems found recomputing each version's hash from its stored snapshot and the
    previous version's hash; `versions` of one case in number order (objects with `case_id`,
    `number`, `snapshot`, `previous_hash` and `content_hash`). Empty when intact."""
    problems = []
    previous_hash = ""
    for version in versions:
        where = f"case {version.case_id} version {version.number}"
        if version.previous_hash != previous_hash:
            problems.append(f"{where}: previous hash does not match the previous version")
        if chain_hash(version.snapshot, previous_hash) != version.content_hash:
            problems.append(f"{where}: content hash does not match its snapshot")
        previous_hash = version.content_hash
    return problems
