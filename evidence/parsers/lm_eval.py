"""EleutherAI lm-evaluation-harness output (reference/eval-formats.md §3).

Two files per invocation: `results_<time>.json` (aggregates for every task and group of the
run) and, with `--log_samples`, one `samples_<task>_<time>.jsonl` per task.

Mapping decisions
-----------------

* **One run per task.** A results file covering several tasks becomes one `ParsedLog` per entry
  of `results` (leaf tasks and groups that report metrics), because a safety-case binding
  selects runs by task. `parse_lm_eval_runs()` (and `parse_runs()` in the package) returns them
  all; `parse()` returns the first leaf task only, for callers that want exactly one.
  A group run (e.g. `mmlu`) has no samples; `details["subtasks"]` lists its tasks and a leaf
  task's `details["groups"]` its parent groups.
* **Identity.** lm-eval writes no run id, so `eval_id` = "lmeval-" + the first 32 hex digits of
  sha256 of `[model_name, date, task]` (the start timestamp makes it unique per invocation and
  stable across re-uploads), and `run_id` the same over `[model_name, date]` (shared by the
  tasks of one invocation, like Inspect's run_id).
* **lm-eval 0.3 results** (`results` keyed by task with `acc`, `acc_stderr`, `acc_norm`...,
  `versions`, `config` with `model_args` as a string, no `date`, no filters) are read with
  every value they hold: lm-eval 0.3 had no filters, and 0.4 names an unfiltered metric
  `"<metric>,none"`, so a 0.3 `acc` is the score `"acc,none"` (the same name a 0.4 run of the
  task gives it, so one binding selects both). With no `date` in the file, the eval id hashes
  the file's results and config instead (re-uploads of the file repeat it; two runs differ).
* **Metrics.** lm-eval keys values as `"<metric>,<filter>"` (`"acc,none"`,
  `"exact_match,strict-match"`). That whole key is the score name: `MetricRow(name="acc,none",
  scorer="acc", reducer="", metric=<aggregation>, value)`, where the aggregation is the one the
  task config names for the metric (`mean` for acc/exact_match; groups always aggregate by
  `mean`; the metric's own name if the config names none). The `"acc_stderr,none"` twin becomes
  `MetricRow(name="acc,none", scorer="acc", reducer="", metric="stderr")`; the string "N/A"
  (and NaN) become None. lm-eval has no epoch reducer, so `reducer` is always "".
* **Samples.** One `ParsedSample` per document (`sample_id` = str(doc_id), epoch 1) carrying a
  score per `"<metric>,<filter>"`: the same names as the metric rows, so k/n for
  `"exact_match,strict-match"` counts documents (acc and exact_match are 0/1, read as
  correct False/True). lm-eval writes one line per (document, filter), filter by filter; lines
  of one document are merged, keeping in memory only documents still waiting for a filter.
  `metadata` is the document row (the dataset fields, thinned to a few KB).
* **Matching a samples file to its run.** lm-eval records
  `task_hashes[task] = sha256("".join(doc_hash + prompt_hash + target_hash for each line))`
  (`EvaluationTracker.save_results_aggregated`, `utils.hash_string`). The results header keeps
  `details["task_hash"]` (its task's) and `details["task_hashes"]` (all), and
  `lm_eval_samples_task_hash(path)` recomputes the hash of a samples file uploaded later, so the
  two can be joined.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._json import loads
from .base import (
    DEFAULT_LIMITS,
    Limits,
    LogFormatError,
    MetricRow,
    ParsedHeader,
    ParsedLog,
    ParsedSample,
)
from .scores import add_scores, clean_float, json_safe, small_dict

_MODEL_ARG_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")  # lm-eval's order
_SECRET = re.compile(r"key|token|secret|password|auth", re.IGNORECASE)
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.\-]+)\.jsonl$")
_TASK_CONFIG_KEYS = (
    "task",
    "tag",
    "dataset_path",
    "dataset_name",
    "test_split",
    "output_type",
    "num_fewshot",
    "repeats",
    "metric_list",
    "filter_list",
    "generation_kwargs",
    "metadata",
)
_MODEL_CONFIG_KEYS = (
    "model",
    "model_args",
    "model_num_parameters",
    "model_dtype",
    "model_revision",
    "model_sha",
    "batch_size",
    "device",
    "limit",
    "bootstrap_iters",
    "gen_kwargs",
    "random_seed",
    "numpy_seed",
    "torch_seed",
    "fewshot_seed",
)


def _short_id(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return "lmeval-" + hashlib.sha256(blob).hexdigest()[:32]


def _model_args(args: Any) -> dict[str, Any]:
    if isinstance(args, dict):
        return args
    if isinstance(args, str):  # older releases: "pretrained=x,dtype=float16"
        pairs = (item.partition("=") for item in args.split(",") if item.strip())
        return {key.strip(): value.strip() for key, _, value in pairs}
    return {}


def _redact(args: dict[str, Any]) -> dict[str, Any]:
    return {k: ("(redacted)" if _SECRET.search(str(k)) else v) for k, v in args.items()}


def model_name(doc: dict[str, Any]) -> str:
    name = doc.get("model_name")
    if isinstance(name, str) and name:
        return name
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    args = _model_args(config.get("model_args"))
    for key in _MODEL_ARG_KEYS:
        if args.get(key):
            return str(args[key])
    return str(config.get("model") or "")


def _load_results(path: str | Path, limits: Limits) -> dict[str, Any]:
    size = os.path.getsize(path)
    if size > limits.max_member_bytes:
        raise LogFormatError(
            f"The lm-eval results file is {size:,} bytes, more than the limit of"
            f" {limits.max_member_bytes:,} (limit max_member_bytes)."
        )
    with open(path, "rb") as fh:
        doc = loads(fh.read(), what="The lm-eval results file")
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise LogFormatError("The lm-eval results file has no 'results' object.")
    return json_safe(doc, max_depth=limits.max_json_depth)


def _content_id(doc: dict[str, Any]) -> str:
    blob = json.dumps([doc.get("results"), doc.get("config")], sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def _aggregation(configs: dict[str, Any], task: str, metric: str, is_group: bool) -> str:
    if is_group:
        return "mean"  # lm-eval aggregates groups by (weighted) mean only
    config = configs.get(task) if isinstance(configs.get(task), dict) else {}
    for item in config.get("metric_list") or []:
        if isinstance(item, dict) and item.get("metric") == metric:
            aggregation = item.get("aggregation")
            if isinstance(aggregation, str) and aggregation and "<" not in aggregation:
                return aggregation
    return metric


_NOT_METRICS = frozenset({"name", "alias", "sample_len", "sample_count", "samples"})
UNFILTERED = "none"  # lm-eval 0.4's filter name for a metric without a filter


def _is_metric_value(value: Any) -> bool:
    if value is None or value == "N/A":  # None: NaN made JSON-safe
        return True
    return isinstance(value, int | float) and not isinstance(value, bool)


def metric_rows(
    values: dict[str, Any], *, configs: dict[str, Any], task: str, is_group: bool
) -> list[MetricRow]:
    rows = []
    for key, value in values.items():
        if "," in key:
            metric, _, filter_name = key.partition(",")
        elif key in _NOT_METRICS or not _is_metric_value(value):
            continue
        else:  # lm-eval 0.3: no filters
            metric, filter_name = key, UNFILTERED
            key = f"{metric},{filter_name}"
        if metric.endswith("_stderr"):
            base = metric[: -len("_stderr")]
            rows.append(MetricRow(f"{base},{filter_name}", base, "", "stderr", clean_float(value)))
        else:
            aggregation = _aggregation(configs, task, metric, is_group)
            rows.append(MetricRow(key, metric, "", aggregation, clean_float(value)))
    return rows


def _iso(timestamp: Any) -> str:
    stamp = clean_float(timestamp)
    if stamp is None:
        return ""
    try:
        return datetime.fromtimestamp(stamp, tz=UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _task_header(doc: dict[str, Any], task: str, tasks: list[str]) -> ParsedHeader:
    values = _dict(doc["results"].get(task))
    configs = _dict(doc.get("configs"))
    group_subtasks = _dict(doc.get("group_subtasks"))
    is_group = task in group_subtasks
    config = _dict(doc.get("config"))
    name = model_name(doc)
    date = doc.get("date")
    # lm-eval 0.3 writes no date: the file's own results and config tell its runs apart
    identity = date if date is not None else _content_id(doc)
    n_samples = _dict(_dict(doc.get("n-samples")).get(task))
    total = n_samples.get("effective", values.get("sample_len"))
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    task_hashes = {str(k): str(v) for k, v in _dict(doc.get("task_hashes")).items()}
    version = _dict(doc.get("versions")).get(task)
    model_config = {k: config[k] for k in _MODEL_CONFIG_KEYS if k in config}
    if "model_args" in model_config:
        model_config["model_args"] = _redact(_model_args(model_config["model_args"]))
    task_config = _dict(configs.get(task))
    details: dict[str, Any] = {
        "lm_eval_version": str(doc.get("lm_eval_version") or ""),
        "results_shape": "0.4" if "lm_eval_version" in doc or "configs" in doc else "0.3",
        "date": clean_float(date),
        "git_hash": doc.get("git_hash"),
        "model_source": doc.get("model_source"),
        "config": small_dict(model_config, max_bytes=8192),
        "task_config": small_dict(
            {k: task_config[k] for k in _TASK_CONFIG_KEYS if k in task_config}, max_bytes=8192
        ),
        "alias": values.get("alias"),
        "n_shot": _dict(doc.get("n-shot")).get(task),
        "n_samples": n_samples or None,
        "higher_is_better": _dict(doc.get("higher_is_better")).get(task),
        "task_hash": task_hashes.get(task, ""),
        "task_hashes": task_hashes,
        "is_group": is_group,
        "subtasks": group_subtasks.get(task) if is_group else None,
        "groups": sorted(g for g, subs in group_subtasks.items() if task in (subs or [])),
        "file_tasks": tasks,
        "system_instruction_sha": doc.get("system_instruction_sha"),
        "chat_template_sha": doc.get("chat_template_sha"),
        "fewshot_as_multiturn": doc.get("fewshot_as_multiturn"),
        "total_evaluation_time_seconds": doc.get("total_evaluation_time_seconds"),
    }
    return ParsedHeader(
        format="lm_eval",
        harness="lm_eval",
        harness_version=details["lm_eval_version"],
        eval_id=_short_id(name, identity, task),
        task=task,
        task_version="" if version is None else str(version),
        model=name,
        log_status="success",  # lm-eval writes a results file only for a finished run
        model_version=str(config.get("model_sha") or config.get("model_revision") or ""),
        run_id=_short_id(name, identity),
        started_at=_iso(date),
        total_samples=total,
        completed_samples=total,
        metrics=metric_rows(values, configs=configs, task=task, is_group=is_group),
        details=details,
    )


def parse_lm_eval_runs(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> list[ParsedLog]:
    """One ParsedLog per task (and per group that reports metrics) of a results file, in the
    file's order. Results files carry no samples: each `samples` iterator is empty."""
    doc = _load_results(path, limits)
    tasks = [str(t) for t in doc["results"]]
    runs = []
    for task in tasks:
        header = _task_header(doc, task, tasks)
        if header.details["is_group"] and not header.metrics:
            continue
        runs.append(ParsedLog(header=header, samples=iter(())))
    if not runs:
        raise LogFormatError("The lm-eval results file reports no task results.")
    return runs


