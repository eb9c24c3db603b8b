"""Pure log parsers: a log file in, plain data out (no Django, no database).

    fmt = detect_format(path)          # by content, reading only the first bytes / values
    log = parse_log(path)              # header now, samples lazily (a generator)
    runs = parse_runs(path)            # one ParsedLog per task (lm-eval results); else [log]

Formats: "inspect_eval" (Inspect `.eval` zip), "inspect_json" (Inspect `.json`), "lm_eval"
(lm-evaluation-harness `results_*.json`), "lm_eval_samples" (its `samples_<task>_*.jsonl`),
"generic" (`"format": "safetycase.generic/1"`, see docs/evidence-formats.md).

Every problem with the input, found up front or while iterating samples, is a
`LogFormatError` whose message says what is wrong in a sentence a harness author can act on.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path

from . import generic, inspect_eval, inspect_json, lm_eval
from ._json import Exhausted, JsonTextReader
from .base import (
    DEFAULT_LIMITS,
    Limits,
    LogFormatError,
    MetricRow,
    ParsedHeader,
    ParsedLog,
    ParsedSample,
    SampleScore,
    Tally,
)
from .lm_eval import lm_eval_samples_task_hash, parse_lm_eval_runs
from .scores import json_safe, normalize_score, normalize_value

INSPECT_EVAL = "inspect_eval"
INSPECT_JSON = "inspect_json"
LM_EVAL = "lm_eval"
LM_EVAL_SAMPLES = "lm_eval_samples"
GENERIC = "generic"
FORMATS = (INSPECT_EVAL, INSPECT_JSON, LM_EVAL, LM_EVAL_SAMPLES, GENERIC)

SNIFF_CHARS = 16 * 1024 * 1024  # how far into a JSON file detection may read

_UNKNOWN = (
    "The file is not an Inspect log (.eval or .json), an lm-evaluation-harness results file or"
    " a generic run file (see docs/evidence-formats.md)"
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

_PARSERS: dict[str, Callable[[Path, Limits], ParsedLog]] = {
    INSPECT_EVAL: inspect_eval.parse,
    INSPECT_JSON: inspect_json.parse,
    LM_EVAL: lm_eval.parse,
    LM_EVAL_SAMPLES: lm_eval.parse_samples,
    GENERIC: generic.parse,
}


def _unknown(path: Path, why: str) -> LogFormatError:
    hint = ""
    if path.suffix.lower() == ".eval":
        hint = " It is named .eval, but Inspect .eval logs are ZIP archives."
    return LogFormatError(f"{_UNKNOWN}: {why}.{hint}")


def _decide(keys: set[str]) -> str | None:
    if {"version", "status", "eval"} <= keys:
        return INSPECT_JSON
    if (
        "results" in keys
        and keys & {"configs", "config"}
        and keys & {"lm_eval_version", "versions"}
    ):
        return LM_EVAL
    if {"doc_id", "doc_hash"} <= keys:
        return LM_EVAL_SAMPLES
    return None


def _sniff_json(path: Path) -> str:
    with open(path, "rb") as fh:
        reader = JsonTextReader(
            fh, what="The file", max_value_chars=SNIFF_CHARS, max_total_chars=SNIFF_CHARS
        )
        try:
            first = reader.peek()
            if first != "{":
                raise _unknown(path, "it is neither a ZIP archive nor a JSON object")
            keys: set[str] = set()
            for key in reader.iter_object():
                keys.add(key)
                if key == "format":
                    value = reader.value()
                    if isinstance(value, str) and value.startswith(generic.FORMAT_PREFIX):
                        return GENERIC
                    continue
                decided = _decide(keys)
                if decided:
                    return decided
                reader.skip()
        except Exhausted:
            raise _unknown(
                path,
                f"none of their identifying keys appear in the first {SNIFF_CHARS:,} characters",
            ) from None
        except LogFormatError as exc:
            if str(exc).startswith(_UNKNOWN):
                raise
            why = str(exc).rstrip(".")
            if why.startswith("The file "):
                why = "it " + why[len("The file ") :]
            raise _unknown(path, why) from None
    raise _unknown(path, "it is a JSON object without the keys of any of these formats")


def detect_format(path: str | Path) -> str:
    """The format of the log at `path`, by content; `LogFormatError` if it is none we read."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise LogFormatError("The file is empty (0 bytes): upload the log file itself.")
    if head in _ZIP_MAGIC:
        names = [info.filename for info in inspect_eval.read_central_directory(path)]
        if inspect_eval.looks_like_eval(names):
            return INSPECT_EVAL
        raise LogFormatError(
            "The file is a ZIP archive but not an Inspect .eval log: it has no header.json or"
            " _journal/ members."
        )
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        raise _unknown(path, "it is UTF-16 text; save it as UTF-8")
    return _sniff_json(path)


