"""Our parse of every Inspect fixture agrees with Inspect's own reading (`read_eval_log`).

Test dependency: inspect-ai==0.3.285 (the version that wrote the fixtures; it also reads
`v1-yes-no.json`, a log of format version 1 written by inspect-ai 0.3.17).
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
    "epochs-at-least-2.eval",
    "v1-yes-no.json",
    # from the inspect_ai repository's test data (MIT; see inspect-repo/README.md)
    "inspect-repo/log_test_eval_log_log_message_deduplication.eval",  # format version 3
    "inspect-repo/log_test_eval_log_log_formats.json",  # no eval_id, created at -04:00
    "inspect-repo/log_test_eval_log_log_formats.eval",
    "inspect-repo/test_eval_set_2024-08-29T15-11-17+00-00_popularity_5EAmX6wjMFqea6WY7XHzZp.json",
    "inspect-repo/scorer_logs_2025-02-11T15-17-00-05-00_popularity_dPiJifoWeEQBrfWsAopzWr.eval",
    "inspect-repo/analysis_test_logs_choices_mmlu-summary-choices.eval",
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
    their_samples = theirs.samples or []  # None in a log written without samples
    assert len(samples) == len(their_samples)
    assert sum(1 for s in samples if s.error) == sum(1 for s in their_samples if s.error)
    assert [(s.sample_id, s.epoch) for s in samples] == [
        (str(s.id), s.epoch) for s in their_samples
    ]
    if theirs.results is None:
        assert header.total_samples is None and header.metrics == []
    elif header.details["log_version"] == 1:
        # version 1 results have no sample totals; Inspect fills in its field default 0, we
        # leave them unknown rather than report a run of 30 trials as having none
        assert (theirs.results.total_samples, theirs.results.completed_samples) == (0, 0)
        assert header.total_samples is None and header.completed_samples is None
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
    for mine, sample in zip(samples, theirs.samples or [], strict=True):
        assert mine.error == (sample.error.message if sample.error else "")
        for scorer, score in (sample.scores or {}).items():
            values = score.value if isinstance(score.value, dict) else {scorer: score.value}
            for name, value in values.items():
                expected = _none_if_nan(to_float(value)) if value is not None else None
                assert mine.scores[name].value == pytest.approx(expected)


# -- counting per sample: our reduction of each sample's epochs against Inspect's ------------

EPOCH_LOGS = [
    "epochs-default.eval",
    "epochs-at-least-2.eval",
    "epochs-median.eval",
    "epochs-mode.eval",
    "epochs-max.eval",
    "epochs-pass-at-2.eval",
    "arith-success.eval",
    "arith-success.json",
    "arith-sample-errors.eval",
    "arith-cancelled.eval",
    "inspect-repo/log_test_eval_log_log_message_deduplication.eval",
    "inspect-repo/analysis_test_logs_choices_mmlu-summary-choices.eval",
]


def _count_ours(path):
    from evidence.services import ScoreTally

    log = parse_log(path)
    tally = ScoreTally(log.header)
    for sample in log.samples:
        tally.add(sample)
    return {count.name: count for count in tally.counts()}


def _as_values(name, value):
    return value if isinstance(value, dict) else {name: value}


def _inspect_counts(theirs):
    """What Inspect's reader says of each score: the reduced per-sample values of the first
    reducer (`reductions`), and the trial values of every sample x epoch (`samples`)."""
    from inspect_ai.scorer import value_to_float

    to_float = value_to_float()
    first_reducer = {}
    for reduction in theirs.reductions or []:
        first_reducer.setdefault(reduction.scorer, reduction)
    reduced: dict[str, list[float]] = {}
    for scorer, reduction in first_reducer.items():
        for item in reduction.samples:
            for name, value in _as_values(scorer, item.value).items():
                number = to_float(value)
                if not math.isnan(number):
                    reduced.setdefault(name, []).append(number)
    trials: dict[str, dict[str, list]] = {}
    for sample in theirs.samples:
        if sample.error:
            continue
        for scorer, score in (sample.scores or {}).items():
            for name, value in _as_values(scorer, score.value).items():
                trials.setdefault(name, {}).setdefault(str(sample.id), []).append(value)
    return reduced, trials, to_float


@pytest.mark.parametrize("name", EPOCH_LOGS)
def test_counts_per_sample_are_inspects_reduced_scores(name):
    path = FIXTURES / name
    theirs = inspect_log.read_eval_log(str(path))
    reduced, trials, to_float = _inspect_counts(theirs)
    ours = _count_ours(path)
    assert set(ours) == set(trials)
    for score_name, values in reduced.items():
        count = ours[score_name]
        binary = all(v in (0.0, 1.0) for v in values)
        assert count.n == len(values), score_name
        assert count.k == (sum(1 for v in values if v == 1.0) if binary else None), score_name
        assert count.mean == pytest.approx(sum(values) / len(values)), score_name
        if theirs.eval.config.epochs and theirs.eval.config.epochs > 1:
            declared = theirs.eval.config.epochs_reducer
            assert count.reducer == (declared[0] if declared else "mean")
        # the trials beside, from every sample x epoch Inspect read
        numbers = {
            sid: [to_float(v) for v in vs if not (isinstance(v, float) and math.isnan(v))]
            for sid, vs in trials[score_name].items()
        }
        every = [v for vs in numbers.values() for v in vs]
        assert count.n_trials == len(every)
        if all(v in (0.0, 1.0) for v in every):
            assert count.k_trials == sum(1 for v in every if v == 1.0)
            assert count.k_any == sum(1 for vs in numbers.values() if 1.0 in vs)
        else:
            assert count.k_trials is None and count.k_any is None
        raw = [v for vs in trials[score_name].values() for v in vs]
        assert count.partial_trials == raw.count("P")
        assert count.no_answer_trials == raw.count("N")


@pytest.mark.parametrize("name", EPOCH_LOGS)
def test_mean_of_the_counted_score_is_inspects_headline_metric(name):
    """Inspect's first-reducer metric (accuracy or mean) is the mean of the per-sample values."""
    theirs = inspect_log.read_eval_log(str(FIXTURES / name))
    ours = _count_ours(FIXTURES / name)
    reducers = theirs.eval.config.epochs_reducer
    # Inspect records no reducer name when it applied its default (mean) or had one epoch
    first = reducers[0] if reducers and theirs.eval.config.epochs > 1 else None
    checked = 0
    for score in theirs.results.scores:
        if score.reducer != first:
            continue
        metric = score.metrics.get("accuracy") or score.metrics.get("mean")
        if metric is None:
            continue
        assert ours[score.name].mean == pytest.approx(metric.value), score.name
        checked += 1
    assert checked


