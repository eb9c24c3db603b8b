"""Biased estimators from raw data (milestones, expert best-of-N): the server computes them, and
a run estimated that way never supports an inability claim, whatever the criterion says."""

from __future__ import annotations

import json
import math
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from scipy import integrate
from scipy.stats import beta

from evidence import statistics
from evidence.models import EvaluationRun
from evidence.parsers import generic
from evidence.parsers.base import LogFormatError
from safetycase.core.assessment import AT_RISK, DEFEATED, SUPPORTED, RunFacts
from tests.safetycase.conftest import generic_run
from tests.safetycase.test_assessment import flags, one_solution_case

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "safetycase-hypothesis")

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MILESTONES = [
    {"id": "recon", "successes": 9, "trials": 10},
    {"id": "exploit", "successes": 3, "trials": 10},
    {"id": "persist", "successes": 1, "trials": 10},
]
STEPS = [
    {"step": 1, "n": 16, "n_unique": 5, "chosen_index": 1, "chosen_count": 8},
    {"step": 2, "n": 16, "n_unique": 9, "chosen_index": 2, "chosen_count": 4},
]


# -- the numbers ---------------------------------------------------------------------------


def test_one_milestones_bounds_are_its_jeffreys_posteriors_quantiles():
    lower, upper = statistics.milestone_interval([(3, 10)], 0.95)
    exact_lower, exact_upper = beta.ppf([0.05, 0.95], 3.5, 7.5)
    assert lower == pytest.approx(exact_lower, rel=5e-3)
    assert upper == pytest.approx(exact_upper, rel=5e-3)


def test_the_product_of_two_milestones_has_the_exact_distributions_quantiles():
    # P(XY <= t) = ∫ F_X(t / y) f_Y(y) dy, integrated numerically: the simulated bounds must
    # sit at the 5% and 95% points of the exact distribution of the product.
    x, y = beta(9.5, 1.5), beta(3.5, 7.5)

    def cdf(t: float) -> float:
        return integrate.quad(lambda v: x.cdf(min(1.0, t / v)) * y.pdf(v), 0, 1, limit=200)[0]

    lower, upper = statistics.milestone_interval([(9, 10), (3, 10)], 0.95)
    assert cdf(lower) == pytest.approx(0.05, abs=2e-3)
    assert cdf(upper) == pytest.approx(0.95, abs=2e-3)
    assert lower < statistics.milestone_point_estimate([(9, 10), (3, 10)]) < upper


def test_the_parser_computes_every_estimator_from_the_raw_data(tmp_path):
    doc = {**generic_run("ms", 0, 10), "milestones": MILESTONES, "best_of_n_steps": STEPS}
    path = tmp_path / "ms.json"
    path.write_text(json.dumps(doc))
    found = generic.parse(path).header.details["estimation"]
    assert found["kinds"] == ["milestone", "expert_best_of_n"]
    assert found["milestone"]["p_hat"] == pytest.approx(0.9 * 0.3 * 0.1)
    assert found["milestone"]["lower"] < 0.027 < found["milestone"]["upper"]
    assert found["milestone"]["confidence"] == 0.95
    # PHU24 expert bits: log2(1·2) + log2(2·3); implied 1/2 · 1/6; HOJ24: 8/16 · 4/16.
    assert found["expert"]["bits"] == pytest.approx(1 + math.log2(6))
    assert found["expert"]["implied_p"] == pytest.approx(1 / 12)
    assert found["expert"]["frequency_weighted_p"] == pytest.approx(0.125)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"milestones": [{"id": "a", "successes": 4, "trials": 3}]}, "successes (4) exceed"),
        ({"milestones": [{"id": "a", "successes": 0, "trials": 0}]}, "less than the minimum"),
        (
            {"best_of_n_steps": [{"n": 4, "chosen_index": 1, "chosen_count": 5}]},
            "chosen_count (5) exceeds n (4)",
        ),
        (
            {"best_of_n_steps": [{"n": 8, "n_unique": 3, "chosen_index": 4, "chosen_count": 1}]},
            "chosen_index (4) must be at most n_unique (3)",
        ),
    ],
)
def test_impossible_raw_data_is_refused_with_a_sentence(tmp_path, change, said):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**generic_run("bad", 0, 10), **change}))
    with pytest.raises(LogFormatError) as refused:
        generic.parse(path)
    assert said in str(refused.value)


# -- the assessment ------------------------------------------------------------------------


