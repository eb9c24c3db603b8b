"""The evidence ledger's chart on the node panel and page: each run's observed rate, the
one-sided bound the criterion compares and its threshold, the runs that decided the status, and
the bound's trend across model versions.

The pure geometry is checked against numbers worked out by hand (or by an independent
computation: the closed form of the Clopper–Pearson bound at k = 0, the binomial tail at the
bound for k > 0); the pages are checked through the real upload path and views."""

from __future__ import annotations

import io
import json
import math
import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence import services as evidence_services
from safetycase import services
from safetycase.core.criteria_wording import describe
from safetycase.core.ledger_chart import (
    PLOT_LEFT,
    PLOT_RIGHT,
    BoundRule,
    RunInfo,
    bound_trend,
    ledger_chart,
    nice_ceiling,
)
from safetycase.models import EvidenceBinding, Node
from tests.safetycase.conftest import generic_run

HTMX = {"HTTP_HX_REQUEST": "true"}


def binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def entry(run, k, n, holds, role, note=""):
    return {"run": run, "k": k, "n": n, "holds": holds, "role": role, "note": note}


# --------------------------------------------------------------------------------------------
# Pure: the bound the criterion uses


def test_the_bound_is_the_one_sided_one_the_criterion_names_at_its_level():
    rule = BoundRule.of(describe("cp_upper(k, n, 0.95) < 0.01").shape)
    # k = 0: the closed form 1 − (1 − c)^(1/n) = 1 − 0.05^(1/300).
    assert rule.value(0, 300) == pytest.approx(0.0099360819, abs=1e-9)
    assert 1 - 0.05 ** (1 / 300) == pytest.approx(0.0099360819, abs=1e-9)
    # k = 4: the rate p at which 4 or fewer of 300 has probability 5% (one-sided 95%), which
    # the two-sided 95% interval's upper end (the 97.5% one) exceeds.
    upper = rule.value(4, 300)
    assert binomial_cdf(4, 300, upper) == pytest.approx(0.05, abs=1e-9)
    assert 0.030 < upper < 0.031
    assert binomial_cdf(4, 300, BoundRule("cp_upper", 0.975, 0.01, "<").value(4, 300)) == (
        pytest.approx(0.025, abs=1e-9)
    )
    assert rule.meets(upper) is False and rule.meets(rule.value(0, 300)) is True
    assert rule.name == "one-sided 95% Clopper–Pearson upper bound"
    assert rule.requirement == "must be below 0.01"

    # Another level: at 99%, 0 of 300 bounds the rate at 1 − 0.01^(1/300) ≈ 0.015233.
    strict = BoundRule.of(describe("cp_upper(k, n, 0.99) <= 0.02").shape)
    assert strict.value(0, 300) == pytest.approx(1 - 0.01 ** (1 / 300), abs=1e-12)
    assert strict.value(0, 300) == pytest.approx(0.015233, abs=1e-6)

    # A lower bound of a desired outcome: at k = n, (1 − c)^(1/n) = 0.05^(1/300) ≈ 0.990064.
    lower = BoundRule.of(describe("cp_lower(k, n, 0.95) >= 0.95").shape)
    assert lower.value(300, 300) == pytest.approx(0.05 ** (1 / 300), abs=1e-12)
    assert lower.meets(lower.value(300, 300)) is True

    # The confidence sequence the docs give for pooled criteria: 0 of 300 → 0.0286.
    sequence = BoundRule.of(describe("cs_upper(k, n, 0.95) < 0.01").shape)
    assert sequence.value(0, 300) == pytest.approx(0.0286, abs=5e-5)


def test_a_criterion_without_a_bound_gets_the_rate_only_and_says_so():
    rate = BoundRule.of(describe("rate <= 0.05").shape)
    assert not rate.uses_bound and rate.value(3, 100) == pytest.approx(0.03)
    chart = ledger_chart([entry(1, 3, 100, True, "decisive")], describe("rate <= 0.05").shape)
    (row,) = chart.rows
    assert row.x_bound is None and row.bound_text == ""
    assert "compares the rate itself" in chart.title

    nothing = describe("k == 0").shape
    assert nothing is None
    chart = ledger_chart([entry(1, 0, 50, True, "decisive")], nothing)
    assert chart.x_threshold is None and chart.rows[0].x_bound is None
    assert "bounds no rate" in chart.title
    assert chart.axis_max == 0.01  # nothing above 0 to show