def parse(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> ParsedLog:
    """The first leaf task of a results file (see `parse_lm_eval_runs` for all of them)."""
    runs = parse_lm_eval_runs(path, limits)
    leaves = [run for run in runs if not run.header.details["is_group"]]
    return (leaves or runs)[0]


# -- samples_<task>_<time>.jsonl ---------------------------------------------------------------


def _iter_lines(path: str | Path, limits: Limits) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, "rb") as fh:
        number = 0
        while True:
            line = fh.readline(limits.max_member_bytes + 1)
            if not line:
                return
            number += 1
            if len(line) > limits.max_member_bytes:
                raise LogFormatError(
                    f"Line {number} of the lm-eval samples file is longer than"
                    f" {limits.max_member_bytes:,} bytes (limit max_member_bytes)."
                )
            if not line.strip():
                continue
            row = loads(line, what=f"Line {number} of the lm-eval samples file")
            if not isinstance(row, dict) or "doc_id" not in row:
                raise LogFormatError(
                    f"Line {number} of the lm-eval samples file is not a sample object with a"
                    " 'doc_id'."
                )
            yield number, row


def _hash_part(number: int, row: dict[str, Any]) -> str:
    parts = (row.get("doc_hash"), row.get("prompt_hash"), row.get("target_hash"))
    if not all(isinstance(p, str) for p in parts):
        raise LogFormatError(
            f"Line {number} of the lm-eval samples file lacks doc_hash/prompt_hash/target_hash."
        )
    return "".join(parts)  # type: ignore[arg-type]


