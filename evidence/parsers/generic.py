"""The generic run format for custom harnesses: `"format": "safetycase.generic/1"`.

Specified by `evidence/schemas/generic-run.schema.json` (JSON Schema draft 2020-12) and
documented in `docs/evidence-formats.md`. The whole file is validated before anything is
returned, so a bad file fails as a unit with a message naming the failing path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from evidence import statistics

from ._json import loads
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
from .scores import add_scores, clean_float, clip, json_safe, small_dict

FORMAT = "safetycase.generic/1"
# The level of the milestone estimate's one-sided bounds (CEL `estimation.milestone.upper`).
MILESTONE_CONFIDENCE = 0.95
FORMAT_PREFIX = "safetycase.generic/"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "generic-run.schema.json"


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _invalid(where: str, why: str) -> LogFormatError:
    if len(why) > 300:  # jsonschema quotes the offending value: keep its start and the verdict
        why = why[:150] + " … " + why[-150:]
    return LogFormatError(f"The generic run file is invalid at {where}: {why}")


def _schema_error(doc: dict[str, Any]) -> LogFormatError | None:
    error = best_match(validator().iter_errors(doc))
    if error is None:
        return None
    if error.validator == "anyOf" and not error.path:
        return _invalid(
            "$",
            "it needs 'results' (tallies), 'samples', 'milestones' or 'best_of_n_steps'.",
        )
    if error.validator == "additionalProperties":
        return _invalid(error.json_path, error.message + " (put extra fields in 'metadata')")
    return _invalid(error.json_path, error.message)


def _check_semantics(doc: dict[str, Any]) -> None:
    run = doc["run"]
    for key in ("started_at", "completed_at"):
        stamp = run.get(key)
        if stamp:
            try:
                datetime.fromisoformat(stamp)
            except ValueError:
                raise _invalid(f"$.run.{key}", f"{stamp!r} is not an ISO 8601 date-time") from None
    for index, tally in enumerate(doc.get("results") or []):
        if tally["successes"] > tally["trials"]:
            raise _invalid(
                f"$.results[{index}]",
                f"successes ({tally['successes']}) exceed trials ({tally['trials']})",
            )
    for index, milestone in enumerate(doc.get("milestones") or []):
        if milestone["successes"] > milestone["trials"]:
            raise _invalid(
                f"$.milestones[{index}]",
                f"successes ({milestone['successes']}) exceed trials ({milestone['trials']})",
            )
    for index, step in enumerate(doc.get("best_of_n_steps") or []):
        if step["chosen_count"] > step["n"]:
            raise _invalid(
                f"$.best_of_n_steps[{index}]",
                f"chosen_count ({step['chosen_count']}) exceeds n ({step['n']})",
            )
        distinct = step.get("n_unique", step["n"])
        if distinct > step["n"] or step["chosen_index"] > distinct:
            raise _invalid(
                f"$.best_of_n_steps[{index}]",
                f"chosen_index ({step['chosen_index']}) must be at most n_unique ({distinct}), "
                f"which is at most n ({step['n']})",
            )
    seen: set[tuple[str, int]] = set()
    for index, sample in enumerate(doc.get("samples") or []):
        key = (str(sample["id"]), sample.get("epoch", 1))
        if key in seen:
            raise _invalid(f"$.samples[{index}]", f"sample {key[0]!r} epoch {key[1]} appears twice")
        seen.add(key)


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Read and validate a generic run file; the JSON-safe document."""
    size = os.path.getsize(path)
    if size > limits.max_member_bytes:
        raise LogFormatError(
            f"The generic run file is {size:,} bytes, more than the limit of"
            f" {limits.max_member_bytes:,} (limit max_member_bytes)."
        )
    with open(path, "rb") as fh:
        doc = loads(fh.read(), what="The generic run file")
    doc = json_safe(doc, max_depth=limits.max_json_depth)  # NaN -> null before validating
    if not isinstance(doc, dict):
        raise _invalid("$", "the file must hold a JSON object.")
    fmt = doc.get("format")
    if isinstance(fmt, str) and fmt.startswith(FORMAT_PREFIX) and fmt != FORMAT:
        raise _invalid("$.format", f"{fmt!r} is not supported; this server reads {FORMAT!r}.")
    error = _schema_error(doc)
    if error is not None:
        raise error
    _check_semantics(doc)
    return doc


