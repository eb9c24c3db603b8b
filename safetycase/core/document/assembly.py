"""The data the Typst template (`case.typ`) reads, built from the exported case (pure: no Django).

`build_document(data, diagrams=..., content_hash=...)` turns the plain data that
`safetycase.selectors.exports.case_export_data` gathers into the JSON document the template
prints. User text is only ever a JSON string here: the template places strings as text, never
as markup, so a statement such as `#set page(width: 1cm)` prints as written.

The exported data (input) is:

    {"schema", "case": {id, name, model_name, model_version, deployment, description},
     "version": {id, label, hash, previous_hash, note, signed_at,
                 signers: [{name, role, at}]},           # id/hash null for the working copy
     "as_of",                                            # latest timestamp of the data (ISO)
     "group_titles": {group: title},
     "nodes": [{identifier, type, statement, undeveloped, module, template_ref, combination,
                catalogue_id, requires_attestation}],
     "links": [{source, target, type, target_relation}],
     "bindings": [{id, node, kind, selector, freshness_days, expression, description}],
     "attestations": [{id, node, by, statement, scope, created_at, expires_at}],
     "assessment": null | {id, created_at, trigger, trigger_label, trigger_detail, top_goal,
                           overall_status, statuses, reasons, flags, summary, changes,
                           previous_created_at},
     "citations": [see safetycase.core.document.evidence],
     "runs": [{id, harness, harness_version, format, task, task_version, model, model_version,
               log_status, started_at, finished_at, ingested_at, sample_count, total_samples,
               error_count, uploaded_by, uploaded_at, log_name, log_sha256, samples_sha256,
               statistics: [{name, k, n, rate, cp_lower, cp_upper, cp_upper_one_sided,
                             wilson_lower, wilson_upper}],
               metrics: [{name, scorer, reducer, metric, group, value}]}],
     "previous_version": null | {number, hash, signed_at, signed_by},
         # the working copy: the latest signed version; version N: version N-1
     "version_changes": null | safetycase.core.diff.diff_snapshots(previous version, this)}

Its content hash (`content_hash`) is the sha256 of its canonical JSON: sorted keys, no
insignificant whitespace, UTF-8. The same data gives the same document and the same hash; the
only dates printed are the data's own.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from evidence import statistics
from safetycase.core import criteria_wording
from safetycase.core.document.parts import MAX_SCALE
from safetycase.core.gsn import navigation
from safetycase.core.keys import canonical_json, id_key, natural_key

SCHEMA = 1
STATUS_ORDER = ("supported", "at_risk", "defeated", "undeveloped")
STATUS_LABELS = {
    "supported": "supported",
    "at_risk": "at risk",
    "defeated": "defeated",
    "undeveloped": "undeveloped",
}
# Assumptions hold rather than being supported.
ASSUMPTION_LABELS = {
    "supported": "holds",
    "at_risk": "unverified",
    "defeated": "violated",
    "undeveloped": "undeveloped",
}
TYPE_LABELS = {
    "goal": "Goal",
    "strategy": "Strategy",
    "solution": "Solution",
    "context": "Context",
    "assumption": "Assumption",
    "justification": "Justification",
    "counter_goal": "Counter-goal",
    "counter_solution": "Counter-solution",
}
TYPE_ORDER = tuple(TYPE_LABELS)
CONTEXTUAL = frozenset({"context", "assumption", "justification"})
SEVERITY_ORDER = ("error", "warning", "info")
ROLE_LABELS = {
    "evidence": "evidence",
    "scope": "evidence in scope",
    "stale": "stale (outside the freshness window)",
    "unsuccessful": "not successful (harness error)",
    "model_mismatch": "other model or version (not counted)",
}
VERSION_WORKING_COPY = {
    "id": None,
    "label": "working copy",
    "hash": None,
    "previous_hash": None,
    "note": "",
    "signed_at": None,
    "signers": [],
}

# The summary lists at most this many rows of each kind of change since the previous signed
# version (a first sign-off of a large case would otherwise fill pages); the rest are counted.
CHANGES_SHOWN = 25

BOUND_LABELS = {
    "rate": "observed rate",
    "cp_upper": "one-sided Clopper–Pearson upper bound",
    "cp_lower": "one-sided Clopper–Pearson lower bound",
    "cs_upper": "confidence-sequence upper bound",
    "wilson_upper": "Wilson upper bound",
    "wilson_lower": "Wilson lower bound",
}
# An interval chart draws at most this many runs (the rest are counted).
CHART_RUNS = 30

# Long unbroken text (hashes pasted into statements, URLs, hostile 500-character words) gets
# zero-width break opportunities so it wraps instead of running off the page.
LONG_TOKEN = 24
BREAK_EVERY = 12
ZWSP = "\u200b"
_TOKEN = re.compile(rf"\S{{{LONG_TOKEN + 1},}}")
_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]*)-.")
_NO_BREAK_BEFORE = {"Mn", "Mc", "Me", "Sk", "Lm"}
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u034f"}


# --------------------------------------------------------------------------------------------
# Small helpers (also used by the other export modules)


def content_hash(data: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the exported data."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def anchor(kind: str, identifier: Any) -> str:
    """A Typst label name for an element: `kind-` + the identifier with every character other
    than ASCII letters, digits and '-' written as `_<hex>_` (so distinct identifiers never
    share a label)."""
    safe = "".join(
        c if (c.isascii() and c.isalnum()) or c == "-" else f"_{ord(c):x}_" for c in str(identifier)
    )
    return f"{kind}-{safe}"


def breakable(text: Any) -> str:
    """`text` with zero-width spaces inside runs of more than LONG_TOKEN non-space characters:
    after `.`, `_`, `/`, `-` and operators, and every BREAK_EVERY characters inside a single
    word longer than LONG_TOKEN (never inside a grapheme cluster)."""
    if text is None:
        return ""
    text = str(text)
    if len(text) <= LONG_TOKEN:
        return text
    return _TOKEN.sub(_break_token, text)


# Code and identifiers wrap after these (`meta.successor_justification` wraps at `.` or `_`),
# never inside a word; only a single word longer than LONG_TOKEN is cut every BREAK_EVERY.
_SOFT_BREAKS = re.compile(r"(?<=[._/,;:=&|\-])(?=.)")


def _break_token(match: re.Match[str]) -> str:
    pieces = _SOFT_BREAKS.split(match.group(0))
    return ZWSP.join(_cut(p) if len(p) > LONG_TOKEN else p for p in pieces)


def _cut(token: str) -> str:
    out: list[str] = []
    run = 0
    for i, char in enumerate(token):
        out.append(char)
        run += 1
        following = token[i + 1] if i + 1 < len(token) else ""
        if (
            run >= BREAK_EVERY
            and following
            and char not in _JOINERS
            and following not in _JOINERS
            and unicodedata.category(following) not in _NO_BREAK_BEFORE
            and not ("\ud800" <= following <= "\udfff")
            and not (0x1F3FB <= ord(following) <= 0x1F3FF)  # skin-tone modifiers
            and not (0xE0020 <= ord(following) <= 0xE007F)  # tag characters (flags)
            and not (0x1F1E6 <= ord(char) <= 0x1F1FF and 0x1F1E6 <= ord(following) <= 0x1F1FF)
        ):
            out.append(ZWSP)
            run = 0
    return "".join(out)


def when(value: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM UTC' ('' for none)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.utcoffset() is not None else "")


def day(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d") if value else ""


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return "NaN"
        return f"{value:.{digits}g}"
    return breakable(value)


def group_of(node: Mapping[str, Any]) -> str:
    """The argument a node belongs to: its module, else the template it was instantiated from
    (not the assumption catalogue), else its identifier prefix (`SI-G1` → SI), else ''."""
    if node.get("module"):
        return str(node["module"])
    ref = str(node.get("template_ref") or "")
    if ":" in ref:
        template = ref.split(":", 1)[0]
        if template and template != "assumptions":  # the assumption catalogue
            return template
    match = _PREFIX.match(str(node.get("identifier", "")))
    return match.group(1) if match else ""


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", "no status")


def selector_text(selector: Any) -> str:
    """A binding selector in words: task, version, model and conditions."""
    if not isinstance(selector, Mapping) or not selector:
        return "the evidence runs of the solutions in scope"
    parts = []
    task = selector.get("task")
    if isinstance(task, list | tuple):
        parts.append("task " + " or ".join(str(t) for t in task))
    elif task:
        parts.append(f"task {task}")
    if selector.get("task_version"):
        parts.append(f"version {selector['task_version']}")
    if selector.get("model"):
        parts.append(f"model {selector['model']}")
    if selector.get("model_version"):
        parts.append(f"model version {selector['model_version']}")
    conditions = selector.get("conditions")
    if isinstance(conditions, Mapping) and conditions:
        parts.append(
            "where " + ", ".join(f"{k} = {_plain(v)}" for k, v in sorted(conditions.items()))
        )
    score = selector.get("scorer") or selector.get("metric")
    if score:
        parts.append(f"score {score}")
    return breakable(", ".join(parts) or "any run")


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " or ".join(_plain(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _combination(value: str, children: int) -> str:
    value = (value or "all").strip()
    if value == "any":
        return "one supporting element suffices"
    if value.startswith("at_least:"):
        return f"at least {value.split(':', 1)[1]} of {children} supporting elements must hold"
    return "all supporting elements must hold" if children > 1 else ""


# --------------------------------------------------------------------------------------------
# The argument in reading order


def argument_order(
    nodes: Sequence[Mapping[str, Any]], links: Sequence[Mapping[str, Any]], top: str | None
) -> tuple[list[tuple[str, int, str | None]], dict[str, list[str]]]:
    """Depth-first order of the tree elements (goals, strategies, solutions, counter elements)
    from the top goal over supported_by (challengers follow the element they challenge), then
    from every other element no other one supports. Returns [(identifier, depth, parent)] with
    every element once (its first visit; depth 1 for a root) and the children of each."""
    type_of = {n["identifier"]: n["type"] for n in nodes}
    tree = sorted((i for i, t in type_of.items() if t not in CONTEXTUAL), key=natural_key)
    children: dict[str, set[str]] = {}
    has_parent: set[str] = set()
    for link in links:
        s, t = link["source"], link["target"]
        if s == t or s not in type_of or t not in type_of:
            continue
        if link["type"] == "supported_by" and type_of[t] not in CONTEXTUAL:
            children.setdefault(s, set()).add(t)
            has_parent.add(t)
        elif link["type"] == "challenges" and type_of[s] not in CONTEXTUAL:
            children.setdefault(t, set()).add(s)
            has_parent.add(s)
    ordered_children = {k: sorted(v, key=natural_key) for k, v in children.items()}
    roots = [top] if top in type_of else []
    roots += [i for i in tree if i not in has_parent and i not in roots]
    roots += tree  # cycles: whatever is left starts its own walk
    out: list[tuple[str, int, str | None]] = []
    seen: set[str] = set()
    for root in roots:
        if root in seen or type_of.get(root) in CONTEXTUAL:
            continue
        stack: list[tuple[str, int, str | None]] = [(root, 1, None)]
        while stack:
            identifier, depth, parent = stack.pop()
            if identifier in seen:
                continue
            seen.add(identifier)
            out.append((identifier, depth, parent))
            for child in reversed(ordered_children.get(identifier, [])):
                if child not in seen:
                    stack.append((child, depth + 1, identifier))
    return out, ordered_children


def top_goal(nodes: Sequence[Mapping[str, Any]], links: Sequence[Mapping[str, Any]]) -> str | None:
    """The root goal (the first, when several): the rule of `navigation.top_goal`."""
    return navigation.top_goal(
        ((n["identifier"], n["type"]) for n in nodes), ((k["target"], k["type"]) for k in links)
    )


# --------------------------------------------------------------------------------------------
# The document


def build_document(
    data: Mapping[str, Any],
    *,
    diagrams: Sequence[Mapping[str, Any]] = (),
    content_hash: str,
    pdfa: bool = False,
) -> dict[str, Any]:
    """The JSON document `case.typ` prints. `diagrams` are the planned diagram pages:
    {number, title, subtitle, file, members, width, height, page: {paper, flipped, scale,
    margin}} (see safetycase.core.document.parts)."""
    return _Builder(data, diagrams).build(content_hash=content_hash, pdfa=pdfa)


class _Builder:
    def __init__(self, data: Mapping[str, Any], diagrams: Sequence[Mapping[str, Any]]) -> None:
        self.data = data
        self.case = data["case"]
        self.nodes = {n["identifier"]: n for n in data["nodes"]}
        self.links = list(data["links"])
        self.assessment = data.get("assessment") or {}
        self.statuses: dict[str, str] = dict(self.assessment.get("statuses") or {})
        self.reasons: dict[str, str] = dict(self.assessment.get("reasons") or {})
        self.flags = sorted(
            self.assessment.get("flags") or [],
            key=lambda f: (
                SEVERITY_ORDER.index(f["severity"]) if f["severity"] in SEVERITY_ORDER else 9,
                natural_key(f.get("node") or "~"),
                f.get("type", ""),
                f.get("rule") or "",
                str(f.get("run") or ""),
                f.get("message", ""),
            ),
        )
        self.runs = {r["id"]: r for r in data.get("runs") or []}
        self.bindings = sorted(
            data.get("bindings") or [], key=lambda b: (natural_key(b["node"]), str(b["id"]))
        )
        self.citations = list(data.get("citations") or [])
        self.attestations = sorted(
            data.get("attestations") or [],
            key=lambda a: (natural_key(a["node"]), a.get("created_at") or "", str(a["id"])),
        )
        self.diagrams = list(diagrams)
        self.diagram_of: dict[str, int] = {}
        for diagram in self.diagrams:
            for identifier in diagram.get("members", ()):
                self.diagram_of.setdefault(identifier, diagram["number"])
        self.top = self.assessment.get("top_goal") or top_goal(data["nodes"], self.links)
        self.order, self.children = argument_order(data["nodes"], self.links, self.top)
        self.anchors: dict[str, str] = {}
        for identifier, node in self.nodes.items():
            kind = {"assumption": "assumption", "context": "context", "justification": "context"}
            self.anchors[identifier] = anchor(kind.get(node["type"], "node"), identifier)
        self.run_anchors = {run_id: anchor("run", run_id) for run_id in self.runs}

    # -- references -----------------------------------------------------------------------

    def ref(self, identifier: str | None) -> dict[str, Any]:
        identifier = identifier or ""
        # "" when not assessed: the template looks statuses up in dictionaries, which need a
        # string (a version signed off before any assessment has no statuses at all).
        status = self.statuses.get(identifier) or ""
        words = ""
        if status:
            words = status_label(status)
            if self.nodes.get(identifier, {}).get("type") == "assumption":
                words = ASSUMPTION_LABELS.get(status, words)
        return {
            "id": breakable(identifier),
            "anchor": self.anchors.get(identifier),
            "status": status,
            "status_label": words,
        }

    def run_ref(self, run_id: Any) -> dict[str, Any] | None:
        if run_id is None or run_id == "":
            return None
        return {"id": str(run_id), "anchor": self.run_anchors.get(run_id)}

    def flag(self, flag: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "severity": flag.get("severity", ""),
            "type": flag.get("type", "").replace("_", " "),
            # An assumption's flags name the assumption as their rule: said once, as the node.
            "rule": breakable(flag.get("rule") or "")
            if flag.get("rule") != flag.get("node")
            else "",
            "node": self.ref(flag.get("node")) if flag.get("node") else None,
            "run": self.run_ref(flag.get("run")),
            "message": breakable(flag.get("message", "")),
        }

    # -- sections -------------------------------------------------------------------------

    def build(self, *, content_hash: str, pdfa: bool) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "meta": {
                "title": f"{self.case['name']} — safety case",
                "pdfa": pdfa,
                "as_of": self.data.get("as_of"),
            },
            "cover": self.cover(content_hash),
            "document_id": self.document_id(content_hash),
            "executive": self.executive(),
            "summary": self.summary(),
            "review": self.review_record(),
            "signatures": self.signatures(content_hash),
            "diagrams": self.diagram_pages(),
            "argument": self.argument(),
            "contexts": self.contexts(),
            "assumptions": self.assumptions(),
            "flags": [self.flag(f) for f in self.flags],
            "runs": self.evidence(),
        }

    def cover(self, content_hash: str) -> dict[str, Any]:
        version = {**VERSION_WORKING_COPY, **(self.data.get("version") or {})}
        top = self.nodes.get(self.top or "")
        overall = self.assessment.get("overall_status") or self.statuses.get(self.top or "")
        return {
            "title": breakable(self.case["name"]),
            "model": breakable(self.case.get("model_name") or "—"),
            "model_version": breakable(self.case.get("model_version") or ""),
            "deployment": breakable(self.case.get("deployment") or "—"),
            "description": breakable(self.case.get("description") or ""),
            "version": {
                "id": version["id"],
                "label": breakable(version["label"]),
                "hash": version["hash"],
                "previous_hash": version.get("previous_hash") or "",
                "note": breakable(version.get("note") or ""),
                "signed_at": when(version["signed_at"]),
            },
            "latest_version": self.version_ref(self.data.get("previous_version"))
            if version["id"] is None
            else None,
            "content_hash": content_hash,
            "as_of": when(self.data.get("as_of")),
            "assessed": when(self.assessment.get("created_at")),
            "signers": [
                {
                    "name": breakable(s.get("name", "")),
                    "role": s.get("role", ""),
                    "at": when(s.get("at")),
                }
                for s in version["signers"]
            ],
            "overall": overall or "",
            "overall_label": status_label(overall) if overall else "not assessed",
            "top": self.ref(self.top) if top else None,
            "top_statement": breakable(top["statement"]) if top else "",
            "node_count": len(self.nodes),
            "run_count": len(self.runs),
        }

    def document_id(self, content_hash: str) -> str:
        """Case, version and hash prefix: printed in every page footer, so a loose page still
        names the document it belongs to."""
        version = self.data.get("version") or {}
        label = f"v{version['id']}" if version.get("id") is not None else "working copy"
        digest = version.get("hash") or content_hash
        return f"case {self.case.get('id', '—')} · {label} · {str(digest)[:12]}"

    def executive(self) -> dict[str, Any]:
        """One page for a board: the verdict, why in three sentences, what would change it, and
        how fresh the evidence is."""
        version = self.data.get("version") or {}
        overall = self.assessment.get("overall_status") or self.statuses.get(self.top or "")
        top = self.nodes.get(self.top or "")
        counts = {s: 0 for s in STATUS_ORDER}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        errors = sum(1 for f in self.flags if f.get("severity") == "error")
        why = []
        if top:
            # The assessment's reason already names the goal and its status.
            why.append(
                self.reasons.get(self.top or "")
                or f"The top goal {self.top} is {status_label(overall)}."
            )
        else:
            why.append("The case has no top goal yet.")
        why.append(
            f"Of {len(self.statuses)} assessed elements, {counts['supported']} are supported, "
            f"{counts['at_risk']} at risk, {counts['defeated']} defeated and "
            f"{counts['undeveloped']} undeveloped."
        )
        unmet = [
            i
            for i in sorted(self.nodes, key=natural_key)
            if self.nodes[i]["type"] == "assumption" and self.statuses.get(i) != "supported"
        ]
        why.append(
            f"The latest assessment raised {len(self.flags)} flags ({errors} errors); "
            + (
                f"{len(unmet)} assumptions do not yet hold ({', '.join(unmet[:6])}"
                + (", …" if len(unmet) > 6 else "")
                + ")."
                if unmet
                else "every assumption holds."
            )
        )
        return {
            "verdict": breakable(version.get("verdict") or ""),
            "overall": overall or "",
            "overall_label": status_label(overall) if overall else "not assessed",
            "top": self.ref(self.top) if top else None,
            "top_statement": breakable(top["statement"]) if top else "",
            "why": [breakable(w) for w in why],
            "would_change": self.would_change(),
            "freshness": self.freshness(),
        }

    def would_change(self) -> list[dict[str, Any]]:
        """What could change the verdict soonest: the criteria met with the least margin to
        their threshold, attestations closest to expiry, open conditions and challenges."""
        out: list[dict[str, Any]] = []
        margins = []
        for binding in self.bindings:
            wording = criteria_wording.describe(binding.get("expression", ""))
            shape = wording.shape
            if shape is None or shape.comparison not in ("<=", "<"):
                continue
            for c in self.citations:
                if c["binding"] != binding["id"] or c["role"] != "evidence":
                    continue
                stats = (self.runs.get(c["run"]) or {}).get("statistics") or []
                if not stats:
                    continue
                value = stats[0].get("rate" if shape.bound == "rate" else "cp_upper_one_sided")
                if value is None:
                    continue
                margins.append((shape.threshold - float(value), binding, c["run"], value, shape))
        for margin, binding, run_id, value, shape in sorted(margins, key=lambda m: m[0])[:3]:
            out.append(
                {
                    "kind": "criterion",
                    "node": self.ref(binding["node"]),
                    "text": breakable(
                        f"{'observed rate' if shape.bound == 'rate' else 'upper bound'} "
                        f"{number(value)} against threshold {number(shape.threshold)} "
                        f"(margin {number(margin)}, run {run_id})"
                    ),
                }
            )
        expiring = sorted(
            (a for a in self.attestations if a.get("expires_at")), key=lambda a: a["expires_at"]
        )
        for a in expiring[:3]:
            out.append(
                {
                    "kind": "attestation",
                    "node": self.ref(a["node"]),
                    "text": breakable(f"attestation by {a['by']} expires {day(a['expires_at'])}"),
                }
            )
        review = self.data.get("review") or {}
        for c in review.get("conditions") or []:
            if c.get("state") == "open":
                out.append(
                    {
                        "kind": "condition",
                        "node": self.ref(c["node"]),
                        "text": breakable(f"open condition: {c['text']}"),
                    }
                )
        for c in review.get("challenges") or []:
            if c.get("state") != "resolved":
                out.append(
                    {
                        "kind": "challenge",
                        "node": self.ref(c["node"]),
                        "text": breakable(f"open challenge by {c['raised_by']}: {c['claim']}"),
                    }
                )
        return out[:6]

    def freshness(self) -> str:
        """How old the evidence is at the assessment: its oldest and newest evidence runs."""
        # Distinct runs: one run cited by several bindings is one run of evidence.
        evidence_runs = {c["run"] for c in self.citations if c["role"] == "evidence"}
        finished = sorted(
            found
            for found in ((self.runs.get(run) or {}).get("finished_at") for run in evidence_runs)
            if found
        )
        stale = sum(1 for c in self.citations if c["role"] == "stale")
        if not finished:
            return "No evidence run is cited" + (
                f"; {stale} bindings have only stale runs." if stale else "."
            )
        words = (
            f"{len(finished)} evidence runs, finished between {day(finished[0])} and "
            f"{day(finished[-1])}"
        )
        if self.assessment.get("created_at"):
            age = datetime.fromisoformat(self.assessment["created_at"]) - datetime.fromisoformat(
                finished[0]
            )
            words += f"; the oldest was {max(0, age.days)} days old at the assessment"
        if stale:
            words += f"; {stale} bindings cite only runs outside their freshness window"
        return words + "."

    def review_record(self) -> dict[str, Any]:
        review = self.data.get("review") or {}

        def row(item: Mapping[str, Any], *fields: str) -> dict[str, Any]:
            out = {"node": self.ref(item.get("node"))}
            for field in fields:
                value = item.get(field)
                out[field] = when(value) if field.endswith("_at") or field == "at" else value
                if isinstance(out[field], str):
                    out[field] = breakable(out[field])
            return out

        return {
            "comments": [row(c, "by", "at", "text") for c in review.get("comments") or []],
            "challenges": [
                row(
                    c,
                    "claim",
                    "raised_by",
                    "raised_at",
                    "state",
                    "response",
                    "responded_by",
                    "responded_at",
                    "resolution",
                    "resolved_by",
                    "resolved_at",
                )
                for c in review.get("challenges") or []
            ],
            "attestations": [
                {
                    "node": self.ref(a["node"]),
                    "by": breakable(a["by"]),
                    "statement": breakable(a["statement"]),
                    "created": day(a.get("created_at")),
                    "expires": day(a.get("expires_at")) or "no expiry",
                }
                for a in self.attestations
            ],
            "conditions": [
                row(c, "text", "version", "state", "closed_by", "closed_at")
                for c in review.get("conditions") or []
            ],
            "withdrawals": [
                {**row(w, "reason", "by", "at"), "run": self.run_ref(w.get("run"))}
                for w in review.get("withdrawals") or []
            ],
            "criterion_changes": [
                row(c, "before", "after", "by", "at") for c in review.get("criterion_changes") or []
            ],
        }

    def signatures(self, content_hash: str) -> dict[str, Any] | None:
        """The signature block of a signed version (None for the working copy)."""
        version = self.data.get("version") or {}
        if version.get("id") is None:
            return None
        return {
            "signers": [
                {
                    "name": breakable(s.get("name", "")),
                    "role": breakable(s.get("role") or "reviewer"),
                    "verdict": breakable(s.get("verdict") or version.get("verdict") or ""),
                    "at": when(s.get("at")),
                }
                for s in version.get("signers") or []
            ],
            "verdict": breakable(version.get("verdict") or ""),
            "conditions": [
                breakable(f"{c.get('node', '')}: {c.get('text', '')}")
                for c in version.get("conditions") or []
            ],
            "hash": version.get("hash") or "",
            "previous_hash": version.get("previous_hash") or "",
            "signature": breakable(version.get("signature") or ""),
            "key_id": version.get("key_id") or "",
            "document_hash": content_hash,
        }

    def summary(self) -> dict[str, Any]:
        counts = {s: 0 for s in STATUS_ORDER}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        types: dict[str, int] = {}
        for node in self.nodes.values():
            types[node["type"]] = types.get(node["type"], 0) + 1
        severities = {s: 0 for s in SEVERITY_ORDER}
        kinds: dict[str, int] = {}
        for flag in self.flags:
            severities[flag["severity"]] = severities.get(flag["severity"], 0) + 1
            kinds[flag["type"]] = kinds.get(flag["type"], 0) + 1
        unmet = [
            {
                **self.ref(i),
                "statement": breakable(self.nodes[i]["statement"]),
                "reason": breakable(self.reasons.get(i, "")),
            }
            for i in sorted(self.nodes, key=natural_key)
            if self.nodes[i]["type"] == "assumption" and self.statuses.get(i) != "supported"
        ]
        changes = self.assessment.get("changes") or {}
        top = self.top if self.top in self.nodes else None
        return {
            "assessed": bool(self.assessment),
            "assessed_at": when(self.assessment.get("created_at")),
            "trigger": breakable(
                " — ".join(
                    x
                    for x in (
                        self.assessment.get("trigger_label"),
                        self.assessment.get("trigger_detail"),
                    )
                    if x
                )
            ),
            "top": {
                **self.ref(top),
                "statement": breakable(self.nodes[top]["statement"]),
                "reason": breakable(self.reasons.get(top, "")),
            }
            if top
            else None,
            "status_counts": [
                {"status": s, "label": status_label(s), "count": counts.get(s, 0)}
                for s in STATUS_ORDER
            ],
            "type_counts": [
                {"label": TYPE_LABELS[t], "count": types[t]} for t in TYPE_ORDER if t in types
            ]
            + [
                {"label": breakable(t), "count": n}
                for t, n in sorted(types.items())
                if t not in TYPE_LABELS
            ],
            "flag_counts": [{"severity": s, "count": severities[s]} for s in severities],
            "flag_types": [
                {"type": t.replace("_", " "), "count": n}
                for t, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "unmet": unmet,
            "changes": {
                "previous": when(self.assessment.get("previous_created_at")),
                "nodes": [
                    {
                        **self.ref(c["identifier"]),
                        "before": status_label(c.get("before")) if c.get("before") else "—",
                        "after": status_label(c.get("after")) if c.get("after") else "removed",
                        "after_status": c.get("after") or "",
                    }
                    for c in changes.get("nodes") or []
                ],
                "added": [self.flag(f) for f in changes.get("flags_added") or []],
                "cleared": [self.flag(f) for f in changes.get("flags_cleared") or []],
            },
            "since_version": self.since_version(),
        }

    def version_ref(self, ref: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not ref:
            return None
        return {
            "number": ref["number"],
            "label": f"version {ref['number']}",
            "hash": ref.get("hash") or "",
            "signed_at": when(ref.get("signed_at")),
            "signed_by": breakable(ref.get("signed_by") or ""),
        }

    def since_version(self) -> dict[str, Any]:
        """What changed since the previous signed version (safetycase.core.diff.diff_snapshots of
        that version and this document's data), in words."""
        diff = self.data.get("version_changes") or {}
        overall = diff.get("overall_status") or {}
        before_overall, after_overall = overall.get("before"), overall.get("after")

        def element(node: Mapping[str, Any]) -> dict[str, Any]:
            return {
                **self.ref(node["identifier"]),
                "type": TYPE_LABELS.get(node.get("type", ""), node.get("type", "")),
                "statement": breakable(node.get("statement", "")),
            }

        def edit(change: Mapping[str, Any]) -> dict[str, Any]:
            fields = change.get("fields") or {}
            words = []
            if "type" in fields:
                words.append(
                    "type "
                    + " → ".join(
                        TYPE_LABELS.get(fields["type"][k], str(fields["type"][k]))
                        for k in ("before", "after")
                    )
                )
            if "undeveloped" in fields:
                words.append(
                    "marked undeveloped"
                    if fields["undeveloped"]["after"]
                    else "no longer marked undeveloped"
                )
            statement = fields.get("statement")
            return {
                **self.ref(change["identifier"]),
                "what": ", ".join(words),
                "statement_before": breakable(statement["before"]) if statement else "",
                "statement_after": breakable(statement["after"]) if statement else "",
            }

        def capped(items: list[dict[str, Any]]) -> dict[str, Any]:
            return {"items": items[:CHANGES_SHOWN], "more": max(0, len(items) - CHANGES_SHOWN)}

        return {
            "previous": self.version_ref(self.data.get("previous_version")),
            "of_version": (self.data.get("version") or {}).get("id") is not None,
            "overall_changed": before_overall != after_overall,
            "overall_before": status_label(before_overall) if before_overall else "not assessed",
            "overall_after": status_label(after_overall) if after_overall else "not assessed",
            "overall_after_status": after_overall or "",
            "added": capped([element(n) for n in diff.get("nodes_added") or []]),
            "removed": capped([element(n) for n in diff.get("nodes_removed") or []]),
            "edited": capped([edit(c) for c in diff.get("nodes_changed") or []]),
            "statuses": capped(
                [
                    {
                        **self.ref(c["identifier"]),
                        "before": status_label(c.get("before")) if c.get("before") else "—",
                        "after": status_label(c.get("after")) if c.get("after") else "removed",
                        "after_status": c.get("after") or "",
                    }
                    for c in sorted(
                        diff.get("status_changes") or [],
                        key=lambda c: natural_key(c["identifier"]),
                    )
                ]
            ),
            "flags_added": capped([self.flag(f) for f in diff.get("flags_added") or []]),
            "flags_cleared": capped([self.flag(f) for f in diff.get("flags_cleared") or []]),
        }

    def diagram_pages(self) -> list[dict[str, Any]]:
        out = []
        for diagram in self.diagrams:
            page = diagram["page"]
            out.append(
                {
                    "number": diagram["number"],
                    "anchor": f"diagram-{diagram['number']}",
                    "title": breakable(diagram["title"]),
                    "subtitle": breakable(diagram.get("subtitle") or ""),
                    "file": diagram["file"],
                    "paper": page["paper"],
                    "flipped": page["flipped"],
                    "margin": page["margin"],
                    "natural_width": round(diagram["width"], 2),
                    "natural_height": round(diagram["height"], 2),
                    "scale": round(page["scale"], 3),
                    "max_scale": MAX_SCALE,
                    "count": diagram.get("count", len(diagram.get("members", ()))),
                    "roots": breakable(", ".join(diagram.get("roots", ()))),
                    # Typst names each diagram's page (it knows it once laid out).
                    "continues": [
                        {"number": c["number"], "anchor": f"diagram-{c['number']}"}
                        for c in diagram.get("continues", ())
                    ],
                    "continued_from": [
                        {"number": c["number"], "anchor": f"diagram-{c['number']}"}
                        for c in diagram.get("continued_from", ())
                    ],
                }
            )
        return out

    def argument(self) -> list[dict[str, Any]]:
        context_of: dict[str, list[str]] = {}
        parents: dict[str, list[str]] = {}
        challengers: dict[str, list[str]] = {}
        for link in self.links:
            s, t = link["source"], link["target"]
            if s not in self.nodes or t not in self.nodes:
                continue
            if link["type"] == "in_context_of":
                context_of.setdefault(s, []).append(t)
            elif link["type"] == "supported_by":
                parents.setdefault(t, []).append(s)
            elif link["type"] == "challenges":
                challengers.setdefault(t, []).append(s)
        flags_of: dict[str, list[dict]] = {}
        for flag in self.flags:
            flags_of.setdefault(flag.get("node") or "", []).append(flag)
        bindings_of: dict[str, list[dict]] = {}
        for binding in self.bindings:
            bindings_of.setdefault(binding["node"], []).append(binding)

        out = []
        for identifier, depth, _parent in self.order:
            node = self.nodes[identifier]
            supported_by = [
                c
                for c in self.children.get(identifier, [])
                if c not in challengers.get(identifier, [])
            ]
            out.append(
                {
                    "id": breakable(identifier),
                    "anchor": self.anchors[identifier],
                    "level": depth + 1,
                    "heading": breakable(
                        f"{identifier} · {TYPE_LABELS.get(node['type'], node['type'])}"
                    ),
                    "type": node["type"],
                    "statement": breakable(node["statement"]),
                    "status": self.statuses.get(identifier) or "",
                    "status_label": status_label(self.statuses.get(identifier))
                    if identifier in self.statuses
                    else "",
                    "reason": breakable(self.reasons.get(identifier, "")),
                    "undeveloped": bool(node.get("undeveloped")),
                    "combination": _combination(node.get("combination", "all"), len(supported_by))
                    if node["type"] in ("goal", "strategy", "counter_goal")
                    else "",
                    "supported_by": [self.ref(c) for c in supported_by],
                    "challenged_by": [
                        self.ref(c)
                        for c in sorted(challengers.get(identifier, []), key=natural_key)
                    ],
                    "parents": [
                        self.ref(p) for p in sorted(parents.get(identifier, []), key=natural_key)
                    ],
                    "context": [
                        {
                            **self.ref(c),
                            "type": TYPE_LABELS.get(self.nodes[c]["type"], self.nodes[c]["type"]),
                            "statement": breakable(self.nodes[c]["statement"]),
                        }
                        for c in sorted(context_of.get(identifier, []), key=natural_key)
                    ],
                    "evidence": [self.binding(b) for b in bindings_of.get(identifier, [])],
                    "flags": [self.flag(f) for f in flags_of.get(identifier, [])],
                    "diagram": self.diagram_of.get(identifier),
                }
            )
        return out

    def binding(self, binding: Mapping[str, Any]) -> dict[str, Any]:
        rows = [c for c in self.citations if c["binding"] == binding["id"]]
        is_check = binding.get("kind") == "check" or (
            self.nodes.get(binding["node"], {}).get("type") == "assumption"
        )
        wording = criteria_wording.describe(
            binding.get("expression", ""), kind="check" if is_check else "criterion"
        )
        runs = [
            {
                "run": self.run_ref(c["run"]),
                "role": ROLE_LABELS.get(c["role"], c["role"]),
                "via": [self.ref(v) for v in vias] if vias else [],
                "outcome": _outcome(c, is_check),
                "ok": c.get("outcome"),
                "detail": breakable(c.get("detail") or ""),
            }
            for c, vias in _one_row_per_run(rows)
        ]
        return {
            "id": str(binding["id"]),
            "node": breakable(binding["node"]),
            "kind": "check" if is_check else "acceptance criterion",
            "selects": selector_text(binding.get("selector")),
            "expression": breakable(binding.get("expression", "")),
            "words": breakable(wording.sentence),
            "freshness": f"{binding['freshness_days']} days"
            if binding.get("freshness_days")
            else "",
            "description": breakable(binding.get("description") or ""),
            "runs": runs,
            "tally": _tally(runs, is_check),
            "chart": self.chart(wording.shape, rows, binding.get("selector")),
        }

    def chart(
        self,
        shape: criteria_wording.Shape | None,
        rows: Sequence[Mapping[str, Any]],
        selector: Any,
    ) -> dict[str, Any] | None:
        """The interval chart of a rate-bounding binding: each cited run's observed rate k/n
        and the bound the expression uses (its function at its level) against the threshold."""
        if shape is None or not rows:
            return None
        bound = getattr(statistics, shape.bound, None) if shape.bound != "rate" else None
        score = (
            selector.get("scorer") or selector.get("metric")
            if isinstance(selector, Mapping)
            else None
        )
        points = []
        for c in rows:
            if c["role"] not in ("evidence", "scope"):
                continue
            stats = (self.runs.get(c["run"]) or {}).get("statistics") or []
            chosen = next((x for x in stats if score and x.get("name") == score), None)
            chosen = chosen or (stats[0] if stats else None)
            if not chosen or chosen.get("k") is None or not chosen.get("n"):
                continue
            k, n = int(chosen["k"]), int(chosen["n"])
            value = bound(k, n, shape.level) if bound and shape.level else k / n
            points.append(
                {
                    "run": str(c["run"]),
                    "rate": k / n,
                    "bound": float(value if value is not None else k / n),
                }
            )
        if not points:
            return None
        top = max([shape.threshold, *(p["bound"] for p in points), *(p["rate"] for p in points)])
        return {
            "bound": BOUND_LABELS.get(shape.bound, shape.bound.replace("_", " ")),
            "level": f"{shape.level * 100:g}%" if shape.level else "",
            "threshold": shape.threshold,
            "threshold_label": number(shape.threshold),
            "scale": min(1.0, top * 1.15) or 1.0,
            "points": points[:CHART_RUNS],
            "more": max(0, len(points) - CHART_RUNS),
        }

    def contexts(self) -> list[dict[str, Any]]:
        used_by: dict[str, list[str]] = {}
        for link in self.links:
            if link["type"] == "in_context_of" and link["source"] in self.nodes:
                used_by.setdefault(link["target"], []).append(link["source"])
        return [
            {
                **self.ref(i),
                "type": TYPE_LABELS[self.nodes[i]["type"]],
                "statement": breakable(self.nodes[i]["statement"]),
                "used_by": [self.ref(u) for u in sorted(used_by.get(i, []), key=natural_key)],
            }
            for i in sorted(self.nodes, key=natural_key)
            if self.nodes[i]["type"] in ("context", "justification")
        ]

    def assumptions(self) -> list[dict[str, Any]]:
        used_by: dict[str, list[str]] = {}
        for link in self.links:
            if link["type"] == "in_context_of" and link["source"] in self.nodes:
                used_by.setdefault(link["target"], []).append(link["source"])
        out = []
        for identifier in sorted(self.nodes, key=natural_key):
            node = self.nodes[identifier]
            if node["type"] != "assumption":
                continue
            checks = [self.binding(b) for b in self.bindings if b["node"] == identifier]
            attestations = [a for a in self.attestations if a["node"] == identifier]
            expiry = []
            for a in attestations:
                if a.get("expires_at"):
                    expiry.append(f"attestation by {a['by']} expires {day(a['expires_at'])}")
            for b in self.bindings:
                if b["node"] != identifier or not b.get("freshness_days"):
                    continue
                for c in self.citations:
                    if c["binding"] == b["id"] and c["role"] == "evidence":
                        finished = (self.runs.get(c["run"]) or {}).get("finished_at")
                        if finished:
                            until = datetime.fromisoformat(finished) + timedelta(
                                days=float(b["freshness_days"])
                            )
                            expiry.append(f"run {c['run']} stale after {until:%Y-%m-%d}")
            out.append(
                {
                    **self.ref(identifier),
                    "catalogue": node.get("catalogue_id") or "",
                    "statement": breakable(node["statement"]),
                    "reason": breakable(self.reasons.get(identifier, "")),
                    "requires_attestation": bool(node.get("requires_attestation")),
                    "checks": checks,
                    "attestations": [
                        {
                            "by": breakable(a["by"]),
                            "statement": breakable(a["statement"]),
                            "scope": breakable(a.get("scope") or ""),
                            "created": day(a.get("created_at")),
                            "expires": day(a.get("expires_at")) or "no expiry",
                        }
                        for a in attestations
                    ],
                    "expiry": [breakable(e) for e in expiry],
                    "used_by": [
                        self.ref(u) for u in sorted(used_by.get(identifier, []), key=natural_key)
                    ],
                    "flags": [self.flag(f) for f in self.flags if f.get("node") == identifier],
                }
            )
        return out

    def evidence(self) -> list[dict[str, Any]]:
        cited: dict[Any, list[dict]] = {}
        for c in self.citations:
            cited.setdefault(c["run"], []).append(c)
        flagged: dict[Any, list[dict]] = {}
        for flag in self.flags:
            if flag.get("run") is not None:
                flagged.setdefault(flag["run"], []).append(flag)
        binding_by_id = {b["id"]: b for b in self.bindings}
        out = []
        for run_id in sorted(self.runs, key=id_key):
            run = self.runs[run_id]
            uses = []
            for c in cited.get(run_id, []):
                binding = binding_by_id.get(c["binding"], {})
                is_check = binding.get("kind") == "check"
                uses.append(
                    {
                        "node": self.ref(c["node"]),
                        "kind": "check" if is_check else "criterion",
                        "expression": breakable(binding.get("expression", "")),
                        "role": ROLE_LABELS.get(c["role"], c["role"]),
                        "via": self.ref(c["via"]) if c.get("via") else None,
                        "outcome": _outcome(c, is_check),
                        "ok": c.get("outcome"),
                        "detail": breakable(c.get("detail") or ""),
                    }
                )
            out.append(
                {
                    "id": str(run_id),
                    "anchor": self.run_anchors[run_id],
                    "title": breakable(f"Run {run_id} · {run.get('task') or 'unnamed task'}"),
                    "task": breakable(run.get("task") or "—"),
                    "task_version": breakable(run.get("task_version") or ""),
                    "harness": breakable(
                        " ".join(x for x in (run.get("harness"), run.get("harness_version")) if x)
                        or "—"
                    ),
                    "format": breakable(run.get("format") or ""),
                    "model": breakable(
                        " ".join(x for x in (run.get("model"), run.get("model_version")) if x)
                        or "—"
                    ),
                    "log_status": breakable(run.get("log_status") or "—"),
                    "started": when(run.get("started_at")),
                    "finished": when(run.get("finished_at")),
                    "ingested": when(run.get("ingested_at")),
                    "samples": number(run.get("sample_count")),
                    "total_samples": number(run.get("total_samples")),
                    "errors": number(run.get("error_count")),
                    "uploaded_by": breakable(run.get("uploaded_by") or "—"),
                    "uploaded_at": when(run.get("uploaded_at")),
                    "log_name": breakable(run.get("log_name") or ""),
                    "sha256": run.get("log_sha256") or "",
                    "samples_sha256": run.get("samples_sha256") or "",
                    "statistics": [
                        {
                            "name": breakable(s["name"]),
                            "k": number(s.get("k")),
                            "n": number(s.get("n")),
                            "rate": number(s.get("rate")),
                            "cp": f"[{number(s.get('cp_lower'))}, {number(s.get('cp_upper'))}]",
                            "cp_upper_one_sided": number(s.get("cp_upper_one_sided")),
                            "wilson": f"[{number(s.get('wilson_lower'))}, "
                            f"{number(s.get('wilson_upper'))}]",
                        }
                        for s in run.get("statistics") or []
                    ],
                    "metrics": [
                        {
                            "name": breakable(
                                "/".join(
                                    x
                                    for x in (
                                        m.get("name"),
                                        m.get("reducer"),
                                        m.get("metric"),
                                        m.get("group"),
                                    )
                                    if x
                                )
                            ),
                            "value": number(m.get("value")),
                        }
                        for m in run.get("metrics") or []
                    ],
                    "uses": uses,
                    "flags": [self.flag(f) for f in flagged.get(run_id, [])],
                }
            )
        return out


def _one_row_per_run(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], list[str]]]:
    """A check in scope of several solutions cites the same run once per solution: one row per
    run and role, with every solution it was read for."""
    out: dict[tuple[Any, str], tuple[Mapping[str, Any], list[str]]] = {}
    for c in rows:
        key = (c["run"], c["role"])
        if key not in out:
            out[key] = (c, [])
        if c.get("via") and c["via"] not in out[key][1]:
            out[key][1].append(c["via"])
    return list(out.values())