def _scan_samples(path: str | Path, limits: Limits) -> tuple[str, Counter[Any], list[str]]:
    hasher = hashlib.sha256()
    lines_per_doc: Counter[Any] = Counter()
    filters: dict[str, None] = {}
    for number, row in _iter_lines(path, limits):
        hasher.update(_hash_part(number, row).encode("utf-8"))
        lines_per_doc[_doc_key(row["doc_id"])] += 1
        filters[str(row.get("filter", "none"))] = None
    return hasher.hexdigest(), lines_per_doc, list(filters)


def lm_eval_samples_task_hash(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """lm-eval's `task_hashes[task]` for a samples file: sha256 over the concatenated
    doc_hash + prompt_hash + target_hash of its lines, in file order."""
    return _scan_samples(path, limits)[0]


def _doc_key(doc_id: Any) -> str:
    if isinstance(doc_id, bool) or not isinstance(doc_id, int | str):
        raise LogFormatError(f"An lm-eval sample has an invalid doc_id {doc_id!r}.")
    return str(doc_id)


def _iter_docs(
    path: str | Path, limits: Limits, lines_per_doc: Counter[Any]
) -> Iterator[ParsedSample]:
    pending: dict[str, ParsedSample] = {}
    seen: Counter[str] = Counter()
    for _, row in _iter_lines(path, limits):
        key = _doc_key(row["doc_id"])
        sample = pending.get(key)
        if sample is None:
            sample = ParsedSample(
                sample_id=key,
                epoch=1,
                scores={},
                metadata=small_dict(row.get("doc"), max_depth=limits.max_json_depth),
            )
            pending[key] = sample
        filter_name = str(row.get("filter", "none"))
        metrics = row.get("metrics") or []
        for metric in metrics if isinstance(metrics, list) else []:
            add_scores(sample.scores, f"{metric},{filter_name}", row.get(str(metric)))
        seen[key] += 1
        if seen[key] >= lines_per_doc[key]:
            yield pending.pop(key)
    yield from pending.values()  # only if the file changed between the two passes


def parse_samples(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> ParsedLog:
    """A samples_<task>_<time>.jsonl file on its own: no model or run identity in it, only the
    task (from the file name, when it has lm-eval's) and `details["task_hash"]` to match it to
    the results run (`details["task_hash"]` of that run)."""
    task_hash, lines_per_doc, filters = _scan_samples(path, limits)
    if not lines_per_doc:
        raise LogFormatError("The lm-eval samples file has no samples.")
    match = _SAMPLES_NAME.match(Path(path).name)
    header = ParsedHeader(
        format="lm_eval_samples",
        harness="lm_eval",
        harness_version="",
        eval_id="",
        task=match["task"] if match else "",
        task_version="",
        model="",
        log_status="success",
        total_samples=len(lines_per_doc),
        completed_samples=len(lines_per_doc),
        details={
            "task_hash": task_hash,
            "filters": filters,
            "lines": sum(lines_per_doc.values()),
            "file_date": match["date"] if match else "",
        },
    )
    return ParsedLog(header=header, samples=_iter_docs(path, limits, lines_per_doc))


__all__ = [
    "lm_eval_samples_task_hash",
    "model_name",
    "parse",
    "parse_lm_eval_runs",
    "parse_samples",
]
