"""The charts of a criterion's evidence ledger on the node panel and page (pure geometry).

A criterion such as `cp_upper(k, n, 0.95) < 0.01` does not compare the observed rate with the
threshold, nor the two-sided interval: it compares the *one-sided* bound at its own level. The
ledger chart therefore draws, for every run in the ledger, the observed rate k/n, the bound the
criterion computes from the same k and n (the same function of evidence.statistics the CEL
calls) and the threshold as a line, and marks the runs that decided the status (the ledger's
`decisive` role). A criterion that compares the observed rate gets the rate and the threshold;
one that bounds no rate (say `k == 0` alone) gets the rate only, and the chart says so.

The trend chart draws that bound for every run of the binding's task, whatever model it
evaluated, in the order the runs finished: how the bound moved across model versions.

Everything here is computed from plain values (the ledger's entries, the runs' model, version
and finishing time) so that the template only places what is computed, and the geometry is
tested with hand-checked numbers.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evidence import statistics
from safetycase.core.criteria_wording import Shape

__all__ = [
    "BoundRule",
    "BoundTrend",
    "ChartRow",
    "LedgerChart",
    "RunInfo",
    "TrendPoint",
    "bound_trend",
    "figure",
    "ledger_chart",
    "nice_ceiling",
]

# The functions a criterion may bound a rate with: the very ones the CEL evaluates.
_BOUND_FUNCTIONS: dict[str, Callable[[int, int, float], float | None]] = {
    "cp_upper": statistics.cp_upper,
    "cp_lower": statistics.cp_lower,
    "cs_upper": statistics.cs_upper,
    "wilson_upper": statistics.wilson_upper,
    "wilson_lower": statistics.wilson_lower,
}
_BOUND_NAMES = {
    "cp_upper": "one-sided {level} Clopper–Pearson upper bound",
    "cp_lower": "one-sided {level} Clopper–Pearson lower bound",
    "cs_upper": "{level} confidence-sequence upper bound",
    "wilson_upper": "one-sided {level} Wilson upper bound",
    "wilson_lower": "one-sided {level} Wilson lower bound",
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_COMPARISON_WORDS = {
    "<": "below",
    "<=": "at most",
    ">": "above",
    ">=": "at least",
    "==": "equal to",
    "!=": "not equal to",
}

# Ledger chart layout (SVG user units; the SVG scales to the width of the panel).
WIDTH = 340.0
LABEL_WIDTH = 70.0  # the run labels left of the plot
PLOT_LEFT = LABEL_WIDTH + 8.0
PLOT_RIGHT = WIDTH - 14.0
TOP = 24.0  # room for the threshold's label
ROW = 20.0
AXIS_GAP = 4.0
BOTTOM = 18.0  # the tick labels under the axis
MAX_ROWS = 40  # the table beside the chart lists every run

# Trend chart layout.
TREND_HEIGHT = 110.0
TREND_LEFT = 44.0
TREND_RIGHT = WIDTH - 10.0
TREND_TOP = 14.0
TREND_BOTTOM = 82.0  # the x axis; model labels below it
MAX_TREND = 30
CHARACTER = 4.6  # the width of a character of the trend's model labels, roughly


def figure(value: float | None) -> str:
    """A rate or bound as text: four significant digits, never an exponent."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    text = f"{value:.4g}"
    if "e" in text:
        text = f"{value:.8f}".rstrip("0").rstrip(".")
    return text


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^e at least `value`, at most 1 (an axis of rates); 0.01 for
    nothing to show."""
    if value <= 0:
        return 0.01
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-9):
            return min(candidate, 1.0)
    return 1.0


@dataclass(frozen=True)
class BoundRule:
    """What the criterion compares with its threshold: a bound `function` at `level`, or the
    observed rate (`function` ""), or nothing (`threshold` None: it bounds no rate)."""

    function: str
    level: float | None
    threshold: float | None
    comparison: str

    @classmethod
    def of(cls, shape: Shape | None) -> BoundRule:
        if shape is None:
            return cls("", None, None, "")
        if shape.bound in _BOUND_FUNCTIONS:
            return cls(shape.bound, shape.level or 0.95, shape.threshold, shape.comparison)
        return cls("", None, shape.threshold, shape.comparison)

    @property
    def uses_bound(self) -> bool:
        return bool(self.function)

    @property
    def name(self) -> str:
        """ "one-sided 95% Clopper–Pearson upper bound", or "observed rate"."""
        if not self.function:
            return "observed rate"
        return _BOUND_NAMES[self.function].format(level=f"{(self.level or 0.95) * 100:g}%")

    @property
    def short_name(self) -> str:
        """The column heading: "95% upper bound", "rate"."""
        if not self.function:
            return "rate"
        side = "lower" if self.function.endswith("lower") else "upper"
        return f"{(self.level or 0.95) * 100:g}% {side} bound"

    def value(self, k: int | None, n: int | None) -> float | None:
        """The value the criterion compares for k of n: its bound, or the rate."""
        if k is None or not n:
            return None
        if not self.function:
            return k / n
        return _BOUND_FUNCTIONS[self.function](int(k), int(n), float(self.level or 0.95))

    def meets(self, value: float | None) -> bool | None:
        """Whether `value` is on the criterion's side of the threshold; None when either is
        missing."""
        if value is None or self.threshold is None or self.comparison not in _COMPARE:
            return None
        return _COMPARE[self.comparison](value, self.threshold)

    def side_text(self, value: float | None) -> str:
        """ "above the threshold 0.01" — where `value` lies, in words."""
        if value is None or self.threshold is None:
            return ""
        if value > self.threshold:
            where = "above"
        elif value < self.threshold:
            where = "below"
        else:
            where = "at"
        return f"{where} the threshold {figure(self.threshold)}"

    @property
    def requirement(self) -> str:
        """ "must be below 0.01"."""
        if self.threshold is None:
            return ""
        words = _COMPARISON_WORDS.get(self.comparison, self.comparison)
        return f"must be {words} {figure(self.threshold)}"


@dataclass(frozen=True)
class RunInfo:
    """What the charts say about a run beside its counts."""

    run: int
    model: str = ""
    model_version: str = ""
    task_version: str = ""
    finished: datetime | None = None
    k: int | None = None
    n: int | None = None
    counted: bool = True  # in this case's ledger (model, freshness, harness status)

    @property
    def model_text(self) -> str:
        return f"{self.model} {self.model_version}".strip() or "unknown model"

    @property
    def date_text(self) -> str:
        return self.finished.strftime("%Y-%m-%d") if self.finished else "date unknown"


@dataclass(frozen=True)
class ChartRow:
    label: str  # "run 12", or "runs 12, 14 pooled"
    runs: tuple[int, ...]
    detail: str  # date and model
    k: int | None
    n: int | None
    estimate: float | None
    bound: float | None  # the value the criterion compares (the estimate without a bound)
    holds: bool | None
    role: str  # the ledger's role; "pool" for a pooled sum
    note: str
    deciding: bool
    withdrawn: bool
    pooled: bool
    y: float
    x_estimate: float | None
    x_bound: float | None
    estimate_text: str
    bound_text: str
    side_text: str

    @property
    def run(self) -> int:
        return self.runs[0]

    @property
    def x_low(self) -> float | None:
        """The left end of the segment from the rate to the bound."""
        xs = [x for x in (self.x_estimate, self.x_bound) if x is not None]
        return min(xs) if xs else None

    @property
    def reach(self) -> float:
        xs = [x for x in (self.x_estimate, self.x_bound) if x is not None]
        return round(max(xs) - min(xs), 1) if xs else 0.0

    @property
    def y_mid(self) -> float:
        return round(self.y + ROW / 2, 1)

    @property
    def y_text(self) -> float:
        return round(self.y + ROW / 2 + 3.5, 1)

    @property
    def y_reach(self) -> float:
        return round(self.y + ROW / 2 - 1.5, 1)

    @property
    def y_tick_top(self) -> float:
        return round(self.y + 4, 1)

    @property
    def y_tick_bottom(self) -> float:
        return round(self.y + ROW - 4, 1)


@dataclass(frozen=True)
class LedgerChart:
    rule: BoundRule
    rows: tuple[ChartRow, ...]  # the rows drawn
    all_rows: tuple[ChartRow, ...]  # every row: the table beside the chart lists them all
    more: int  # rows left out of the drawing
    width: float
    height: float
    left: float
    right: float
    top: float
    axis_y: float
    axis_max: float
    ticks: tuple[tuple[float, str], ...]
    x_threshold: float | None
    threshold_anchor: str
    title: str
    desc: str
    deciding_text: str

    @property
    def drawable(self) -> bool:
        """Whether any run has a k/n to draw (a criterion on a metric has none: the table
        beside lists its runs)."""
        return any(r.estimate is not None for r in self.rows)

    @property
    def threshold_text(self) -> str:
        return figure(self.rule.threshold)

    @property
    def y_tick_label(self) -> float:
        return round(self.axis_y + 12, 1)

    @property
    def y_threshold_label(self) -> float:
        return round(self.top - 8, 1)

    @property
    def y_threshold_top(self) -> float:
        return round(self.top - 4, 1)

    @property
    def y_tick_end(self) -> float:
        return round(self.axis_y + 3, 1)


def _scale(values: Sequence[float | None], threshold: float | None) -> float:
    top = max([v for v in (*values, threshold) if v is not None] or [0.0])
    return nice_ceiling(top * 1.1) if top > 0 else 0.01


def _x(value: float | None, axis_max: float, left: float, right: float) -> float | None:
    if value is None:
        return None
    return round(left + (right - left) * min(max(value / axis_max, 0.0), 1.0), 1)


def _ticks(axis_max: float, left: float, right: float) -> tuple[tuple[float, str], ...]:
    return tuple(
        (_x(axis_max * f, axis_max, left, right) or left, figure(axis_max * f))
        for f in (0.0, 0.5, 1.0)
    )


def ledger_chart(
    entries: Sequence[Mapping[str, Any]],
    shape: Shape | None,
    *,
    policy: str = "all",
    runs: Mapping[int, RunInfo] | None = None,
) -> LedgerChart | None:
    """The chart of a binding's ledger: `entries` are the assessment's ledger entries
    ({run, k, n, holds, role, note}) in the ledger's order, `shape` what the criterion
    compares (criteria_wording.describe), `runs` the dates and models of the runs. Under
    `pooled`, each pool of two or more counted runs (same task version, model and model
    version) gets a row of its summed counts before its runs. None for an empty ledger; the
    rows of runs without k/n (a criterion on a metric) have nothing to draw."""
    if not entries:
        return None
    rule = BoundRule.of(shape)
    runs = runs or {}
    units: list[dict[str, Any]] = []
    pools: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    if policy == "pooled":
        for entry in entries:
            info = runs.get(int(entry["run"]))
            if entry.get("role") == "withdrawn" or info is None or entry.get("k") is None:
                continue
            key = (info.task_version, info.model, info.model_version)
            pools.setdefault(key, []).append(entry)
    pooled_done: set[tuple[str, str, str]] = set()
    for entry in entries:
        run_id = int(entry["run"])
        info = runs.get(run_id)
        key = (info.task_version, info.model, info.model_version) if info else None
        members = pools.get(key, []) if key else []
        if len(members) > 1 and key not in pooled_done and entry in members:
            pooled_done.add(key)
            k = sum(int(m["k"]) for m in members)
            n = sum(int(m["n"]) for m in members)
            value = rule.value(k, n)
            units.append(
                {
                    "label": "pool of " + ", ".join(str(m["run"]) for m in members),
                    "runs": tuple(int(m["run"]) for m in members),
                    "detail": f"{len(members)} runs summed, {info.model_text}",
                    "k": k,
                    "n": n,
                    "holds": rule.meets(value),
                    "role": "pool",
                    "note": "",
                    "deciding": any(m.get("role") == "decisive" for m in members),
                    "pooled": True,
                }
            )
        units.append(
            {
                "label": f"run {run_id}",
                "runs": (run_id,),
                # The ledger's runs are all of the model the selector names: the date says
                # which run is which.
                "detail": info.date_text if info else "",
                "k": entry.get("k"),
                "n": entry.get("n"),
                "holds": entry.get("holds"),
                "role": entry.get("role", ""),
                "note": entry.get("note") or "",
                # Under `pooled` the pool's row carries the decision for its runs.
                "deciding": entry.get("role") == "decisive"
                and not (len(members) > 1 and entry in members),
                "pooled": False,
            }
        )

    estimates = [u["k"] / u["n"] if u["k"] is not None and u["n"] else None for u in units]
    bounds = [rule.value(u["k"], u["n"]) for u in units]
    drawn = min(len(units), MAX_ROWS)
    axis_max = _scale([*estimates[:drawn], *bounds[:drawn]], rule.threshold)
    rows = []
    for index, (unit, estimate, bound) in enumerate(zip(units, estimates, bounds, strict=True)):
        rows.append(
            ChartRow(
                label=unit["label"],
                runs=unit["runs"],
                detail=unit["detail"],
                k=unit["k"],
                n=unit["n"],
                estimate=estimate,
                bound=bound if rule.uses_bound else None,
                holds=unit["holds"],
                role=unit["role"],
                note=unit["note"],
                deciding=unit["deciding"],
                withdrawn=unit["role"] == "withdrawn",
                pooled=unit["pooled"],
                y=TOP + index * ROW,
                x_estimate=_x(estimate, axis_max, PLOT_LEFT, PLOT_RIGHT),
                x_bound=_x(bound, axis_max, PLOT_LEFT, PLOT_RIGHT) if rule.uses_bound else None,
                estimate_text=figure(estimate),
                bound_text=figure(bound) if rule.uses_bound else "",
                side_text=rule.side_text(bound),
            )
        )
    shown = rows[:drawn]
    axis_y = TOP + drawn * ROW + AXIS_GAP
    x_threshold = _x(rule.threshold, axis_max, PLOT_LEFT, PLOT_RIGHT)
    deciding = [r.label for r in rows if r.deciding]
    if rule.uses_bound:
        what = f"each run's observed rate (dot) and its {rule.name} (bar)"
    elif rule.threshold is not None:
        what = "each run's observed rate (dot): the criterion compares the rate itself"
    else:
        what = "each run's observed rate (dot): the criterion bounds no rate"
    title = f"Evidence ledger: {what}" + (
        f", against the threshold {figure(rule.threshold)}" if rule.threshold is not None else ""
    )
    lines = [
        r.label
        + (f" ({r.detail})" if r.detail else "")
        + f": k/n = {r.k}/{r.n}, rate {r.estimate_text}"
        + (f", bound {r.bound_text} {r.side_text}" if rule.uses_bound else "")
        + ("; decided the status" if r.deciding else "")
        + ("; withdrawn" if r.withdrawn else "")
        for r in rows
        if r.k is not None
    ]
    return LedgerChart(
        rule=rule,
        rows=tuple(shown),
        all_rows=tuple(rows),
        more=len(rows) - drawn,
        width=WIDTH,
        height=axis_y + BOTTOM,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=TOP,
        axis_y=axis_y,
        axis_max=axis_max,
        ticks=_ticks(axis_max, PLOT_LEFT, PLOT_RIGHT),
        x_threshold=x_threshold,
        threshold_anchor=(
            "end"
            if x_threshold is not None and x_threshold > (PLOT_LEFT + PLOT_RIGHT) / 2
            else "start"
        ),
        title=title,
        desc="; ".join(lines) + ".",
        deciding_text=(
            "Decided the status: " + ", ".join(deciding) + "." if deciding else "No run decided."
        ),
    )


def _fitted(text: str, room: int) -> str:
    """`text` cut to `room` characters with an ellipsis; "" when fewer than three fit."""
    if len(text) <= room:
        return text
    return text[: room - 1] + "…" if room >= 3 else ""


@dataclass(frozen=True)
class TrendPoint:
    info: RunInfo
    value: float
    meets: bool | None
    x: float
    y: float
    side_text: str

    @property
    def value_text(self) -> str:
        return figure(self.value)


@dataclass(frozen=True)
class BoundTrend:
    rule: BoundRule
    points: tuple[TrendPoint, ...]
    more: int  # older runs left out
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    axis_max: float
    y_threshold: float | None
    line: str  # the polyline's points
    # Where each model version's runs begin, where its label goes and how it is anchored, and
    # the label (the name, cut to the room it has).
    models: tuple[tuple[float, float, str, str], ...]
    title: str
    desc: str

    @property
    def threshold_text(self) -> str:
        return figure(self.rule.threshold)

    @property
    def y_mid(self) -> float:
        return round((self.top + self.bottom) / 2, 1)

    @property
    def axis_mid(self) -> str:
        return figure(self.axis_max / 2)

    @property
    def axis_top(self) -> str:
        return figure(self.axis_max)

    @property
    def y_model_label(self) -> float:
        return round(self.bottom + 14, 1)

    @property
    def x_value_label(self) -> float:
        return round(self.left - 4, 1)

    @property
    def y_top_label(self) -> float:
        return round(self.top + 3, 1)


def bound_trend(infos: Sequence[RunInfo], shape: Shape | None) -> BoundTrend | None:
    """The criterion's bound (or the rate it compares) for each run of the binding's task,
    oldest first by finishing time, whatever model it evaluated; the newest MAX_TREND runs.
    None when fewer than two runs have counts (a trend needs two points)."""
    rule = BoundRule.of(shape)
    valued = [(info, rule.value(info.k, info.n)) for info in infos]
    valued = [(info, value) for info, value in valued if value is not None]
    if len(valued) < 2:
        return None
    valued.sort(key=lambda iv: (iv[0].finished is None, iv[0].finished or datetime.min, iv[0].run))
    more = max(0, len(valued) - MAX_TREND)
    valued = valued[more:]
    axis_max = _scale([v for _, v in valued], rule.threshold)
    step = (TREND_RIGHT - TREND_LEFT) / max(len(valued) - 1, 1)

    def y(value: float) -> float:
        share = min(max(value / axis_max, 0.0), 1.0)
        return round(TREND_BOTTOM - (TREND_BOTTOM - TREND_TOP) * share, 1)

    points = tuple(
        TrendPoint(
            info=info,
            value=value,
            meets=rule.meets(value),
            x=round(TREND_LEFT + index * step, 1),
            y=y(value),
            side_text=rule.side_text(value),
        )
        for index, (info, value) in enumerate(valued)
    )
    starts: list[tuple[float, str]] = []
    for point in points:
        if not starts or starts[-1][1] != point.info.model_text:
            starts.append((point.x, point.info.model_text))
    # Each label gets the room up to the next model's first run (about 4.6 units a character
    # at the chart's type size), so that neighbours never overlap; the points' titles and the
    # list below the chart give the full names.
    edge = TREND_RIGHT + 8
    # Where each label must end: at the next model's first run, or at the chart's edge.
    limits = [x for x, _ in starts[1:]] + [edge]
    last_x, last_name = starts[-1]
    last: tuple[float, float, str, str] | None = None
    if len(starts) > 1 and (edge - last_x) / CHARACTER < min(len(last_name), 8):
        # The newest model begins at the right edge: its label ends there, and the label
        # before it makes room.
        room = min(int((edge - starts[-2][0] - 6) / CHARACTER), 16)
        label = _fitted(last_name, room)
        last = (last_x, edge, "end", label)
        limits[-2] = min(limits[-2], edge - len(label) * CHARACTER)
    models = [
        (x, x, "start", _fitted(name, int((limits[index] - x - 6) / CHARACTER)))
        for index, (x, name) in enumerate(starts)
    ]
    if last is not None:
        models[-1] = last
    what = rule.name if rule.uses_bound else "observed rate"
    return BoundTrend(
        rule=rule,
        points=points,
        more=more,
        width=WIDTH,
        height=TREND_HEIGHT,
        left=TREND_LEFT,
        right=TREND_RIGHT,
        top=TREND_TOP,
        bottom=TREND_BOTTOM,
        axis_max=axis_max,
        y_threshold=y(rule.threshold) if rule.threshold is not None else None,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        models=tuple(models),
        title=f"The {what} of each run of the task, oldest first, across model versions",
        desc="; ".join(
            f"{p.info.date_text}, {p.info.model_text}, run {p.info.run}: {p.value_text}"
            + (f" ({p.side_text})" if p.side_text else "")
            for p in points
        )
        + ".",
    )
