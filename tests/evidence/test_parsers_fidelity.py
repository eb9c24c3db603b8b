"""Our parse of every Inspect fixture agrees with Inspect's own reading (`read_eval_log`).

Test dependency: inspect-ai==0.3.285 (the version that wrote the fixtures).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from evidence.parsers import parse_log

inspect_log = pytest.importorskip("inspect_ai.log")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"
LOGS = [
    "arith-success.eval",
    "arith-success.json",
    "arith-sample-errors.eval",
    "arith-error.eval",
    "arith-cancelled.eval",
]


def _none_if_nan(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@pytest.fixture(scope="module", params=LOGS)
def both(request):
    path = FIXTURES / request.param
    theirs = inspect_log.read_eval_log(str(path))
    ours = parse_log(path)
    return theirs, ours.header, list(ours.samples)


def test_status_and_identity(both):
    theirs, header, _ = both
    assert header.log_status == theirs.status
    assert header.eval_id == theirs.eval.eval_id
    assert header.run_id == theirs.eval.run_id
    assert header.task == theirs.eval.task
    assert header.task_version == str(theirs.eval.task_version)
    assert header.model == theirs.eval.model
    assert header.log_error == (theirs.error.message if theirs.error else "")


def test_sample_counts(both):
    theirs, header, samples = both
    assert len(samples) == len(theirs.samples)
    assert sum(1 for s in samples if s.error) == sum(1 for s in theirs.samples if s.error)
    assert [(s.sample_id, s.epoch) for s in samples] == [
        (str(s.id), s.epoch) for s in theirs.samples
    ]
    if theirs.results is None:
        assert header.total_samples is None and header.metrics == []
    else:
        assert header.total_samples == theirs.results.total_samples
        assert header.completed_samples == theirs.results.completed_samples


def test_metric_values(both):
    theirs, header, _ = both
    ours = {(m.name, m.scorer, m.reducer, m.metric, m.group): m.value for m in header.metrics}
    expected = {}
    for score in theirs.results.scores if theirs.results else []:
        for metric in score.metrics.values():
            key = (score.name, score.scorer, score.reducer or "", metric.name, metric.group or "")
            expected[key] = _none_if_nan(metric.value)
    assert ours == expected


def test_sample_scores_match_value_to_float(both):
    from inspect_ai.scorer import value_to_float

    to_float = value_to_float()
    theirs, _, samples = both
    for mine, sample in zip(samples, theirs.samples, strict=True):
        assert mine.error == (sample.error.message if sample.error else "")
        for scorer, score in (sample.scores or {}).items():
            values = score.value if isinstance(score.value, dict) else {scorer: score.value}
            for name, value in values.items():
                expected = _none_if_nan(to_float(value)) if value is not None else None
                assert mine.scores[name].value == pytest.approx(expected)
