"""Formatting for the reviewer pages: status words, flag grouping, numbers and the small
interval charts. Tags only format what the view already loaded; none of them queries."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils.html import format_html

from safetycase.core.diagrams import STATUS_MARKS, STATUS_WORDS
from safetycase.core.outcome_meaning import mark_class

register = template.Library()

SEVERITIES = ("error", "warning", "info")
# Severity badges carry a mark too, so that they read without their colour.
SEVERITY_MARKS = {"error": "✗", "warning": "!", "info": "i"}

# A literal bound the criterion states for the rate: cp_upper(k, n[, c]) < t, rate < t,
# wilson_upper(...) < t, cp_lower(...) >= t and the like (the first one found is drawn).
_NUMBER = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)"
_BOUND = re.compile(
    rf"\b(?:cp_upper|cp_lower|wilson_upper|wilson_lower)\(\s*k\s*,\s*n\s*(?:,\s*{_NUMBER}\s*)?\)"
    rf"\s*(?:<=|<|>=|>)\s*{_NUMBER}"
    rf"|(?<![\w.])rate\s*(?:<=|<|>=|>)\s*{_NUMBER}"
)
_NICE_STEPS = (1, 2, 5)


@register.filter
def status_word(status: str | None) -> str:
    return STATUS_WORDS.get(status or "", status or "no status")


@register.filter
def status_mark(status: str | None) -> str:
    """✓ supported, ✗ defeated, ! at risk, … undeveloped; "" for anything else."""
    return STATUS_MARKS.get(status or "", "")


@register.simple_tag
def status_pill(status: str | None, size: str = "") -> str:
    """A status as a coloured pill with its mark and word (the diagram's marks), so that it
    reads without colour. `size` "small" for lists."""
    mark = STATUS_MARKS.get(status or "")
    return format_html(
        '<span class="pill{} status-{}">{}{}</span>',
        " small" if size == "small" else "",
        status or "none",
        format_html('<span class="mark" aria-hidden="true">{}</span> ', mark) if mark else "",
        status_word(status),
    )


@register.filter
def severity_mark(severity: str | None) -> str:
    return SEVERITY_MARKS.get(severity or "", "")


@register.filter
def by_severity(flags: Iterable[Mapping[str, Any]]) -> list[tuple[str, list]]:
    """[(severity, flags)] in the order error, warning, info (empty groups left out); flags
    inside a group by node, then type."""
    groups: dict[str, list] = {s: [] for s in SEVERITIES}
    for flag in flags or []:
        groups.setdefault(flag.get("severity") or "info", []).append(flag)
    return [
        (severity, sorted(items, key=lambda f: (f.get("node") or "", f.get("type") or "")))
        for severity, items in groups.items()
        if items
    ]


@register.filter
def badges_by_node(flags: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One badge per flagged node: {node, total, worst, counts: [(severity, n)]}, the nodes
    with errors first."""
    per_node: dict[str, dict[str, int]] = {}
    for flag in flags or []:
        if flag.get("node"):
            counts = per_node.setdefault(flag["node"], {})
            severity = flag.get("severity") or "info"
            counts[severity] = counts.get(severity, 0) + 1
    badges = []
    for node, counts in per_node.items():
        ordered = [(s, counts[s]) for s in SEVERITIES if s in counts]
        badges.append(
            {"node": node, "total": sum(counts.values()), "worst": ordered[0][0], "counts": ordered}
        )
    badges.sort(key=lambda b: (SEVERITIES.index(b["worst"]), b["node"]))
    return badges


@register.filter
def severity_counts(summary: Mapping[str, Any] | None) -> list[tuple[str, int]]:
    """[(severity, count)] of an assessment summary's open flags, error first, zeros left out."""
    flags = (summary or {}).get("flags") or {}
    return [(s, flags[s]) for s in SEVERITIES if flags.get(s)]


@register.filter
def status_count(summary: Mapping[str, Any] | None, status: str) -> int:
    return ((summary or {}).get("statuses") or {}).get(status, 0)


@register.filter
def flags_for(flags: Iterable[Mapping[str, Any]], node: str) -> list:
    return [f for f in flags or [] if f.get("node") == node]


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def number(value: float | None, digits: int = 4) -> str:
    """A rate or bound: up to `digits` significant digits, no exponent for ordinary sizes."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    text = f"{value:.{int(digits)}g}"
    if "e" in text:
        text = f"{value:.{int(digits) + 4}f}".rstrip("0").rstrip(".")
    return text


@register.filter
def score_cell(scores: Mapping[str, Any] | None, name: str) -> str:
    """One sample's score as short text: ✓ / ✗ for pass-fail scores, else the value."""
    score = (scores or {}).get(name)
    if not isinstance(score, Mapping):
        return ""
    if score.get("correct") is True:
        return "✓"
    if score.get("correct") is False:
        return "✗"
    value = score.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value, 3)
    raw = score.get("raw")
    return "" if raw is None else str(raw)[:40]


@register.simple_tag
def score_mark_class(scores: Mapping[str, Any] | None, name: str, meanings) -> str:
    """The colour class of one sample's pass-fail mark by what its outcome means for the
    criteria citing the run (red for the dangerous outcome, whatever its value); no colour
    when no criterion says."""
    score = (scores or {}).get(name)
    occurred = score.get("correct") if isinstance(score, Mapping) else None
    return mark_class(
        occurred if isinstance(occurred, bool) else None, (meanings or {}).get(name, "")
    )