def test_a_ledger_without_counts_has_rows_for_the_table_but_nothing_to_draw():
    shape = describe("metrics.accuracy >= 0.8").shape
    chart = ledger_chart([entry(1, None, None, True, "decisive")], shape)
    assert not chart.drawable and chart.all_rows[0].estimate_text == "—"
    assert ledger_chart([], shape) is None


def test_nice_ceiling_steps():
    assert nice_ceiling(0.011) == 0.02
    assert nice_ceiling(0.0336) == pytest.approx(0.05)
    assert nice_ceiling(0.3) == pytest.approx(0.5)
    assert nice_ceiling(0.1) == pytest.approx(0.1)
    assert nice_ceiling(1.2) == 1.0
    assert nice_ceiling(0) == 0.01


# --------------------------------------------------------------------------------------------
# Pure: the ledger chart's geometry


def test_ledger_chart_geometry_by_hand():
    shape = describe("cp_upper(k, n, 0.95) < 0.01").shape
    chart = ledger_chart(
        [entry(2, 4, 300, False, "decisive"), entry(1, 0, 300, True, "outweighed")], shape
    )
    # The largest value is the failing run's bound 0.03025; × 1.1 = 0.0333 → an axis to 0.05.
    assert chart.axis_max == pytest.approx(0.05)
    assert (PLOT_LEFT, PLOT_RIGHT) == (78.0, 326.0)  # a plot 248 units wide
    # The threshold 0.01 is a fifth of the axis: 78 + 248 / 5 = 127.6.
    assert chart.x_threshold == pytest.approx(127.6)
    failing, passing = chart.rows
    assert (failing.y, passing.y) == (24.0, 44.0)  # one 20-unit row each below the label room
    # Rate 4/300 = 0.013333: 78 + 248 × 0.013333 / 0.05 = 144.13.
    assert failing.x_estimate == pytest.approx(144.1)
    # Bound 0.030250: 78 + 248 × 0.6050 = 228.04; the passing run's 0.0099361 → 127.28.
    assert failing.x_bound == pytest.approx(228.0)
    assert passing.x_estimate == pytest.approx(78.0) and passing.x_bound == pytest.approx(127.3)
    assert failing.x_bound > chart.x_threshold > passing.x_bound
    assert failing.deciding and not passing.deciding
    assert failing.side_text == "above the threshold 0.01"
    assert passing.bound_text == "0.009936" and failing.bound_text == "0.03025"
    assert chart.axis_y == 24 + 2 * 20 + 4 and chart.height == chart.axis_y + 18
    assert [label for _, label in chart.ticks] == ["0", "0.025", "0.05"]
    assert chart.deciding_text == "Decided the status: run 2."
    assert "run 2: k/n = 4/300" in chart.desc and "decided the status" in chart.desc


def test_pooled_ledger_gets_a_row_of_the_summed_counts_that_carries_the_decision():
    shape = describe("cp_upper(k, n, 0.95) < 0.01").shape
    when = datetime(2026, 11, 1, tzinfo=UTC)
    infos = {run: RunInfo(run, "m", "v1", "1", when, None, None) for run in (1, 2)} | {
        3: RunInfo(3, "m", "v2", "1", when, None, None)
    }
    chart = ledger_chart(
        [
            entry(3, 0, 300, True, "outweighed"),
            entry(2, 1, 300, True, "decisive"),
            entry(1, 2, 300, True, "decisive"),
        ],
        shape,
        policy="pooled",
        runs=infos,
    )
    labels = [r.label for r in chart.all_rows]
    assert labels == ["run 3", "pool of 2, 1", "run 2", "run 1"]
    pool = chart.all_rows[1]
    assert (pool.k, pool.n, pool.pooled) == (3, 600, True)
    # 3 of 600 at 95%: the binomial tail at the bound is 5%, and it is above 0.01.
    assert binomial_cdf(3, 600, pool.bound) == pytest.approx(0.05, abs=1e-9)
    assert pool.holds is False and pool.deciding
    assert not any(r.deciding for r in chart.all_rows if not r.pooled)