def _samples(doc: dict[str, Any], limits: Limits) -> Iterator[ParsedSample]:
    for sample in doc.get("samples") or []:
        scores: dict[str, SampleScore] = {}
        for name, value in sample["scores"].items():
            add_scores(scores, name, value)
        yield ParsedSample(
            sample_id=str(sample["id"]),
            epoch=sample.get("epoch", 1),
            scores=scores,
            error=clip(sample.get("error")),
            metadata=small_dict(sample.get("metadata"), max_depth=limits.max_json_depth),
        )


def has_estimation_data(doc: dict[str, Any]) -> bool:
    return bool(doc.get("milestones") or doc.get("best_of_n_steps"))


def estimation(doc: dict[str, Any]) -> dict[str, Any]:
    """The biased estimators computed here from the file's raw data (never taken from labels):
    `kinds` names the methods, `milestone` and `expert` hold what each gives."""
    found: dict[str, Any] = {"kinds": []}
    milestones = doc.get("milestones") or []
    if milestones:
        pairs = [(m["successes"], m["trials"]) for m in milestones]
        lower, upper = statistics.milestone_interval(pairs, MILESTONE_CONFIDENCE)
        found["kinds"].append("milestone")
        found["milestone"] = {
            "p_hat": statistics.milestone_point_estimate(pairs),
            "lower": lower,
            "upper": upper,
            "confidence": MILESTONE_CONFIDENCE,
            "count": len(pairs),
            "milestones": [
                {"id": m["id"], "k": m["successes"], "n": m["trials"]} for m in milestones
            ],
        }
    steps = doc.get("best_of_n_steps") or []
    if steps:
        indices = [step["chosen_index"] for step in steps]
        found["kinds"].append("expert_best_of_n")
        found["expert"] = {
            "bits": statistics.expert_bits(indices),
            "implied_p": statistics.expert_implied_probability(indices),
            "frequency_weighted_p": statistics.frequency_weighted_probability(
                [step["chosen_count"] for step in steps], [step["n"] for step in steps]
            ),
            "steps": len(steps),
        }
    return found


def parse(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> ParsedLog:
    doc = load(path, limits)
    run, model, task = doc["run"], doc["model"], doc["task"]
    samples = doc.get("samples")
    header = ParsedHeader(
        format="generic",
        harness=run["harness"],
        harness_version=run.get("harness_version", ""),
        eval_id=run["id"],
        task=task["name"],
        task_version=str(task.get("version", "")),
        model=model["name"],
        model_version=model.get("version", ""),
        log_status=run["status"],
        log_error=clip(run.get("error")),
        run_id=run.get("group", ""),
        started_at=run.get("started_at", ""),
        completed_at=run.get("completed_at", ""),
        total_samples=len(samples) if samples is not None else None,
        completed_samples=(
            sum(1 for s in samples if not s.get("error")) if samples is not None else None
        ),
        metrics=[
            MetricRow(
                name=m["scorer"],
                scorer=m["scorer"],
                reducer=m.get("reducer", ""),
                metric=m["metric"],
                value=clean_float(m["value"]),
                group=m.get("group", ""),
            )
            for m in doc.get("metrics") or []
        ],
        tallies=[
            Tally(name=t["scorer"], successes=t["successes"], trials=t["trials"])
            for t in doc.get("results") or []
        ],
        details={
            "format": FORMAT,
            **({"estimation": estimation(doc)} if has_estimation_data(doc) else {}),
            "metadata": small_dict(
                doc.get("metadata"),
                max_bytes=65536,
                max_value_bytes=16384,
                max_depth=limits.max_json_depth,
            ),
        },
    )
    return ParsedLog(header=header, samples=_samples(doc, limits))
