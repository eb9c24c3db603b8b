"""Finding nodes of a case by what a reviewer remembers of them: a part of the identifier or of
the statement, the node type, the assessed status or a flag raised on it.

Every word of the query must match (so "honeypot solution" narrows); `status:` and `flag:`
restrict a word to the status or to the flags (type or severity), which is what the counts
in the case page's header link to. Case does not matter, nor "_" against " " ("at risk").
Pure: plain values in, identifiers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_QUERY_CHARS = 200
FIELDS = ("status", "flag")


@dataclass(frozen=True)
class Term:
    field: str  # "" for any field, else one of FIELDS
    text: str


def parse_query(query: str) -> list[Term]:
    terms = []
    for word in (query or "")[:MAX_QUERY_CHARS].split():
        field, sep, text = word.partition(":")
        if sep and field.lower() in FIELDS and text:
            terms.append(Term(field.lower(), _plain(text)))
        else:
            terms.append(Term("", _plain(word)))
    return terms


def _plain(text: str) -> str:
    return text.lower().replace("_", " ")


def matching_identifiers(
    query: str,
    nodes: Iterable[Any],
    statuses: Mapping[str, str] | None = None,
    flags: Iterable[Mapping[str, Any]] = (),
) -> list[str]:
    """Identifiers of the nodes (each with `identifier`, `type` and `statement`) that match
    every word of `query`, in the order given; [] for an empty query."""
    terms = parse_query(query)
    if not terms:
        return []
    statuses = statuses or {}
    flag_words: dict[str, list[str]] = {}
    for flag in flags:
        node = flag.get("node")
        if node:
            words = flag_words.setdefault(node, [])
            words += [_plain(str(flag.get("type") or "")), _plain(str(flag.get("severity") or ""))]
    found = []
    for node in nodes:
        identifier = node.identifier
        by_field = {
            "status": [_plain(statuses.get(identifier) or "")],
            "flag": flag_words.get(identifier, []),
        }
        anything = [
            identifier.lower(),
            _plain(node.statement or ""),
            _plain(node.type or ""),
            *by_field["status"],
            *by_field["flag"],
        ]
        if all(
            any(term.text in value for value in (by_field[term.field] if term.field else anything))
            for term in terms
        ):
            found.append(identifier)
    return found
