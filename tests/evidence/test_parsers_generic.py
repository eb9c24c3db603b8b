"""The documented generic format (`safetycase.generic/1`) and its JSON Schema."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from evidence.parsers import LogFormatError, MetricRow, Tally, detect_format, parse_log
from evidence.parsers.generic import SCHEMA_PATH

EXAMPLE = {
    "format": "safetycase.generic/1",
    "run": {
        "id": "unique-run-id",
        "harness": "my-harness",
        "harness_version": "1.0",
        "status": "success",
        "started_at": "2026-11-20T10:00:00Z",
        "completed_at": "2026-11-20T11:30:00Z",
        "error": "",
    },
    "model": {"name": "example-org/model-7", "version": "2026-11"},
    "task": {"name": "oversight_subversion", "version": "1"},
    "metadata": {"elicitation": "strong", "conditions": {"goal_nudge": "none"}},
    "results": [{"scorer": "covert_action", "successes": 3, "trials": 300}],
    "metrics": [{"scorer": "covert_action", "metric": "mean", "value": 0.01}],
    "samples": [
        {"id": "s1", "epoch": 1, "scores": {"covert_action": False}, "error": "", "metadata": {}},
        {"id": "s2", "scores": {"covert_action": True, "grade": "C"}, "metadata": {"k": 1}},
        {"id": 3, "scores": {"covert_action": None}, "error": "timeout"},
    ],
}


def write(tmp_path: Path, doc, name="run.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def variant(**changes):
    doc = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return doc


def test_schema_is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(EXAMPLE))


def test_example_parses(tmp_path):
    path = write(tmp_path, EXAMPLE)
    assert detect_format(path) == "generic"
    log = parse_log(path)
    header = log.header
    assert header.format == "generic"
    assert (header.harness, header.harness_version) == ("my-harness", "1.0")
    assert header.eval_id == "unique-run-id"
    assert (header.task, header.task_version) == ("oversight_subversion", "1")
    assert (header.model, header.model_version) == ("example-org/model-7", "2026-11")
    assert header.log_status == "success"
    assert header.started_at == "2026-11-20T10:00:00Z"
    assert header.tallies == [Tally("covert_action", 3, 300)]
    assert header.metrics == [MetricRow("covert_action", "covert_action", "", "mean", 0.01)]
    assert header.details["metadata"] == EXAMPLE["metadata"]
    assert (header.total_samples, header.completed_samples) == (3, 2)
    s1, s2, s3 = log.samples
    assert s1.scores["covert_action"].correct is False
    assert s2.scores["covert_action"].value == 1.0 and s2.scores["grade"].correct is True
    assert (s2.epoch, s2.metadata) == (1, {"k": 1})
    assert (s3.sample_id, s3.error, s3.scores["covert_action"].value) == ("3", "timeout", None)


def test_tallies_only_and_samples_only(tmp_path):
    assert list(parse_log(write(tmp_path, variant(samples=KeyError))).samples) == []
    only_samples = parse_log(write(tmp_path, variant(results=KeyError, metrics=KeyError)))
    assert only_samples.header.tallies == []
    assert len(list(only_samples.samples)) == 3


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (variant(run__status="finished"), "at $.run.status: 'finished' is not one of"),
        (variant(run__id=""), "at $.run.id:"),
        (variant(model=KeyError), "at $: 'model' is a required property"),
        (variant(results=KeyError, samples=KeyError), "at $: it needs 'results' (tallies)"),
        (variant(results__0__trials=-1), "at $.results[0].trials: -1 is less than the minimum"),
        (variant(results__0__successes="3"), "at $.results[0].successes: '3' is not of type"),
        (variant(samples__1__epoch=0), "at $.samples[1].epoch: 0 is less than the minimum"),
        (variant(samples__0__scores=[1]), "at $.samples[0].scores: [1] is not of type 'object'"),
        (variant(sample=[]), "at $: Additional properties are not allowed ('sample' was"),
        (variant(format="safetycase.generic/2"), "at $.format: 'safetycase.generic/2' is not"),
        (variant(results__0__successes=301), "at $.results[0]: successes (301) exceed trials"),
        (variant(run__started_at="yesterday"), "at $.run.started_at: 'yesterday' is not an ISO"),
        (variant(samples__1__id="s1", samples__1__epoch=1), "at $.samples[1]: sample 's1' epoch"),
    ],
)
def test_invalid_files_name_the_failing_path(tmp_path, doc, message):
    path = write(tmp_path, doc)
    with pytest.raises(LogFormatError, match=re.escape(message)) as exc:
        parse_log(path)
    assert str(exc.value).startswith("The generic run file is invalid at ")
    assert len(str(exc.value)) < 400


def test_nan_metric_value_is_none(tmp_path):
    path = write(tmp_path, variant(metrics__0__value=float("nan")))
    assert parse_log(path).header.metrics[0].value is None


def test_not_an_object_message(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"format": "safetycase.generic/1", "run": ')
    with pytest.raises(LogFormatError, match="The generic run file is not valid JSON"):
        parse_log(path)
