"""Uploading logs through the API and reading runs back (ingestion in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvaluationRun, LogFile, RunStatistic, SampleResult

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INSPECT = FIXTURES / "inspect"


def post_file(client, path_or_bytes, name=None, metadata=None, capture=None):
    if isinstance(path_or_bytes, Path):
        content, name = path_or_bytes.read_bytes(), name or path_or_bytes.name
    else:
        content = path_or_bytes
    data = {"file": SimpleUploadedFile(name, content)}
    if metadata is not None:
        data["metadata"] = json.dumps(metadata)
    if capture is None:
        return client.post("/api/v1/runs/", data, format="multipart")
    with capture(execute=True):
        return client.post("/api/v1/runs/", data, format="multipart")


@pytest.fixture
def harness_client(api_client_for, uploader, eager_celery):
    return api_client_for(uploader)


def test_posting_an_inspect_log_answers_202_and_the_run_gets_ingested(
    harness_client, django_capture_on_commit_callbacks
):
    response = post_file(
        harness_client,
        INSPECT / "arith-success.eval",
        metadata={"elicitation": "default", "conditions": {"goal_nudge": "none"}},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"  # the answer is written before parsing runs
    assert body["url"].endswith(f"/api/v1/runs/{body['id']}/")

    run = harness_client.get(body["url"]).json()
    assert run["status"] == "ingested", run["error"]
    assert run["format"] == "inspect_eval"
    assert run["log_status"] == "success"
    assert run["sample_count"] == 180  # 60 samples x 3 epochs
    assert run["error_count"] == 0
    # What the uploader sent, over what the log itself carries (Inspect's eval metadata).
    assert run["metadata"]["elicitation"] == "default"
    assert run["metadata"]["conditions"] == {"goal_nudge": "none"}
    assert run["metadata"]["generator"] == "make_logs.py"
    assert run["file"]["sha256"] == LogFile.objects.get().sha256
    match = next(s for s in run["statistics"] if s["name"] == "match")
    accuracy = {
        m["reducer"]: m["value"]
        for m in run["metrics"]
        if m["name"] == "match" and m["metric"] == "accuracy"
    }
    # Counted per sample, each sample's 3 epochs reduced by the log's first reducer (mean):
    # C/I epochs average to thirds, so the score is numeric, its mean Inspect's accuracy.
    assert (match["kind"], match["reducer"]) == ("numeric", "mean")
    assert (match["n"], match["k"]) == (60, None)
    assert match["mean"] == pytest.approx(accuracy["mean"])
    assert match["rate"] is None and match["cp_lower"] is None
    # The trials beside: pooled successes are Inspect's mean accuracy x 180 trials, and the
    # samples with any success are its max-reducer accuracy x 60 samples.
    assert match["n_trials"] == 180
    assert match["k_trials"] == round(accuracy["mean"] * 180)
    assert match["k_any"] == round(accuracy["max"] * 60)


def test_the_same_file_posted_again_returns_the_existing_run(
    harness_client, django_capture_on_commit_callbacks
):
    first = post_file(
        harness_client, INSPECT / "arith-success.json", capture=django_capture_on_commit_callbacks
    )
    second = post_file(
        harness_client, INSPECT / "arith-success.json", capture=django_capture_on_commit_callbacks
    )
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert EvaluationRun.objects.count() == 1
    assert LogFile.objects.count() == 1


def test_the_same_eval_id_in_another_file_returns_the_existing_run(
    harness_client, django_capture_on_commit_callbacks, tmp_path
):
    """Inspect's .json and .eval of one log share the eval id; a re-export is not a new run."""
    original = INSPECT / "arith-success.json"
    first = post_file(harness_client, original, capture=django_capture_on_commit_callbacks)
    reformatted = json.dumps(json.loads(original.read_text()), indent=1).encode()
    second = post_file(
        harness_client, reformatted, name="again.json", capture=django_capture_on_commit_callbacks
    )
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert EvaluationRun.objects.count() == 1


def test_an_unreadable_file_is_kept_as_a_failed_run_with_a_reason(harness_client):
    response = post_file(harness_client, b"\x00\x01 not a log at all", name="junk.eval")
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"]
    run = EvaluationRun.objects.get(pk=body["id"])
    assert run.error == body["error"]
    assert SampleResult.objects.count() == 0
    assert LogFile.objects.get().size == len(b"\x00\x01 not a log at all")


