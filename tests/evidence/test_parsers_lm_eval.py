"""lm-evaluation-harness results and samples files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evidence.parsers import (
    Limits,
    LogFormatError,
    detect_format,
    lm_eval_samples_task_hash,
    open_run,
    parse_lm_eval_runs,
    parse_log,
    parse_runs,
    read_headers,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lm-eval"
RESULTS = FIXTURES / "results_2026-11-24T11-15-47.729466.json"
SAMPLES_MC = FIXTURES / "samples_arith_mc_2026-11-24T11-15-47.729466.jsonl"
SAMPLES_GEN = FIXTURES / "samples_arith_gen_2026-11-24T11-15-47.729466.jsonl"


def rows(header):
    return {(m.name, m.scorer, m.reducer, m.metric): m.value for m in header.metrics}


def test_one_run_per_task_and_group():
    runs = parse_runs(RESULTS)
    assert [r.header.task for r in runs] == ["arith_mc", "arith_gen", "arith_suite"]
    assert parse_lm_eval_runs(RESULTS)[1].header == runs[1].header
    for run in runs:
        assert list(run.samples) == []
        json.dumps(run.header.details, allow_nan=False)
    # one invocation: a shared run_id, distinct deterministic eval_ids
    assert len({r.header.run_id for r in runs}) == 1
    assert len({r.header.eval_id for r in runs}) == 3
    assert [r.header.eval_id for r in parse_runs(RESULTS)] == [r.header.eval_id for r in runs]


def test_parse_log_returns_the_first_task():
    log = parse_log(RESULTS)
    header = log.header
    assert header.format == "lm_eval"
    assert header.harness == "lm_eval"
    assert header.harness_version == "0.4.13"
    assert header.task == "arith_mc"
    assert header.task_version == "1.0"
    assert header.model == "example-org/dummy-7b"
    assert header.log_status == "success"
    assert header.started_at == "2026-11-24T11:15:47.519574+00:00"
    assert header.total_samples == header.completed_samples == 40
    assert header.eval_id.startswith("lmeval-") and len(header.eval_id) == 39
    assert header.details["file_tasks"] == ["arith_mc", "arith_gen", "arith_suite"]
    assert header.details["groups"] == ["arith_suite"]
    assert header.details["n_shot"] == 0
    assert header.details["config"]["model_args"] == {"pretrained": "example-org/dummy-7b"}
    assert rows(header) == {
        ("acc,none", "acc", "", "mean"): 0.3,
        ("acc,none", "acc", "", "stderr"): pytest.approx(0.07338, abs=1e-5),
        ("acc_norm,none", "acc_norm", "", "mean"): 0.3,
        ("acc_norm,none", "acc_norm", "", "stderr"): pytest.approx(0.07338, abs=1e-5),
    }


def test_filters_are_part_of_the_score_name():
    gen = parse_runs(RESULTS)[1].header
    assert gen.task_version == "2.0"
    assert set(rows(gen)) == {
        ("exact_match,strict-match", "exact_match", "", "mean"),
        ("exact_match,strict-match", "exact_match", "", "stderr"),
        ("exact_match,none", "exact_match", "", "mean"),
        ("exact_match,none", "exact_match", "", "stderr"),
    }


def test_group_run():
    suite = parse_runs(RESULTS)[2].header
    assert suite.details["is_group"] is True
    assert suite.details["subtasks"] == ["arith_mc", "arith_gen"]
    assert suite.total_samples == 70
    assert rows(suite)[("acc,none", "acc", "", "mean")] == 0.3


def test_task_hash_of_samples_matches_results():
    hashes = parse_log(RESULTS).header.details["task_hashes"]
    assert lm_eval_samples_task_hash(SAMPLES_MC) == hashes["arith_mc"]
    assert lm_eval_samples_task_hash(SAMPLES_GEN) == hashes["arith_gen"]
    by_task = {r.header.task: r.header.details["task_hash"] for r in parse_runs(RESULTS)}
    assert parse_log(SAMPLES_GEN).header.details["task_hash"] == by_task["arith_gen"]


def test_samples_file_one_sample_per_document():
    log = parse_log(SAMPLES_GEN)
    assert log.header.format == "lm_eval_samples"
    assert log.header.task == "arith_gen"  # from lm-eval's file name
    assert log.header.total_samples == 30
    assert log.header.details["filters"] == ["strict-match", "none"]
    assert log.header.details["lines"] == 60
    samples = list(log.samples)
    assert len(samples) == 30
    assert {s.sample_id for s in samples} == {str(i) for i in range(30)}
    metric_names = {m.name for m in parse_runs(RESULTS)[1].header.metrics}
    for sample in samples:
        assert set(sample.scores) == metric_names
        assert sample.epoch == 1 and sample.error == ""
    first = next(s for s in samples if s.sample_id == "0")
    assert first.metadata == {"id": "gen000", "question": "What is 2 * 6?", "answer": "12"}
    assert first.scores["exact_match,none"].correct is False


def test_samples_k_over_n_matches_the_results_metric():
    samples = list(parse_log(SAMPLES_MC).samples)
    k = sum(s.scores["acc,none"].correct for s in samples)
    assert (k, len(samples)) == (12, 40)
    assert k / len(samples) == rows(parse_log(RESULTS).header)[("acc,none", "acc", "", "mean")]


def test_samples_file_under_another_name_still_parses(tmp_path):
    upload = tmp_path / "upload-1234"
    shutil.copy(SAMPLES_MC, upload)
    log = parse_log(upload)
    assert log.header.task == ""
    assert len(list(log.samples)) == 40


def test_stderr_not_available_and_string_model_args(tmp_path):
    doc = json.loads(RESULTS.read_text())
    doc["results"]["arith_mc"]["acc_stderr,none"] = "N/A"
    doc["results"]["arith_mc"]["acc_norm,none"] = float("nan")
    del doc["model_name"]
    doc["config"]["model_args"] = "pretrained=example-org/other-3b,dtype=float16,api_key=sk-1"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    header = parse_log(path).header
    assert header.model == "example-org/other-3b"
    assert header.details["config"]["model_args"]["api_key"] == "(redacted)"
    values = rows(header)
    assert values[("acc,none", "acc", "", "stderr")] is None
    assert values[("acc_norm,none", "acc_norm", "", "mean")] is None
    json.dumps(header.details, allow_nan=False)


def test_samples_line_errors_name_the_line(tmp_path):
    lines = SAMPLES_MC.read_bytes().splitlines(keepends=True)
    path = tmp_path / "samples_x_2026-01-01T00-00-00.000.jsonl"
    path.write_bytes(b"".join(lines[:3]) + b'{"doc_id": 3, "doc_hash": \n' + b"".join(lines[4:]))
    with pytest.raises(
        LogFormatError, match="Line 4 of the lm-eval samples file is not valid JSON"
    ):
        parse_log(path)


def test_samples_line_over_the_limit(tmp_path):
    path = tmp_path / "samples.jsonl"
    shutil.copy(SAMPLES_MC, path)
    with pytest.raises(LogFormatError, match="Line 1 .* longer than 500 bytes"):
        parse_log(path, limits=Limits(max_member_bytes=500))


def test_results_without_results_object(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"results": [], "configs": {}, "versions": {}}))
    with pytest.raises(LogFormatError, match="no 'results' object"):
        parse_log(path)


def test_read_headers_and_open_run_with_a_later_samples_file():
    headers = read_headers(RESULTS)
    assert [h.task for h in headers] == ["arith_mc", "arith_gen", "arith_suite"]
    gen = headers[1]
    header, samples = open_run(RESULTS, eval_id=gen.eval_id, samples_path=SAMPLES_GEN)
    assert header == gen
    assert len(list(samples)) == 30
    with pytest.raises(LogFormatError, match="does not belong to task 'arith_gen'"):
        open_run(RESULTS, eval_id=gen.eval_id, samples_path=SAMPLES_MC)
    with pytest.raises(LogFormatError, match="holds no run with eval id 'nope'"):
        open_run(RESULTS, eval_id="nope")


# -- lm-eval 0.3 results (no filters, no date) -------------------------------------------------

RESULTS_03 = FIXTURES / "results-0.3-shape.json"


def test_lm_eval_0_3_results_keep_every_metric_value():
    doc = json.loads(RESULTS_03.read_text())
    runs = parse_lm_eval_runs(RESULTS_03)
    assert [r.header.task for r in runs] == list(doc["results"])
    stored = 0
    for run in runs:
        header = run.header
        values = doc["results"][header.task]
        assert header.task_version == str(doc["versions"][header.task])
        assert header.model == "EleutherAI/pythia-160m"  # from the "k=v,k=v" model_args
        assert header.details["results_shape"] == "0.3"
        got = {(m.name, m.metric): m.value for m in header.metrics}
        for key, value in values.items():
            if key.endswith("_stderr"):
                assert got[(f"{key[: -len('_stderr')]},none", "stderr")] == value
            else:
                assert got[(f"{key},none", key)] == value
        assert len(got) == len(values)
        stored += len(got)
    assert stored == sum(len(v) for v in doc["results"].values()) == 15


def test_lm_eval_0_3_runs_have_distinct_stable_ids(tmp_path):
    first = [r.header.eval_id for r in parse_lm_eval_runs(RESULTS_03)]
    assert len(set(first)) == len(first)
    assert first == [r.header.eval_id for r in parse_lm_eval_runs(RESULTS_03)]
    doc = json.loads(RESULTS_03.read_text())
    doc["results"]["hellaswag"]["acc"] = 0.3  # another run of the same model and tasks
    other = tmp_path / "results.json"
    other.write_text(json.dumps(doc))
    assert parse_lm_eval_runs(other)[0].header.eval_id != first[0]


def test_lm_eval_0_3_is_detected():
    assert detect_format(RESULTS_03) == "lm_eval"
