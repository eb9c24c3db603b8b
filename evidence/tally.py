"""Counting a run's scores per sample: epochs reduced first, then counted (pure; no Django).

The sampling unit is the sample. A log with several epochs holds several trials of each sample;
they are not independent draws of the behaviour being measured (the same scenario, the same
prompt), so a score's statistic is computed over samples after each sample's epochs have been
reduced to one value, exactly as Inspect reduces them (`inspect_ai/scorer/_reducer/reducer.py`):

| reducer | a sample's value |
| --- | --- |
| `mean` | mean of its epochs' numeric values (Inspect's default when a log declares none) |
| `median` | median of the numeric values |
| `mode` | the most frequent raw value (ties: the one seen first) |
| `max` | the raw value with the largest numeric value (ties: the first) |
| `at_least_<k>` | 1 when at least k epochs have a numeric value >= 1, else 0 |
| `pass_at_<k>` | the unbiased pass@k estimate (Chen et al. 2021) from the epochs' successes |
| `pass_k_<k>` | C(successes, k) / C(epochs, k) |

Numeric values are read as Inspect's `value_to_float` reads them (see `parsers/scores.py`:
C=1, I=0, P=0.5, N=0, booleans 1/0); an epoch without a numeric value (NaN, text) is unscored
and left out of the reduction, as Inspect leaves NaN out. A log that declares several reducers is
counted with the first (Inspect lists it first in its results); the other reducers' aggregate
metrics stay in the run's metrics. A reducer we do not know (a custom one) is replaced by the
default `mean`, and `ScoreCount.reducer` says so.

What is counted per score (`ScoreCount`):

* `n`: samples with a reduced value (errored samples and samples never scored are not trials);
  `unscored`: samples that had the score in no scorable epoch.
* `mean`, `stderr`: mean of the reduced values and its standard error (sample standard
  deviation / sqrt(n), Inspect's `stderr()` without clusters), for every score.
* `k`: samples whose reduced value is 1, **only when every reduced value is 0 or 1** (the score
  is binary); otherwise the score is numeric and `k` is None: a partial-credit value is never
  rounded and never dropped from `n`.
* `k_trials`, `n_trials`: successes (value 1) and scored trials over every sample x epoch, and
  `k_any`: samples where any epoch had value 1; each None when some trial value is not 0 or 1.
* `partial_trials`, `no_answer_trials`: trials valued `P` (partial) and `N` (no answer, refusal):
  Inspect reads them as 0.5 and 0, so they stay in every count above; their numbers let a
  criterion treat them on their own.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_REDUCER = "mean"  # what Inspect applies to several epochs when a log declares none

Trial = tuple[float | None, Any]  # (numeric value or None when unscored, raw value)
Reduce = Callable[[list[Trial]], float | None]


def _scored(trials: list[Trial]) -> list[Trial]:
    return [trial for trial in trials if trial[0] is not None]


def _numeric_reducer(statistic: Callable[[list[float]], float]) -> Reduce:
    def reduce(trials: list[Trial]) -> float | None:
        values = [value for value, _ in _scored(trials)]
        return statistic(values) if values else None  # type: ignore[arg-type]

    return reduce


def _raw_key(trial: Trial) -> Any:
    raw = trial[1]
    # Inspect counts raw values (C, I, True, 1.0); ours are JSON-safe copies of them
    return raw if isinstance(raw, str | int | float | bool) else trial[0]


def _mode(trials: list[Trial]) -> float | None:
    scored = _scored(trials)
    if not scored:
        return None
    counts = Counter(_raw_key(trial) for trial in scored)
    winner = counts.most_common(1)[0][0]
    return next(trial[0] for trial in scored if _raw_key(trial) == winner)


def _max(trials: list[Trial]) -> float | None:
    values = [value for value, _ in _scored(trials)]
    return max(values) if values else None  # type: ignore[type-var]


def _at_least(k: int, threshold: float = 1.0) -> Reduce:
    def reduce(trials: list[Trial]) -> float | None:
        scored = _scored(trials)
        if not scored:
            return None
        return 1.0 if sum(1 for value, _ in scored if value >= threshold) >= k else 0.0  # type: ignore[operator]

    return reduce


def _pass_at(k: int, threshold: float = 1.0) -> Reduce:
    def reduce(trials: list[Trial]) -> float | None:
        values = [value for value, _ in _scored(trials)]
        if not values:
            return None
        total = len(values)
        if total < k:
            return None
        correct = sum(1 for value in values if value >= threshold)  # type: ignore[operator]
        if total - correct < k:
            return 1.0
        product = 1.0
        for m in range(total - correct + 1, total + 1):
            product *= 1.0 - k / m
        return 1.0 - product

    return reduce


def _pass_k(k: int, threshold: float = 1.0) -> Reduce:
    def reduce(trials: list[Trial]) -> float | None:
        values = [value for value, _ in _scored(trials)]
        if not values or len(values) < k:
            return None
        correct = sum(1 for value in values if value >= threshold)  # type: ignore[operator]
        return math.comb(correct, k) / math.comb(len(values), k)

    return reduce


def _mean(values: list[float]) -> float:
    # statistics.mean computes exactly with fractions: 50x slower, same float for our needs
    return math.fsum(values) / len(values)


_FIXED: dict[str, Reduce] = {
    "mean": _numeric_reducer(_mean),
    "median": _numeric_reducer(statistics.median),
    "mode": _mode,
    "max": _max,
}
_WITH_K: dict[str, Callable[[int], Reduce]] = {
    "at_least": _at_least,
    "pass_at": _pass_at,
    "pass_k": _pass_k,
}
_NAME_K = re.compile(r"^(?P<name>.*?)_(?P<k>\d+)$")


def reducer(name: str) -> Reduce | None:
    """The reduce function for an Inspect reducer name ("mean", "at_least_2"...), None if the
    name is not one of Inspect's built-in reducers we implement."""
    if name in _FIXED:
        return _FIXED[name]
    match = _NAME_K.match(name)
    if match and match["name"] in _WITH_K and int(match["k"]) >= 1:
        return _WITH_K[match["name"]](int(match["k"]))
    return None