def parse_log(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> ParsedLog:
    """Parse a log: the header at once, the samples as a lazy iterator.

    For an lm-eval results file with several tasks this is the first task only; use
    `parse_runs` to get all of them.
    """
    path = Path(path)
    return _PARSERS[detect_format(path)](path, limits)


def parse_runs(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> list[ParsedLog]:
    """Every run in a log file: one per task for lm-eval results files, else one."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == LM_EVAL:
        return parse_lm_eval_runs(path, limits)
    return [_PARSERS[fmt](path, limits)]


def read_headers(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> list[ParsedHeader]:
    """The header of every run in the file, without reading any sample (for the upload step)."""
    return [run.header for run in parse_runs(path, limits=limits)]


def read_headers_bounded(
    path: str | Path, *, max_bytes: int, limits: Limits = DEFAULT_LIMITS
) -> list[ParsedHeader] | ParsedHeader:
    """What the upload step may read of a log: at most about `max_bytes` of it.

    The headers of every run (as `read_headers`) when they can be had within the bound: an
    Inspect `.eval` (its header.json member only), an lm-eval samples file, or any file of at
    most `max_bytes`. Otherwise one provisional header with the format and whatever identity
    (eval id, task, model) the first `max_bytes` name; the worker reads the rest. Raises
    `LogFormatError` when the format itself cannot be recognised.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt in (INSPECT_EVAL, LM_EVAL_SAMPLES) or path.stat().st_size <= max_bytes:
        return read_headers(path, limits=limits)
    identity = _identity_within(path, fmt, max_bytes) if fmt in (GENERIC, INSPECT_JSON) else {}
    return ParsedHeader(
        format=fmt,
        harness={GENERIC: "", INSPECT_JSON: "inspect", LM_EVAL: "lm_eval"}.get(fmt, ""),
        harness_version="",
        eval_id=identity.get("eval_id", ""),
        task=identity.get("task", ""),
        task_version="",
        model=identity.get("model", ""),
        log_status="",
        details={"header_pending": True},
    )


def _identity_within(path: Path, fmt: str, max_bytes: int) -> dict[str, str]:
    """Eval id, task and model from the first `max_bytes` of a JSON log, where they are."""
    key = "run" if fmt == GENERIC else "eval"
    found: dict[str, str] = {}
    with open(path, "rb") as fh:
        reader = JsonTextReader(
            fh,
            what="The file",
            max_value_chars=max_bytes,
            max_total_chars=max_bytes,
            chunk_bytes=min(1 << 20, max_bytes),
        )
        try:
            for name in reader.iter_object():
                if name not in (key, "task", "model"):
                    reader.skip()
                    continue
                value = reader.value()
                if not isinstance(value, dict):
                    continue
                if fmt == GENERIC and name == "run":
                    found["eval_id"] = value.get("id")
                elif fmt == GENERIC:
                    found[name] = value.get("name")
                else:
                    found.update(
                        eval_id=value.get("eval_id"),
                        task=value.get("task"),
                        model=value.get("model"),
                    )
                if fmt == INSPECT_JSON or {"eval_id", "task", "model"} <= found.keys():
                    break
        except (Exhausted, LogFormatError):
            pass  # the worker reads the whole file and reports what is wrong with it
    return {k: v for k, v in found.items() if isinstance(v, str) and "\x00" not in v}


def open_run(
    path: str | Path,
    *,
    eval_id: str = "",
    task: str = "",
    samples_path: str | Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[ParsedHeader, Iterator[ParsedSample]]:
    """The header and lazy samples of one run of the file, picked by `eval_id` (else `task`).

    `samples_path` is an lm-eval samples file attached to an lm-eval results run later: its
    samples are returned instead, after checking its task hash matches the run's.
    """
    runs = parse_runs(path, limits=limits)
    chosen = [r for r in runs if eval_id and r.header.eval_id == eval_id]
    chosen = chosen or [r for r in runs if task and r.header.task == task]
    if not chosen and len(runs) == 1 and not eval_id:
        chosen = runs
    if not chosen:
        raise LogFormatError(
            f"The file holds no run with eval id {eval_id!r} (task {task!r}); it holds "
            + ", ".join(repr(r.header.task) for r in runs)
            + "."
        )
    run = chosen[0]
    if samples_path is None:
        return run.header, run.samples
    samples_log = parse_log(samples_path, limits=limits)
    if samples_log.header.format != LM_EVAL_SAMPLES:
        raise LogFormatError(
            "The attached samples file is not an lm-evaluation-harness samples file."
        )
    expected = run.header.details.get("task_hash", "")
    if expected != samples_log.header.details["task_hash"]:
        raise LogFormatError(
            f"The attached samples file does not belong to task {run.header.task!r} of this run"
            " (its task hash differs from the one in the results file)."
        )
    return run.header, samples_log.samples


__all__ = [
    "FORMATS",
    "GENERIC",
    "INSPECT_EVAL",
    "INSPECT_JSON",
    "LM_EVAL",
    "LM_EVAL_SAMPLES",
    "Limits",
    "LogFormatError",
    "MetricRow",
    "ParsedHeader",
    "ParsedLog",
    "ParsedSample",
    "SampleScore",
    "Tally",
    "detect_format",
    "json_safe",
    "lm_eval_samples_task_hash",
    "normalize_score",
    "normalize_value",
    "open_run",
    "parse_log",
    "parse_lm_eval_runs",
    "parse_runs",
    "read_headers",
    "read_headers_bounded",
]
