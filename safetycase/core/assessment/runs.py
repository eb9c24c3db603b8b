"""Run selection: whether a binding's selector picks a run, which statistic gives k/n, and the
CEL variables of a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safetycase.core.assessment.facts import DAY_SECONDS, CaseFacts, RunFacts
from safetycase.core.assessment.wording import joined
from safetycase.core.keys import id_key, timestamp


def binding_matches(selector: Mapping[str, Any], run: RunFacts, case: CaseFacts) -> bool:
    """Whether `selector` picks `run` for `case` (task, task version, conditions, model)."""
    selector = selector or {}
    return selector_matches(selector, run) and model_matches(selector, run, case)


def run_variables(
    run: RunFacts, selector: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The CEL variables of `run` (criteria.RUN_VARIABLES) for a binding with `selector`."""
    return run_cel_variables(run, statistic_for(run, selector or {}), timestamp(now))


def selector_matches(selector: Mapping[str, Any], run: RunFacts) -> bool:
    task = selector.get("task")
    if task not in (None, ""):
        if isinstance(task, list | tuple):
            if run.task not in task:
                return False
        elif run.task != task:
            return False
    version = selector.get("task_version")
    if version not in (None, "") and str(run.task_version) != str(version):
        return False
    conditions = selector.get("conditions")
    if conditions:
        if not isinstance(conditions, Mapping):
            return False
        meta = run.metadata or {}
        run_conditions = meta.get("conditions")
        if not isinstance(run_conditions, Mapping):
            run_conditions = {}
        for key, expected in conditions.items():
            if key in run_conditions:
                actual = run_conditions[key]
            elif key in meta:
                actual = meta[key]
            else:
                return False
            if not _same_value(actual, expected):
                return False
    return True


def _same_value(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if isinstance(expected, list | tuple) and not isinstance(actual, list | tuple):
        return any(_same_value(actual, e) for e in expected)
    scalar = (str, int, float, bool)
    if isinstance(actual, scalar) and isinstance(expected, scalar):
        return _text(actual) == _text(expected)
    return False


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected_model(selector: Mapping[str, Any], case: CaseFacts) -> tuple[str, str]:
    named = selector.get("model") or ""
    model = named or case.model_name or ""
    if "model_version" in selector:
        version = selector.get("model_version") or ""
    else:
        version = "" if named else (case.model_version or "")
    return str(model), str(version)


def model_matches(selector: Mapping[str, Any], run: RunFacts, case: CaseFacts) -> bool:
    model, version = expected_model(selector, case)
    if model and run.model != model and not run.model.endswith("/" + model):
        return False
    return not (version and str(run.model_version) != version)


@dataclass(frozen=True)
class RunStatistic:
    """Which statistic of a run gives k/n for a selector, or why none does."""

    key: str  # cache key part: the score name, or "" when none
    k: int | None
    n: int | None
    note: str  # why k/n are missing, "" when present


def statistic_for(run: RunFacts, selector: Mapping[str, Any]) -> RunStatistic:
    stats = run.statistics or {}
    wanted = selector.get("scorer") or ""
    if not wanted and selector.get("metric") in stats:
        wanted = selector["metric"]
    if wanted:
        pair = stats.get(wanted)
        if pair is None:
            have = joined(sorted(stats)) or "none"
            return RunStatistic(
                "", None, None, f"run {run.id} has no statistic named {wanted!r} (it has {have})"
            )
        return RunStatistic(str(wanted), int(pair[0]), int(pair[1]), "")
    if len(stats) == 1:
        ((name, pair),) = stats.items()
        return RunStatistic(str(name), int(pair[0]), int(pair[1]), "")
    if not stats:
        return RunStatistic(
            "", None, None, f"run {run.id} has no success counts (k/n) for any score"
        )
    return RunStatistic(
        "",
        None,
        None,
        f"run {run.id} has several scores ({joined(sorted(stats))}); the binding's selector "
        "must name one as 'scorer'",
    )


def run_cel_variables(run: RunFacts, stat: RunStatistic, now_ts: float) -> dict[str, Any]:
    meta = run.metadata or {}
    if run.model_version and "model_version_hash" not in meta:
        meta = {**meta, "model_version_hash": run.model_version}
    variables: dict[str, Any] = {
        "metrics": run.metrics or {},
        "meta": meta,
        "model": run.model,
        "task": run.task,
        "errors": int(run.error_count or 0),
    }
    if stat.k is not None:
        variables["k"] = stat.k
        variables["n"] = stat.n
        if stat.n:
            variables["rate"] = stat.k / stat.n
    if run.finished_at is not None:
        variables["age_days"] = (now_ts - timestamp(run.finished_at)) / DAY_SECONDS
    if run.samples is not None:
        variables["samples"] = list(run.samples)
    if run.estimation:
        variables["estimation"] = run.estimation
    if run.paired is not None:
        variables["paired"] = run.paired
    return variables


def claim_variable(claim: tuple[float, float] | None) -> dict[str, float]:
    """The CEL `claim` map: a criterion's upper bound on the rate and its confidence, or {}."""
    if claim is None:
        return {}
    return {"rate_bound": claim[0], "confidence": claim[1]}


def with_counts(variables: Mapping[str, Any], k: int, n: int) -> dict[str, Any]:
    out = dict(variables)
    out["k"], out["n"] = k, n
    if n:
        out["rate"] = k / n
    else:
        out.pop("rate", None)
    return out


def run_sort_key(run: RunFacts) -> tuple[Any, ...]:
    return (timestamp(run.finished_at), id_key(run.id))


def run_text(run: RunFacts, stat: RunStatistic | None = None) -> str:
    if stat is not None and stat.k is not None:
        return f"run {run.id} (k/n = {stat.k}/{stat.n})"
    return f"run {run.id}"