@register.filter
def score_outcome(scores: Mapping[str, Any] | None, name: str) -> str:
    """The outcome of one sample's score, "correct" or "incorrect" ("" when it has none),
    for colouring its cell."""
    score = (scores or {}).get(name)
    if isinstance(score, Mapping) and isinstance(score.get("correct"), bool):
        return "correct" if score["correct"] else "incorrect"
    return ""


def criterion_threshold(expression: str) -> float | None:
    """The literal bound a criterion states for the rate, if any, between 0 and 1."""
    match = _BOUND.search(expression or "")
    if not match:
        return None
    value = float(match.group(2) or match.group(3))
    return value if 0 < value < 1 else None


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at least `value` (at most 1: rates)."""
    if value <= 0:
        return 0.01
    exponent = math.floor(math.log10(value))
    for step in (*_NICE_STEPS, 10):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-9):
            return min(candidate, 1.0)
    return 1.0


def chart_geometry(
    *,
    k: int,
    n: int,
    rate: float | None,
    lower: float | None,
    upper: float | None,
    threshold: float | None = None,
    axis_max: float | None = None,
    width: int = 220,
) -> dict[str, Any]:
    """Coordinates of the interval chart: an axis from 0 to a round maximum, the 95% interval
    as a bar, the rate as a dot and the criterion's bound as a dashed line."""
    left, right = 6.0, width - 6.0
    top = max(v for v in (upper, rate, threshold, 0.0) if v is not None)
    scale_max = axis_max or _nice_ceiling(top * 1.1 if top else 0.01)

    def x(value: float | None) -> float | None:
        if value is None:
            return None
        return round(left + (right - left) * min(max(value / scale_max, 0.0), 1.0), 1)

    x_lower, x_upper = x(lower), x(upper)
    return {
        "width": width,
        "height": 40,
        "left": left,
        "right": right,
        "mid": round((left + right) / 2, 1),
        "x_lower": x_lower,
        "x_upper": x_upper,
        # At least 2 px, so that an interval squeezed against 0 still shows.
        "w_interval": (
            max(round(x_upper - x_lower, 1), 2.0)
            if x_lower is not None and x_upper is not None
            else None
        ),
        "x_rate": x(rate),
        "x_threshold": x(threshold),
        "axis_max": number(scale_max, 3),
        "axis_mid": number(scale_max / 2, 3),
        "threshold": number(threshold) if threshold is not None else "",
        # The bound's label sits beside its line, on the side with room.
        "threshold_anchor": "end" if threshold and threshold > scale_max * 0.6 else "start",
        "title": (
            f"k/n = {k}/{n}, rate {number(rate)}, 95% Clopper–Pearson interval "
            f"{number(lower)} to {number(upper)}"
            + (f"; the criterion's bound {number(threshold)}" if threshold is not None else "")
        ),
    }


@register.inclusion_tag("safetycase/_interval_chart.html")
def interval_chart(statistic, expression: str = "", peers: Iterable[Any] = ()) -> dict:
    """The 95% interval of a RunStatistic as a small inline SVG. `peers` (other statistics, or
    objects with a `.statistic`) share one axis so that the rows of a table compare."""
    if statistic is None:
        return {"chart": None}
    threshold = criterion_threshold(expression)
    highs = [threshold or 0.0]
    for peer in [statistic, *(peers or ())]:
        peer = getattr(peer, "statistic", peer)
        if peer is not None:
            highs += [v for v in (peer.cp_upper, peer.rate) if v is not None]
    axis_max = _nice_ceiling(max(highs) * 1.1) if max(highs) > 0 else None
    return {
        "chart": chart_geometry(
            k=statistic.k,
            n=statistic.n,
            rate=statistic.rate,
            lower=statistic.cp_lower,
            upper=statistic.cp_upper,
            threshold=threshold,
            axis_max=axis_max,
        )
    }


@register.filter
def get_item(mapping: Mapping[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key)


@register.filter
def join_if_list(value: Any) -> str:
    """A selector's task: one name, or several joined with " or "."""
    if isinstance(value, list | tuple):
        return " or ".join(str(v) for v in value)
    return str(value)


@register.filter
def combination_text(combination: str | None) -> str:
    """How a goal or strategy combines its children, as words."""
    combination = combination or "all"
    if combination == "all":
        return "all must be supported"
    if combination == "any":
        return "one must be supported"
    if combination.startswith("at_least:"):
        return f"at least {combination.partition(':')[2]} must be supported"
    return combination


@register.filter
def metrics_by_scorer(metrics: Iterable[Any]) -> list[dict[str, Any]]:
    """A run's metrics grouped per (score, scorer, reducer): {name, scorer, reducer, values:
    [(metric, group, value)]}, in the order given."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for m in metrics or []:
        key = (m.name, m.scorer, m.reducer)
        row = rows.setdefault(
            key, {"name": m.name, "scorer": m.scorer, "reducer": m.reducer, "values": []}
        )
        row["values"].append((m.metric, m.group, m.value))
    return list(rows.values())