def test_at_least_2_reducer_counts_what_inspect_reports():
    """Epochs(3, "at_least_2"): a scenario counts when 2 of its 3 epochs show the behaviour;
    the pooled trial count beside it is larger (Inspect: accuracy 0.167 of 12 scenarios)."""
    theirs = inspect_log.read_eval_log(str(FIXTURES / "epochs-at-least-2.eval"))
    headline = next(s for s in theirs.results.scores if s.name == "covert")
    covert = _count_ours(FIXTURES / "epochs-at-least-2.eval")["covert"]
    assert (covert.reducer, covert.n) == ("at_least_2", 12)
    assert covert.k == round(headline.metrics["accuracy"].value * 12)
    assert covert.n_trials == 36 and covert.k_trials > covert.k


def test_partial_credit_keeps_every_sample_in_n():
    """A numeric score with values 0.5 and 1.0 is never dropped from n and has no k."""
    theirs = inspect_log.read_eval_log(str(FIXTURES / "epochs-mode.eval"))
    credit = _count_ours(FIXTURES / "epochs-mode.eval")["credit"]
    headline = next(s for s in theirs.results.scores if s.name == "credit")
    assert credit.n == len(theirs.eval.dataset.sample_ids) == 12
    assert credit.k is None
    assert credit.mean == pytest.approx(headline.metrics["mean"].value)
    assert credit.stderr == pytest.approx(headline.metrics["stderr"].value)
    grade = _count_ours(FIXTURES / "epochs-mode.eval")["grade"]
    assert grade.partial_trials > 0 and grade.no_answer_trials > 0


def test_version_1_log_is_counted_per_sample_with_the_default_reducer():
    """A version-1 log (inspect-ai 0.3.17) has epochs but no reducers and no reductions; its
    pooled accuracy is also the mean of per-sample means (every sample has 3 epochs)."""
    from inspect_ai.scorer import value_to_float

    to_float = value_to_float()
    theirs = inspect_log.read_eval_log(str(FIXTURES / "v1-yes-no.json"))
    assert theirs.eval.config.epochs == 3 and not theirs.reductions
    per_sample: dict[str, list[float]] = {}
    for sample in theirs.samples:
        per_sample.setdefault(str(sample.id), []).append(to_float(sample.scores["includes"].value))
    means = [sum(v) / len(v) for v in per_sample.values()]
    count = _count_ours(FIXTURES / "v1-yes-no.json")["includes"]
    assert (count.reducer, count.n, count.n_trials) == ("mean", 10, 30)
    assert count.mean == pytest.approx(sum(means) / len(means))
    assert count.mean == pytest.approx(theirs.results.scores[0].metrics["accuracy"].value)
    assert count.k == (
        sum(1 for m in means if m == 1.0) if all(m in (0, 1) for m in means) else None
    )
    assert count.k_trials == round(theirs.results.scores[0].metrics["accuracy"].value * 30)


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.update(version=4),
        lambda h: h["results"]["scores"][0].pop("name"),
        lambda h: h["results"]["scores"][0].pop("scorer"),
        lambda h: h["eval"].pop("model"),
        lambda h: h.update(status="finished"),
    ],
)
def test_what_inspect_refuses_we_refuse(tmp_path, change):
    import json

    from evidence.parsers import LogFormatError

    log = json.loads(
        json.dumps(
            inspect_log.read_eval_log(str(FIXTURES / "arith-success.json")).model_dump(
                mode="json", exclude={"samples", "reductions"}
            )
        )
    )
    change(log)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps({**log, "samples": []}))
    with pytest.raises(Exception):  # noqa: B017 - pydantic or ValueError, whichever Inspect raises
        inspect_log.read_eval_log(str(path))
    with pytest.raises(LogFormatError):
        parse_log(path)
