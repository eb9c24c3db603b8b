"""Inspect `EvalLog` header and `EvalSample` dicts -> our plain records (shared by the `.eval`
and `.json` parsers). Mapping per reference/eval-formats.md §5."""

from __future__ import annotations

from typing import Any

from .base import Limits, LogFormatError, MetricRow, ParsedHeader, ParsedSample, SampleScore
from .scores import add_scores, clean_float, clip, json_safe, small_dict

KNOWN_STATUSES = ("started", "success", "cancelled", "error")


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def metric_rows(results: dict[str, Any]) -> list[MetricRow]:
    """`results.scores[]` -> one row per (score name, scorer, reducer, metric, group).

    The metric is the `EvalMetric.name` (e.g. "accuracy"; for a grouped metric the group value
    such as "sub", with `group` = "grouped"); if two metrics of one score would share
    (name, group), the later one is named by its key in `metrics` instead, which Inspect keeps
    unique.
    """
    rows: list[MetricRow] = []
    for score in results.get("scores") or []:
        if not isinstance(score, dict):
            continue
        scorer = _str(score.get("scorer"))
        name = _str(score.get("name")) or scorer
        reducer = _str(score.get("reducer"))
        seen: set[tuple[str, str]] = set()
        for key, metric in _dict(score.get("metrics")).items():
            metric = _dict(metric)
            metric_name = _str(metric.get("name")) or key
            group = _str(metric.get("group"))
            if (metric_name, group) in seen:
                metric_name = key
            seen.add((metric_name, group))
            rows.append(
                MetricRow(
                    name=name,
                    scorer=scorer,
                    reducer=reducer,
                    metric=metric_name,
                    value=clean_float(metric.get("value")),
                    group=group,
                )
            )
    return rows


def header_from_dict(
    log: Any, *, fmt: str, limits: Limits, sample_members: int | None = None
) -> ParsedHeader:
    """Map an Inspect log header (`EvalLog` without samples) to a ParsedHeader."""
    if not isinstance(log, dict):
        raise LogFormatError("The Inspect log header is not a JSON object.")
    log = json_safe(log, max_depth=limits.max_json_depth)
    spec = log.get("eval")
    if not isinstance(spec, dict):
        raise LogFormatError("The Inspect log header has no 'eval' object (the run's EvalSpec).")
    status = log.get("status")
    if not isinstance(status, str) or not status:
        raise LogFormatError("The Inspect log header has no 'status'.")
    results = _dict(log.get("results"))
    stats = _dict(log.get("stats"))
    error = log.get("error")
    config = _dict(spec.get("config"))
    dataset = _dict(spec.get("dataset"))
    revision = spec.get("revision")
    packages = _dict(spec.get("packages"))

    task_version = spec.get("task_version", 0)
    details: dict[str, Any] = {
        "inspect_version": _str(packages.get("inspect_ai")),
        "log_version": log.get("version"),
        "packages": packages,
        "created": _str(spec.get("created")),
        "task_id": _str(spec.get("task_id")),
        "task_display_name": _str(spec.get("task_display_name")),
        "task_registry_name": _str(spec.get("task_registry_name")),
        "task_file": _str(spec.get("task_file")),
        "task_args": small_dict(spec.get("task_args"), max_bytes=8192),
        "solver": _str(spec.get("solver")),
        "solver_args": small_dict(spec.get("solver_args"), max_bytes=8192),
        "plan": _plan(_dict(log.get("plan"))),
        "model_generate_config": small_dict(spec.get("model_generate_config")),
        "model_base_url": _str(spec.get("model_base_url")),
        "model_roles": {
            _str(role): _str(_dict(info).get("model"))
            for role, info in _dict(spec.get("model_roles")).items()
        },
        "eval_set_id": _str(spec.get("eval_set_id")),
        "tags": [_str(t) for t in (log.get("tags") or spec.get("tags") or [])][:100],
        "metadata": small_dict(log.get("metadata") or spec.get("metadata"), max_bytes=16384),
        "revision": revision if isinstance(revision, dict) else None,
        "dataset": {
            "name": _str(dataset.get("name")),
            "location": _str(dataset.get("location")),
            "samples": _int_or_none(dataset.get("samples")),
            "shuffled": dataset.get("shuffled"),
        },
        "epochs": _int_or_none(config.get("epochs")) or 1,
        "epochs_reducer": config.get("epochs_reducer"),
        "config": small_dict(
            {
                k: v
                for k, v in config.items()
                if k
                in (
                    "limit",
                    "sample_id",
                    "fail_on_error",
                    "continue_on_fail",
                    "message_limit",
                    "token_limit",
                    "time_limit",
                    "working_limit",
                    "cost_limit",
                )
            }
        ),
        "headline": results.get("headline"),
        "invalidated": bool(log.get("invalidated")),
        "model_usage": small_dict(stats.get("model_usage"), max_bytes=8192),
        "role_usage": small_dict(stats.get("role_usage"), max_bytes=8192),
        "scored_samples": {
            f"{_str(s.get('name'))}/{_str(s.get('reducer'))}": _int_or_none(s.get("scored_samples"))
            for s in results.get("scores") or []
            if isinstance(s, dict)
        },
    }
    if sample_members is not None:
        details["sample_members"] = sample_members
    return ParsedHeader(
        format=fmt,
        harness="inspect",
        harness_version=details["inspect_version"],
        eval_id=_str(spec.get("eval_id")),
        task=_str(spec.get("task")),
        task_version=_str(task_version),
        model=_str(spec.get("model")),
        log_status=status,
        log_error=clip(_dict(error).get("message") if isinstance(error, dict) else error),
        run_id=_str(spec.get("run_id")),
        started_at=_str(stats.get("started_at")),
        completed_at=_str(stats.get("completed_at")),
        total_samples=_int_or_none(results.get("total_samples")),
        completed_samples=_int_or_none(results.get("completed_samples")),
        metrics=metric_rows(results),
        details=details,
    )


def _plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    steps = []
    for step in (plan.get("steps") or [])[:50]:
        if isinstance(step, dict):
            steps.append(
                {
                    "solver": _str(step.get("solver")),
                    "params": small_dict(step.get("params"), max_bytes=4096),
                }
            )
    return steps


def sample_from_dict(sample: Any, *, where: str, limits: Limits) -> ParsedSample:
    """Map one Inspect `EvalSample` dict; only id, epoch, scores, error and metadata are read,
    the transcript (events, messages, attachments) is left untouched."""
    if not isinstance(sample, dict):
        raise LogFormatError(f"{where} is not a JSON object (an Inspect sample).")
    sample_id = sample.get("id")
    if isinstance(sample_id, bool) or not isinstance(sample_id, str | int) or sample_id == "":
        raise LogFormatError(f"{where} has no sample 'id' (an int or a string).")
    epoch = sample.get("epoch", 1)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise LogFormatError(f"{where} has an invalid 'epoch' {epoch!r} (a positive integer).")
    scores: dict[str, SampleScore] = {}
    raw_scores = sample.get("scores") or {}
    if not isinstance(raw_scores, dict):
        raise LogFormatError(f"{where} has 'scores' that are not an object of scorer -> Score.")
    for scorer, score in raw_scores.items():
        value = score.get("value") if isinstance(score, dict) else None
        add_scores(scores, str(scorer), value)
    error = sample.get("error")
    if isinstance(error, dict):
        error = error.get("message") or "error"
    return ParsedSample(
        sample_id=clip(sample_id, 400),
        epoch=epoch,
        scores=scores,
        error=clip(error),
        metadata=small_dict(sample.get("metadata"), max_depth=limits.max_json_depth),
    )