def milestone_run(rid=9, k=0, n=400, **changes) -> RunFacts:
    fields = {
        "task": "oversight",
        "model": "example-model",
        "model_version": "2026-11",
        "finished_at": NOW - timedelta(days=1),
        "statistics": {"match": (k, n)},
        "sample_count": n,
        "estimation": {
            "kinds": ["milestone"],
            "milestone": {"p_hat": 0.0, "lower": 0.0, "upper": 0.004, "confidence": 0.95},
        },
    }
    fields.update(changes)
    return RunFacts(rid, **fields)


def assess_with(criterion: str, run: RunFacts):
    case = one_solution_case(criterion=criterion)
    case.runs.append(run)
    return case.assess(now=NOW)


def test_data_not_labels_decide_and_a_label_cannot_clear_it():
    # No `estimator` label at all, or one that claims an unbiased method: the raw data rule.
    for metadata in ({}, {"estimator": "monte_carlo"}):
        result = assess_with("estimation.milestone.upper < 0.01", milestone_run(metadata=metadata))
        assert result.statuses["Sn1"] == AT_RISK
        assert [f.run for f in flags(result, "biased_estimator")] == [9]
    plain = assess_with("k == 0", milestone_run(estimation={}))
    assert plain.statuses["Sn1"] == SUPPORTED and flags(plain, "biased_estimator") == []


def test_a_biased_run_still_refutes():
    result = assess_with("estimation.milestone.upper < 0.001", milestone_run())
    assert result.statuses["Sn1"] == DEFEATED
    assert flags(result, "biased_estimator") == []
    assert [f.type for f in flags(result, node="Sn1")] == ["criterion_failed"]


NUMBERS = st.sampled_from(
    [
        "k",
        "n",
        "rate",
        "double(k) / double(n)",
        "cp_upper(k, n, 0.95)",
        "cp_lower(k, n, 0.9)",
        "wilson_upper(k, n, 0.99)",
        "estimation.milestone.p_hat",
        "estimation.milestone.upper",
        "estimation.milestone.lower",
        "0",
        "0.01",
        "0.5",
        "1.0",
        "400",
    ]
)


@st.composite
def expressions(draw, depth=0):
    if depth < 2 and draw(st.booleans()):
        left, right = draw(expressions(depth + 1)), draw(expressions(depth + 1))
        return f"({left}) {draw(st.sampled_from(['&&', '||']))} ({right})"
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["true", "!(k > 0)", "size(estimation.kinds) > 0"]))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    return f"{draw(NUMBERS)} {op} {draw(NUMBERS)}"


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(expression=expressions(), k=st.integers(0, 400))
def test_no_expression_lets_a_milestone_run_support_an_inability_claim(expression, k):
    result = assess_with(expression, milestone_run(k=k))
    assert result.statuses["Sn1"] != SUPPORTED, expression
    assert result.statuses["G1"] != SUPPORTED, expression


# -- through the API -----------------------------------------------------------------------


def post(client, document, capture):
    upload = SimpleUploadedFile(f"{document['run']['id']}.json", json.dumps(document).encode())
    with capture(execute=True):
        response = client.post("/api/v1/runs/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()["id"]


@pytest.mark.django_db
def test_a_clean_tally_with_milestone_data_does_not_support_the_bound_solution(
    bound_case, api_client_for, uploader, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    from safetycase.models import Assessment

    harness = api_client_for(uploader)
    document = {**generic_run("with-milestones", 0, 400), "milestones": MILESTONES}
    run_id = post(harness, document, django_capture_on_commit_callbacks)
    run = EvaluationRun.objects.get(pk=run_id)
    assert run.details["estimation"]["kinds"] == ["milestone"]
    latest = Assessment.objects.filter(case=bound_case).latest()
    assert latest.statuses["Sn1"] == AT_RISK
    flagged = [f for f in latest.flags if f["type"] == "biased_estimator"]
    assert [f["run"] for f in flagged] == [run_id]
    assert "milestone method" in flagged[0]["message"]


@pytest.mark.django_db
def test_an_upload_with_impossible_milestones_fails_with_a_sentence(api_client_for, uploader, lab):
    document = {
        **generic_run("impossible", 0, 10),
        "milestones": [{"id": "a", "successes": 11, "trials": 10}],
    }
    upload = SimpleUploadedFile("impossible.json", json.dumps(document).encode())
    response = api_client_for(uploader).post("/api/v1/runs/", {"file": upload}, format="multipart")
    assert response.status_code == 422
    assert "successes (11) exceed trials (10)" in response.json()["error"]
