"""What every log parser produces: plain data, no Django.

A parser reads a header first (run identity, status, aggregate metrics) and then yields samples
one at a time, so a 10,000-sample log is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class LogFormatError(Exception):
    """The file is not a log we can read, or it breaks a limit. The message is a sentence a
    harness author can act on (it becomes the run's `error`)."""


@dataclass(frozen=True)
class Limits:
    """Caps that protect workers from hostile or accidental huge input."""

    max_uncompressed_bytes: int = 2 * 1024**3  # total of all zip members, checked before inflating
    max_member_bytes: int = 256 * 1024**2  # one zip member, or one JSON line
    max_members: int = 200_000
    max_json_depth: int = 200


DEFAULT_LIMITS = Limits()  # for argument defaults (one shared frozen instance)


@dataclass(frozen=True)
class MetricRow:
    """One aggregate metric as the harness reported it, e.g. (match, match, mean, accuracy)."""

    name: str  # score name; for dict-valued scorers the dict key (Inspect's EvalScore.name)
    scorer: str
    reducer: str  # "" when the harness applied none (one epoch)
    metric: str
    value: float | None  # None for NaN / missing / "N/A"
    group: str = ""


@dataclass(frozen=True)
class SampleScore:
    """One score of one sample, normalized.

    `value` is the numeric reading (C=1, I=0, P=0.5, N=0, booleans 1/0, numbers as they are),
    None when the score cannot be read as a number (lists, text, NaN); `correct` is True/False
    where the score is binary (C/I/N letters, booleans, exactly 0 or 1), else None; `raw` is the
    original value made JSON-safe (NaN/Infinity become None).
    """

    value: float | None
    correct: bool | None
    raw: Any = None


@dataclass(frozen=True)
class ParsedSample:
    sample_id: str  # int ids become their decimal string
    epoch: int  # 1-based; 1 when the harness has no epochs
    scores: dict[str, SampleScore]  # keyed like MetricRow.name
    error: str = ""  # the harness's error message for this sample, "" when it succeeded
    metadata: dict[str, Any] = field(default_factory=dict)  # small, JSON-safe


@dataclass(frozen=True)
class Tally:
    """Successes k out of trials n for one score name, when the harness reports only totals."""

    name: str
    successes: int
    trials: int


@dataclass(frozen=True)
class ParsedHeader:
    format: str  # "inspect_eval" | "inspect_json" | "lm_eval" | "generic"
    harness: str  # "inspect" | "lm_eval" | the generic file's harness name
    harness_version: str
    eval_id: str  # the harness's identity of this log (idempotency key); "" if none
    task: str
    task_version: str
    model: str
    log_status: str  # what the harness says of its run: "success" | "error" | "cancelled" | ...
    log_error: str = ""  # the harness's run-level error message, if any
    model_version: str = ""
    run_id: str = ""
    started_at: str = ""  # ISO 8601 as written by the harness, "" if unknown
    completed_at: str = ""
    total_samples: int | None = None
    completed_samples: int | None = None
    metrics: list[MetricRow] = field(default_factory=list)
    tallies: list[Tally] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # JSON-safe provenance extras


@dataclass
class ParsedLog:
    header: ParsedHeader
    samples: Iterator[ParsedSample]