def _tally(runs: Sequence[Mapping[str, Any]], is_check: bool) -> str:
    """'19 runs, all hold' / '19 runs: 17 hold, 2 do not hold' ('' for fewer than 4 runs)."""
    if len(runs) < 4:
        return ""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    plural = {"holds": "hold", "does not hold": "do not hold"}
    if len(counts) == 1:
        outcome = next(iter(counts))
        return f"{len(runs)} runs, all {plural.get(outcome, outcome)}"
    first = "holds" if is_check else "met"
    words = sorted(counts.items(), key=lambda kv: (kv[0] != first, kv[0]))
    return f"{len(runs)} runs: " + ", ".join(
        f"{n} {plural.get(w, w) if n > 1 else w}" for w, n in words
    )


def _outcome(citation: Mapping[str, Any], is_check: bool) -> str:
    value = citation.get("outcome")
    if citation.get("role") not in ("evidence", "scope"):
        return "not evaluated"
    if value is True:
        return "holds" if is_check else "met"
    if value is False:
        return "does not hold" if is_check else "not met"
    return "cannot be evaluated"


def cited_run_ids(citations: Iterable[Mapping[str, Any]], flags: Iterable[Mapping[str, Any]]):
    """The ids of every run a citation or a flag names, in id order."""
    ids = {c["run"] for c in citations} | {f["run"] for f in flags if f.get("run") is not None}
    return sorted(ids, key=id_key)