def test_withdrawn_runs_are_drawn_faded_and_never_deciding():
    shape = describe("cp_upper(k, n, 0.95) < 0.01").shape
    chart = ledger_chart(
        [entry(2, 0, 300, True, "decisive"), entry(1, 9, 300, False, "withdrawn", "by bob")],
        shape,
    )
    assert [(r.withdrawn, r.deciding) for r in chart.rows] == [(False, True), (True, False)]


# --------------------------------------------------------------------------------------------
# Pure: the trend across model versions


def test_trend_orders_runs_by_time_across_models_and_places_the_threshold():
    shape = describe("cp_upper(k, n, 0.95) < 0.01").shape
    infos = [
        RunInfo(7, "m", "v2", "1", datetime(2026, 11, 20, tzinfo=UTC), 0, 300),
        RunInfo(5, "m", "v1", "1", datetime(2026, 10, 1, tzinfo=UTC), 4, 300),
        RunInfo(6, "m", "v1", "1", datetime(2026, 10, 9, tzinfo=UTC), None, None),  # no counts
    ]
    trend = bound_trend(infos, shape)
    assert [p.info.run for p in trend.points] == [5, 7]
    # The second model begins at the right edge: its label ends there.
    assert trend.models == ((44.0, 44.0, "start", "m v1"), (330.0, 338.0, "end", "m v2"))
    # Axis to 0.05 again; y runs from 82 (0) up to 14 (0.05): the threshold at
    # 82 − 68 × 0.2 = 68.4, the bound 0.03025 at 82 − 68 × 0.605 = 40.86.
    assert trend.y_threshold == pytest.approx(68.4)
    old, new = trend.points
    assert old.y == pytest.approx(40.9) and old.meets is False
    assert new.meets is True and new.y > trend.y_threshold  # below the line on screen
    assert (old.x, new.x) == (44.0, 330.0)
    assert trend.line == "44.0,40.9 330.0,68.5"
    assert bound_trend(infos[:1], shape) is None  # one point is no trend

    # Labels never overlap: five runs alternating between two models, 286 / 4 = 71.5 units
    # apart, leave (71.5 − 6) / 4.6 = 14 characters for a label; the newest model's label
    # ends at the edge (338 − 13 × 4.6 = 278.2), which leaves the one before it
    # (278.2 − 258.5 − 6) / 4.6 < 3 characters: none.
    alternating = [
        RunInfo(
            i,
            "example-model" if i % 2 else "other",
            "2026-11",
            "1",
            datetime(2026, 11, i + 1, tzinfo=UTC),
            0,
            300,
        )
        for i in range(5)
    ]
    labels = [label for _, _, _, label in bound_trend(alternating, shape).models]
    assert labels == [
        "other 2026-11",
        "example-model…",
        "other 2026-11",
        "",
        "other 2026-11",
    ]


# --------------------------------------------------------------------------------------------
# Pages


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab):
    def submit_log(document: dict):
        upload = io.BytesIO(json.dumps(document).encode())
        upload.name = f"{document['run']['id']}.json"
        with django_capture_on_commit_callbacks(execute=True):
            result = evidence_services.log_submit(upload=upload, uploaded_by=None, project=lab)
        return result.runs[0]

    return submit_log


def _row_group(page: str, run_id: int | str) -> str:
    match = re.search(rf'<g class="ledger-row([^"]*)" data-runs="{run_id}">(.*?)</g>', page, re.S)
    assert match, f"no chart row for run {run_id}"
    return match.group(1) + match.group(2)


def _x1(fragment: str, css_class: str) -> float:
    match = re.search(rf'<line class="{css_class}" x1="([0-9.]+)"', fragment)
    assert match, f"no {css_class} line"
    return float(match.group(1))