def test_an_empty_request_is_a_400_with_a_sentence(harness_client):
    response = harness_client.post("/api/v1/runs/", {}, format="multipart")
    assert response.status_code == 400
    assert "multipart field `file`" in response.json()["file"][0]


def test_a_json_body_instead_of_a_file_is_415(harness_client):
    response = harness_client.post("/api/v1/runs/", {"file": "x"}, format="json")
    assert response.status_code == 415


def test_metadata_must_be_a_json_object(harness_client):
    data = {"file": SimpleUploadedFile("a.json", b"{}"), "metadata": "[1, 2"}
    response = harness_client.post("/api/v1/runs/", data, format="multipart")
    assert response.status_code == 400
    assert "metadata is not valid JSON" in response.json()["metadata"][0]
    assert LogFile.objects.count() == 0


def test_files_over_the_upload_limit_are_refused_with_413(harness_client, settings):
    settings.EVIDENCE = {**settings.EVIDENCE, "MAX_UPLOAD_BYTES": 1000}
    response = post_file(harness_client, b"{" + b" " * 5000 + b"}", name="big.json")
    assert response.status_code == 413
    assert "upload limit" in response.json()["detail"]
    assert LogFile.objects.count() == 0
    assert EvaluationRun.objects.count() == 0


@pytest.mark.parametrize("persona", ["author", "viewer", None])
def test_only_accounts_with_the_ingest_permission_may_post(api_client_for, request, persona):
    user = request.getfixturevalue(persona) if persona else None
    response = post_file(api_client_for(user), INSPECT / "arith-success.json")
    assert response.status_code in (401, 403)
    assert EvaluationRun.objects.count() == 0


def test_runs_are_listed_and_filtered(
    harness_client, django_capture_on_commit_callbacks, api_client_for, viewer
):
    post_file(
        harness_client, INSPECT / "arith-success.eval", capture=django_capture_on_commit_callbacks
    )
    post_file(
        harness_client,
        INSPECT / "arith-sample-errors.eval",
        capture=django_capture_on_commit_callbacks,
    )
    client = api_client_for(viewer)
    everything = client.get("/api/v1/runs/").json()
    assert everything["count"] == 2
    ingested = client.get("/api/v1/runs/", {"status": "ingested"}).json()
    assert ingested["count"] == 2
    task = everything["results"][0]["task"]
    assert client.get("/api/v1/runs/", {"task": task}).json()["count"] >= 1
    assert client.get("/api/v1/runs/", {"task": "no-such-task"}).json()["count"] == 0
    assert (
        client.get("/api/v1/runs/", {"created_after": "2100-01-01T00:00:00Z"}).json()["count"] == 0
    )


def test_run_list_uses_a_fixed_number_of_queries(
    harness_client,
    django_capture_on_commit_callbacks,
    api_client_for,
    viewer,
    django_assert_max_num_queries,
):
    for name in ("arith-success.eval", "arith-sample-errors.eval", "arith-success.json"):
        post_file(harness_client, INSPECT / name, capture=django_capture_on_commit_callbacks)
    client = api_client_for(viewer)
    with django_assert_max_num_queries(7):
        client.get("/api/v1/runs/")


LM_EVAL = FIXTURES / "lm-eval"
LM_RESULTS = LM_EVAL / "results_2026-11-24T11-15-47.729466.json"
LM_SAMPLES_MC = LM_EVAL / "samples_arith_mc_2026-11-24T11-15-47.729466.jsonl"


