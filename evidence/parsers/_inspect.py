"""Inspect `EvalLog` header and `EvalSample` dicts -> our plain records (shared by the `.eval`
and `.json` parsers). Mapping per reference/eval-formats.md §5.

Logs are read as Inspect's own reader (`inspect_ai.log.read_eval_log`, inspect-ai 0.3.285)
reads them:

* Log format versions 1 to 3 are read (3: `.eval` logs of inspect-ai releases that pooled
  repeated messages, which Inspect's `.eval` reader still reads); a higher version is refused,
  as Inspect's `.json` reader refuses one above 2 ("Unable to read version N of log format"),
  and a `.json` log above version 2 is refused as Inspect refuses it.
* Version 1 (inspect-ai up to 0.3.17) and early version 2 logs are migrated as Inspect's model
  validators migrate them: `results.scorer` + `results.metrics` become one `results.scores[]`
  entry (`EvalResults.convert_scorer_to_scorers`), and a sample's single `score` becomes its
  `scores`, named after the first results score (`EvalSample.migrate_deprecated` and
  `EvalLog.populate_scorer_name_for_samples`).
* A header Inspect would not validate is refused with the reason: no `eval`, a missing
  required `eval` field (`created`, `task`, `dataset`, `model`, `config`), an unknown status, a
  results score without `name` or `scorer`, a metric without `name` or `value`.
* A log without `eval_id` gets the id Inspect derives when it reads one
  (`EvalSpec.model_post_init`: base57 of blake2s-128 over run_id + task_id + created, with
  `created` first normalized to UTC as Inspect's `UtcDatetimeStr` does).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from .base import Limits, LogFormatError, MetricRow, ParsedHeader, ParsedSample, SampleScore
from .scores import add_scores, clean_float, clip, json_safe, small_dict

KNOWN_STATUSES = ("started", "success", "cancelled", "error")
LOG_FORMAT_VERSIONS = (1, 2, 3)  # the versions inspect-ai has written (0.3.285 writes 2)
JSON_MAX_VERSION = 2  # Inspect's .json reader refuses anything above its LOG_SCHEMA_VERSION
REQUIRED_SPEC_FIELDS = ("created", "task", "dataset", "model", "config")
SCORER_PLACEHOLDER = "88F74D2C"  # Inspect's key for a migrated single `score` (no results)
_ALPHABET57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def derived_eval_id(run_id: str, task_id: str, created: str) -> str:
    """The eval id Inspect gives a log that has none (`inspect_ai._util.hash.base57_id_hash`)."""
    number = int.from_bytes(
        hashlib.blake2s((run_id + task_id + created).encode(), digest_size=16).digest(), "big"
    )
    digits = []
    while number:
        number, rest = divmod(number, 57)
        digits.append(_ALPHABET57[rest])
    text = "".join(reversed(digits)) or _ALPHABET57[0]
    return text[-22:] if len(text) > 22 else text.rjust(22, _ALPHABET57[0])


def check_version(log: dict[str, Any], *, fmt: str = "inspect_eval") -> int:
    """The log's format version; `LogFormatError` for one Inspect's reader would refuse, or one
    newer than any inspect-ai has written."""
    version = log.get("version", 2)  # EvalLog's default
    if isinstance(version, bool) or not isinstance(version, int):
        raise LogFormatError(
            f"The Inspect log's format 'version' is {version!r}, not an integer; Inspect"
            " cannot read it."
        )
    newest = JSON_MAX_VERSION if fmt == "inspect_json" else LOG_FORMAT_VERSIONS[-1]
    if version > newest:
        kind = ".json" if fmt == "inspect_json" else ".eval"
        raise LogFormatError(
            f"Unable to read version {version} of the Inspect log format: this server reads"
            f" Inspect {kind} logs of versions {LOG_FORMAT_VERSIONS[0]} to {newest} (as"
            " inspect-ai 0.3.285 reads them). Upgrade the server to read this log."
        )
    if version < LOG_FORMAT_VERSIONS[0]:
        raise LogFormatError(f"The Inspect log's format version {version} is not a version.")
    return version


def utc_created(text: str) -> str:
    """`eval.created` as Inspect holds it once read: the ISO date-time in UTC (no zone: UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LogFormatError(
            f"The Inspect log header's eval.created {text[:60]!r} is not an ISO 8601 date-time;"
            " Inspect refuses it."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def migrated_results(results: Any) -> dict[str, Any]:
    """`results` in the current shape: the early single `scorer` + `metrics` become one
    `scores` entry, as Inspect's `EvalResults.convert_scorer_to_scorers` does; every score is
    checked the way Inspect's `EvalScore`/`EvalMetric` models check it."""
    if results is None:
        return {}
    if not isinstance(results, dict):
        raise LogFormatError("The Inspect log's 'results' is not an object.")
    if "scorer" in results:
        if "scores" in results:
            raise LogFormatError(
                "The Inspect log's results have both 'scorer' (format version 1) and 'scores';"
                " Inspect refuses such a log."
            )
        results = dict(results)
        scorer = results.pop("scorer")
        metrics = results.pop("metrics", None)
        if not isinstance(scorer, dict) or not isinstance(scorer.get("name"), str):
            raise LogFormatError(
                "The Inspect log's results 'scorer' has no 'name'; Inspect cannot read it."
            )
        score = dict(scorer)
        if metrics:
            score["metrics"] = metrics
        score["scorer"] = score["name"]
        results["scores"] = [score]
    scores = results.get("scores") or []
    if not isinstance(scores, list):
        raise LogFormatError("The Inspect log's 'results.scores' is not a list.")
    for index, score in enumerate(scores):
        where = f"results.scores[{index}]"
        if not isinstance(score, dict):
            raise LogFormatError(f"The Inspect log's {where} is not an object.")
        for field in ("name", "scorer"):
            if not isinstance(score.get(field), str):
                raise LogFormatError(
                    f"The Inspect log's {where} has no '{field}' (a string); Inspect refuses"
                    " a score entry without it."
                )
        metrics = score.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise LogFormatError(f"The Inspect log's {where}.metrics is not an object.")
        for key, metric in metrics.items():
            if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
                raise LogFormatError(
                    f"The Inspect log's metric {key!r} of {where} has no 'name'; Inspect"
                    " refuses it."
                )
            value = metric.get("value")
            if value is None or isinstance(value, dict | list):
                raise LogFormatError(
                    f"The Inspect log's metric {key!r} of {where} has no numeric 'value';"
                    " Inspect refuses it."
                )
    return results


def _check_spec(spec: dict[str, Any]) -> None:
    missing = [field for field in REQUIRED_SPEC_FIELDS if spec.get(field) is None]
    if missing:
        raise LogFormatError(
            "The Inspect log header's 'eval' lacks "
            + ", ".join(repr(field) for field in missing)
            + "; Inspect refuses a header that does not validate."
        )
    for field in ("task", "model", "created"):
        if not isinstance(spec[field], str):
            raise LogFormatError(
                f"The Inspect log header's eval.{field} is not a string; Inspect refuses it."
            )
    utc_created(spec["created"])
    for field in ("dataset", "config"):
        if not isinstance(spec[field], dict):
            raise LogFormatError(
                f"The Inspect log header's eval.{field} is not an object; Inspect refuses it."
            )


def first_score_name(header: ParsedHeader) -> str:
    """The name a migrated single `score` of a sample takes (the first results score)."""
    return header.details.get("first_score_name") or SCORER_PLACEHOLDER


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
    version = check_version(log, fmt=fmt)
    # checked before NaN metric values (which Inspect accepts) become None
    results = migrated_results(log.get("results"))
    log = json_safe({**log, "results": results}, max_depth=limits.max_json_depth)
    spec = log.get("eval")
    if not isinstance(spec, dict):
        raise LogFormatError("The Inspect log header has no 'eval' object (the run's EvalSpec).")
    status = log.get("status")
    if not isinstance(status, str) or not status:
        raise LogFormatError("The Inspect log header has no 'status'.")
    if status not in KNOWN_STATUSES:
        raise LogFormatError(
            f"The Inspect log's status {status!r} is not one of "
            + ", ".join(KNOWN_STATUSES)
            + "; Inspect refuses it."
        )
    _check_spec(spec)
    results = _dict(log.get("results"))
    scores = [s for s in results.get("scores") or [] if isinstance(s, dict)]
    stats = _dict(log.get("stats"))
    error = log.get("error")
    config = _dict(spec.get("config"))
    dataset = _dict(spec.get("dataset"))
    revision = spec.get("revision")
    packages = _dict(spec.get("packages"))

    task_version = spec.get("task_version", 0)
    details: dict[str, Any] = {
        "inspect_version": _str(packages.get("inspect_ai")),
        "log_version": version,
        "first_score_name": _str(scores[0].get("name")) if scores else "",
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
        eval_id=_str(spec.get("eval_id"))
        or derived_eval_id(
            _str(spec.get("run_id")), _str(spec.get("task_id")), utc_created(spec["created"])
        ),
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


def sample_from_dict(
    sample: Any, *, where: str, limits: Limits, score_name: str = SCORER_PLACEHOLDER
) -> ParsedSample:
    """Map one Inspect `EvalSample` dict; only id, epoch, scores, error and metadata are read,
    the transcript (events, messages, attachments) is left untouched. A single `score` (format
    version 1) is read as `scores` named `score_name` (see `first_score_name`)."""
    if not isinstance(sample, dict):
        raise LogFormatError(f"{where} is not a JSON object (an Inspect sample).")
    if "score" in sample:
        if "scores" in sample:
            raise LogFormatError(
                f"{where} has both 'score' (format version 1) and 'scores'; Inspect refuses it."
            )
        sample = {**sample, "scores": {score_name or SCORER_PLACEHOLDER: sample["score"]}}
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