def declared_reducer(epochs_reducer: Any) -> str:
    """The reducer a log declares (Inspect's `eval.config.epochs_reducer`: a name or a list of
    names; the first counts), else the default."""
    if isinstance(epochs_reducer, str) and epochs_reducer:
        return epochs_reducer
    if isinstance(epochs_reducer, list | tuple):
        for name in epochs_reducer:
            if isinstance(name, str) and name:
                return name
    return DEFAULT_REDUCER


@dataclass(frozen=True)
class ScoreCount:
    """What one score of a run counts to (see the module docstring)."""

    name: str
    reducer: str  # the reducer applied; "" when no sample had more than one epoch
    n: int
    k: int | None
    mean: float | None
    stderr: float | None
    k_trials: int | None
    n_trials: int
    k_any: int | None
    partial_trials: int = 0
    no_answer_trials: int = 0
    unscored: int = 0

    @property
    def binary(self) -> bool:
        return self.k is not None


def _is_binary(value: float) -> bool:
    return value == 0.0 or value == 1.0


def stderr_of(values: Sequence[float]) -> float | None:
    """Standard error of the mean as Inspect's `stderr()` computes it (sample standard deviation
    with ddof=1, over sqrt(n)); 0 for a single value, None for none."""
    n = len(values)
    if n == 0:
        return None
    if n < 2:
        return 0.0
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(variance) / math.sqrt(n)


class EpochTally:
    """Collects every sample's trials per score while samples stream past, then reduces and
    counts them. Holds two small values per trial (about 100 bytes), never a sample."""

    def __init__(self, reducer_name: str = DEFAULT_REDUCER, *, epochs: int = 1) -> None:
        # A log of several epochs reduces every sample, even one left with a single epoch
        # (a cancelled run): `at_least_2` of one success is 0, as in Inspect.
        self.epochs = epochs
        reduce = reducer(reducer_name)
        if reduce is None:
            reducer_name, reduce = DEFAULT_REDUCER, reducer(DEFAULT_REDUCER)
        self.reducer_name = reducer_name
        self._reduce: Reduce = reduce  # type: ignore[assignment]
        # score name -> sample id -> trials in the order the log gives them
        self._trials: dict[str, dict[str, list[Trial]]] = {}

    def add(self, sample_id: str, scores: dict[str, Any]) -> None:
        """One trial (sample x epoch): `scores` maps score names to objects with `value` and
        `raw` (parsers' `SampleScore`). Errored trials are not passed in at all."""
        for name, score in scores.items():
            raw = score.raw if isinstance(score.raw, str | int | float | bool) else None
            self._trials.setdefault(name, {}).setdefault(sample_id, []).append((score.value, raw))

    def counts(self) -> list[ScoreCount]:
        return [self._count(name, by_sample) for name, by_sample in sorted(self._trials.items())]

    def _count(self, name: str, by_sample: dict[str, list[Trial]]) -> ScoreCount:
        reduced: list[float] = []
        several_epochs = self.epochs > 1 or any(len(t) > 1 for t in by_sample.values())
        trials_binary = True
        k_trials = n_trials = k_any = partial = no_answer = unscored = 0
        for trials in by_sample.values():
            scored = _scored(trials)
            if not scored:
                unscored += 1
                continue
            n_trials += len(scored)
            hits = 0
            for value, raw in scored:
                if raw == "P":
                    partial += 1
                elif raw == "N":
                    no_answer += 1
                if value == 1.0:
                    hits += 1
                elif value != 0.0:
                    trials_binary = False
            k_trials += hits
            k_any += hits > 0
            value = self._reduce(trials) if several_epochs else scored[0][0]
            if value is None or not math.isfinite(value):
                unscored += 1
                continue
            reduced.append(float(value))
        binary = all(_is_binary(v) for v in reduced)
        n = len(reduced)
        return ScoreCount(
            name=name,
            reducer=self.reducer_name if several_epochs else "",
            n=n,
            k=sum(1 for v in reduced if v == 1.0) if binary else None,
            mean=(math.fsum(reduced) / n) if n else None,
            stderr=stderr_of(reduced),
            k_trials=k_trials if trials_binary else None,
            n_trials=n_trials,
            k_any=k_any if trials_binary else None,
            partial_trials=partial,
            no_answer_trials=no_answer,
            unscored=unscored,
        )