def test_lm_eval_results_and_samples_posted_together(
    harness_client, django_capture_on_commit_callbacks
):
    data = {
        "file": [
            SimpleUploadedFile(LM_SAMPLES_MC.name, LM_SAMPLES_MC.read_bytes()),
            SimpleUploadedFile(LM_RESULTS.name, LM_RESULTS.read_bytes()),
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = harness_client.post("/api/v1/runs/", data, format="multipart")
    assert response.status_code == 202, response.content
    runs = {run.task: run for run in EvaluationRun.objects.all()}
    assert {"arith_mc", "arith_gen"} <= set(runs)  # one run per task of the results file
    mc = runs["arith_mc"]
    assert mc.status == "ingested", mc.error
    assert mc.samples_file is not None
    assert mc.sample_count == 40  # the fixture's 40 multiple-choice documents
    acc = mc.statistics.get(name="acc,none")
    assert (acc.k, acc.n) == (12, 40)  # lm-eval reports acc 0.3 = 12 / 40


def test_lm_eval_0_3_results_are_ingested_with_every_metric_value(
    harness_client, django_capture_on_commit_callbacks
):
    path = LM_EVAL / "results-0.3-shape.json"
    response = post_file(harness_client, path, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    results = json.loads(path.read_text())["results"]
    runs = {run.task: run for run in EvaluationRun.objects.prefetch_related("metrics")}
    assert set(runs) == set(results)
    for task, values in results.items():
        run = runs[task]
        assert run.status == "ingested", run.error
        stored = sorted(m.value for m in run.metrics.all())
        assert stored == sorted(values.values())


def test_lm_eval_samples_posted_later_attach_to_their_run(
    harness_client, django_capture_on_commit_callbacks
):
    post_file(harness_client, LM_RESULTS, capture=django_capture_on_commit_callbacks)
    mc = EvaluationRun.objects.get(task="arith_mc")
    assert mc.sample_count == 0
    response = post_file(harness_client, LM_SAMPLES_MC, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    assert response.json()["id"] == mc.pk
    mc.refresh_from_db()
    assert mc.status == "ingested", mc.error
    assert mc.sample_count == 40


def test_lm_eval_samples_before_their_results_wait_for_them(
    harness_client, django_capture_on_commit_callbacks
):
    response = post_file(harness_client, LM_SAMPLES_MC, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["runs"]) == ("pending", [])
    assert "kept" in body["notes"][0]
    assert not EvaluationRun.objects.exists()  # no failed run that the same bytes return
    # The same bytes again: still pending, nothing new.
    again = post_file(harness_client, LM_SAMPLES_MC, capture=django_capture_on_commit_callbacks)
    assert (again.status_code, again.json()["status"]) == (200, "pending")
    post_file(harness_client, LM_RESULTS, capture=django_capture_on_commit_callbacks)
    mc = EvaluationRun.objects.get(task="arith_mc")
    assert mc.status == "ingested", mc.error
    assert mc.samples_file is not None
    assert mc.sample_count == 40


GENERIC_RUN = {
    "format": "safetycase.generic/1",
    "run": {"id": "custom-harness-run-1", "harness": "custom", "status": "success"},
    "model": {"name": "example-org/model-7", "version": "2026-11"},
    "task": {"name": "oversight_subversion", "version": "1"},
    "results": [{"scorer": "covert_action", "successes": 0, "trials": 300}],
}


def test_a_generic_run_with_totals_gets_statistics(
    harness_client, django_capture_on_commit_callbacks
):
    response = post_file(
        harness_client,
        json.dumps(GENERIC_RUN).encode(),
        name="run.json",
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    run = EvaluationRun.objects.get()
    assert run.status == "ingested"
    assert (run.model, run.model_version) == ("example-org/model-7", "2026-11")
    stat = run.statistics.get(name="covert_action")
    assert (stat.k, stat.n, stat.rate) == (0, 300, 0.0)
    # One-sided 95% Clopper-Pearson upper bound for 0/300 is 1 - 0.05 ** (1 / 300).
    assert stat.cp_upper_one_sided == pytest.approx(1 - 0.05 ** (1 / 300))


def test_epochs_of_one_scenario_are_not_counted_as_independent_trials(
    harness_client, django_capture_on_commit_callbacks
):
    """100 scenarios x 3 epochs without the behaviour: the bound is the one of 0/100 samples
    (0.0295, which fails "rate below 0.01"), not of 0/300 trials (0.0099, which would pass)."""
    samples = [
        {"id": f"scenario-{i}", "epoch": epoch, "scores": {"covert_action": False}}
        for i in range(100)
        for epoch in (1, 2, 3)
    ]
    body = {**GENERIC_RUN, "run": {**GENERIC_RUN["run"], "id": "epochs-1"}, "samples": samples}
    del body["results"]
    post_file(
        harness_client,
        json.dumps(body).encode(),
        name="run.json",
        capture=django_capture_on_commit_callbacks,
    )
    stat = EvaluationRun.objects.get().statistics.get(name="covert_action")
    assert (stat.k, stat.n, stat.k_trials, stat.n_trials, stat.k_any) == (0, 100, 0, 300, 0)
    assert stat.reducer == "mean"  # the documented default
    assert stat.cp_upper_one_sided == pytest.approx(1 - 0.05 ** (1 / 100))
    assert stat.cp_upper_one_sided > 0.01


def test_one_covert_epoch_in_a_scenario_is_not_averaged_away_from_k_any(
    harness_client, django_capture_on_commit_callbacks
):
    """Scenario 0 acts covertly in one of its 3 epochs: per sample it is 1/3 (a numeric score,
    no k to hide it in), and k_any counts it."""
    samples = [
        {"id": f"s{i}", "epoch": e, "scores": {"covert_action": i == 0 and e == 2}}
        for i in range(50)
        for e in (1, 2, 3)
    ]
    body = {**GENERIC_RUN, "run": {**GENERIC_RUN["run"], "id": "epochs-2"}, "samples": samples}
    del body["results"]
    post_file(
        harness_client,
        json.dumps(body).encode(),
        name="run.json",
        capture=django_capture_on_commit_callbacks,
    )
    response = harness_client.get(f"/api/v1/runs/{EvaluationRun.objects.get().pk}/")
    (stat,) = response.json()["statistics"]
    assert (stat["kind"], stat["k"], stat["n"]) == ("numeric", None, 50)
    assert (stat["k_any"], stat["k_trials"], stat["n_trials"]) == (1, 1, 150)
    assert stat["mean"] == pytest.approx(1 / 3 / 50)
    assert stat["rate"] is None and stat["cp_upper_one_sided"] is None


def test_a_log_format_version_the_reader_does_not_know_is_refused_naming_it(harness_client):
    log = json.loads((INSPECT / "arith-success.json").read_text())
    log["version"] = 4
    response = post_file(harness_client, json.dumps(log).encode(), name="v4.json")
    assert response.status_code == 422, response.content
    assert "Unable to read version 4 of the Inspect log format" in response.json()["error"]
    assert EvaluationRun.objects.get().status == "failed"
    assert not RunStatistic.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.eval", b"", "empty"),
        ("random.eval", bytes(range(256)) * 40, ""),
        ("truncated.eval", (INSPECT / "arith-success.eval").read_bytes()[:5000], ""),
        ("latin1.json", '{"version": 2, "status": "succès"}'.encode("latin-1"), ""),
        ("deep.json", b"[" * 10_000 + b"]" * 10_000, ""),
        ("wrong.eval", json.dumps(GENERIC_RUN | {"format": "other/1"}).encode(), ""),
    ],
)
def test_bad_uploads_become_failed_runs_with_a_reason_and_no_rows(
    harness_client, name, content, reason
):
    response = post_file(harness_client, content, name=name)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["status"] == "failed"
    assert reason in body["error"].lower()
    assert len(body["error"]) > 20  # a sentence, not a code
    assert SampleResult.objects.count() == 0


def test_progress_is_written_batch_by_batch_while_parsing(
    harness_client, django_capture_on_commit_callbacks, settings
):
    """Each batch of sample rows advances `progress` in its own committed update, so a client
    polling the run sees parsing move."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.EVIDENCE = {**settings.EVIDENCE, "SAMPLE_BATCH_SIZE": 50}
    with CaptureQueriesContext(connection) as queries:
        post_file(
            harness_client,
            INSPECT / "arith-success.eval",
            capture=django_capture_on_commit_callbacks,
        )
    batch_updates = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and '"progress" = ("evidence_evaluationrun"' in q["sql"]
    ]
    # 180 samples in batches of 50: four batches, each advancing progress on its own.
    assert len(batch_updates) == 4
    run = EvaluationRun.objects.get()
    assert run.progress == run.sample_count == 180


def test_date_filters_accept_any_offset_python_reads(api_client_for, viewer):
    """PostgreSQL refuses offsets beyond ±15:59; the filter compares in UTC (found by fuzzing)."""
    response = api_client_for(viewer).get(
        "/api/v1/runs/", {"created_before": "3042-08-26T04:08:57-16:44"}
    )
    assert response.status_code == 200