@pytest.mark.django_db
def test_a_failing_runs_bound_sits_above_the_threshold_and_is_marked_deciding(
    client, bound_case, viewer, submit
):
    failing = submit(generic_run("chart-fail", 4, 300, days_ago=3))
    passing = submit(generic_run("chart-pass", 0, 300, days_ago=1))
    other = submit(generic_run("chart-other", 1, 300, model="another-model", days_ago=2))
    client.force_login(viewer)
    for page in (
        client.get(f"/cases/{bound_case.pk}/nodes/Sn1/").content.decode(),
        client.get(f"/cases/{bound_case.pk}/nodes/Sn1/", **HTMX).content.decode(),
    ):
        # The criterion in words beside its CEL.
        assert (
            "Met when the one-sided 95% Clopper–Pearson upper bound of the rate is below 0.01."
            in page
        )
        chart = page[page.index('<svg class="ledger-chart"') :]
        chart = chart[: chart.index("</svg>")]
        threshold = _x1(chart, "threshold")
        fail_row, pass_row = _row_group(chart, failing.pk), _row_group(chart, passing.pk)
        assert "deciding" in fail_row and "fails" in fail_row
        assert "deciding" not in pass_row and "holds" in pass_row
        assert _x1(fail_row, "bound") > threshold > _x1(pass_row, "bound")
        assert "<title" in chart and "<desc" in chart and 'role="img"' in chart
        # The text alternative: the one-sided bounds, checked above by hand.
        assert "95% upper bound" in page
        assert "0.009936" in page and "0.03025" in page and "above the threshold 0.01" in page
        # The trend lists the task's runs of every model, the other model's marked as such.
        trend = page[page.index('class="trend-list') :]
        assert f"run {other.pk}" in trend and "(not in this case's ledger)" in trend
        assert "another-model" in trend and "example-model 2026-11" in trend
        assert ' style="' not in chart  # the CSP forbids inline styles


@pytest.mark.django_db
def test_the_node_panel_makes_no_query_per_run(client, bound_case, viewer, submit):
    client.force_login(viewer)
    url = f"/cases/{bound_case.pk}/nodes/Sn1/"
    submit(generic_run("count-0", 0, 300, days_ago=5))
    submit(generic_run("count-1", 1, 300, days_ago=4))
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, **HTMX).status_code == 200
    for index in range(6):
        model = "another-model" if index % 2 else "example-model"
        submit(generic_run(f"count-more-{index}", index % 3, 300, model=model, days_ago=3))
    with CaptureQueriesContext(connection) as many:
        page = client.get(url, **HTMX).content.decode()
    assert page.count('<g class="ledger-row') == 5  # the two runs and three more of the model
    assert page.count('class="trend-point') == 8
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_a_pooled_criterion_charts_the_pool_that_decided(client, bound_case, viewer, submit):
    # Alone, 0 of 150 bounds the rate only below 1 − 0.05^(1/150) ≈ 0.01977, above 0.01;
    # pooled, 0 of 300 below 0.009936: the pool meets the criterion and decides.
    EvidenceBinding.objects.filter(case=bound_case).delete()
    services.binding_create_do(
        node=Node.objects.get(case=bound_case, identifier="Sn1"),
        expression="cp_upper(k, n, 0.95) < 0.01",
        selector={"task": "oversight_subversion", "scorer": "covert_action"},
        policy="pooled",
    )
    first = submit(generic_run("pool-1", 0, 150, days_ago=2)).pk
    second = submit(generic_run("pool-2", 0, 150, days_ago=1)).pk
    client.force_login(viewer)
    page = client.get(f"/cases/{bound_case.pk}/nodes/Sn1/", **HTMX).content.decode()
    chart = page[page.index('<svg class="ledger-chart"') :]
    chart = chart[: chart.index("</svg>")]
    threshold = _x1(chart, "threshold")
    pool = _row_group(chart, f"{second},{first}")
    assert "pool" in pool and "deciding" in pool and "holds" in pool
    assert _x1(pool, "bound") < threshold
    for run in (first, second):
        alone = _row_group(chart, run)
        assert "deciding" not in alone and "fails" in alone  # each alone fails
        assert _x1(alone, "bound") > threshold
    assert f"pool of {second}, {first}" in page and "0/300" in page
    assert "0.009936" in page and "0.01977" in page
    assert "decided the status (pooled)" in page
