"""Format detection by content, and the sentences hostile or wrong files get."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from evidence.parsers import LogFormatError, detect_format, parse_log, parse_runs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INSPECT = FIXTURES / "inspect"
LM_EVAL = FIXTURES / "lm-eval"
RESULTS = LM_EVAL / "results_2026-11-24T11-15-47.729466.json"
UNKNOWN = re.escape("is not an Inspect log (.eval or .json), an lm-evaluation-harness results file")


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (INSPECT / "arith-success.eval", "inspect_eval"),
        (INSPECT / "arith-error.eval", "inspect_eval"),
        (INSPECT / "arith-success.json", "inspect_json"),
        (RESULTS, "lm_eval"),
        (LM_EVAL / "samples_arith_mc_2026-11-24T11-15-47.729466.jsonl", "lm_eval_samples"),
    ],
)
def test_detects_fixtures(path, fmt):
    assert detect_format(path) == fmt


def test_detection_ignores_the_extension(tmp_path):
    renamed = tmp_path / "upload.bin"
    shutil.copy(INSPECT / "arith-success.eval", renamed)
    assert detect_format(renamed) == "inspect_eval"
    json_as_eval = tmp_path / "log.eval"
    shutil.copy(INSPECT / "arith-success.json", json_as_eval)
    assert detect_format(json_as_eval) == "inspect_json"


def test_generic_detected_by_format_key(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"run": {}, "format": "safetycase.generic/1"}))
    assert detect_format(path) == "generic"


def test_detection_reads_only_the_start(tmp_path):
    # identifying keys first, then garbage: detection must not need the rest of the file
    path = tmp_path / "big.json"
    path.write_bytes(b'{"version": 2, "status": "success", "eval": {"x": ' + b"]" * 10_000_000)
    assert detect_format(path) == "inspect_json"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.eval"
    path.write_bytes(b"")
    with pytest.raises(LogFormatError, match=r"The file is empty \(0 bytes\)"):
        parse_log(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.eval"
    path.write_bytes(os.urandom(4096).replace(b"PK", b"pk"))
    with pytest.raises(LogFormatError, match=UNKNOWN) as exc:
        parse_log(path)
    assert "named .eval, but Inspect .eval logs are ZIP archives" in str(exc.value)


def test_random_bytes_after_zip_magic(tmp_path):
    path = tmp_path / "noise.eval"
    path.write_bytes(b"PK\x03\x04" + os.urandom(4096))
    with pytest.raises(LogFormatError, match="ZIP archive .* truncated or corrupt"):
        parse_log(path)


def test_truncated_zip(tmp_path):
    data = (INSPECT / "arith-success.eval").read_bytes()
    path = tmp_path / "cut.eval"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(LogFormatError, match="truncated or corrupt"):
        detect_format(path)


def test_invalid_utf8_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"version": 2, "st\xe9tus": "success"}')
    with pytest.raises(LogFormatError, match=UNKNOWN + ".*not valid UTF-8.*offset 18"):
        parse_log(path)


def test_utf16_json(tmp_path):
    path = tmp_path / "wide.json"
    path.write_bytes(json.dumps({"version": 2}).encode("utf-16"))
    with pytest.raises(LogFormatError, match="UTF-16 text; save it as UTF-8"):
        detect_format(path)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + RESULTS.read_bytes())
    assert detect_format(path) == "lm_eval"
    assert parse_log(path).header.task == "arith_mc"


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("log.json", b'{"hello": "world"}', "a JSON object without the keys"),
        ("log.json", b"[1, 2, 3]", "neither a ZIP archive nor a JSON object"),
        ("log.eval", b"just some text\n", "neither a ZIP archive nor a JSON object"),
        ("log.json", b'{"version": 2, "status": ', "not valid JSON"),
        ("results.json", b'{"results": {}, "oops": [1, 2', "not valid JSON"),
        ("samples.jsonl", b'{"doc_id": 0, "other": 1}\n', "a JSON object without the keys"),
    ],
)
def test_wrong_format_with_the_right_extension(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LogFormatError, match=UNKNOWN) as exc:
        parse_log(path)
    assert why in str(exc.value)


def test_openapi_schema_is_not_a_log(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"openapi": "3.1.0", "components": {"schemas": {}}}))
    with pytest.raises(LogFormatError, match=UNKNOWN):
        detect_format(path)


def test_nan_before_the_identifying_keys(tmp_path):
    path = tmp_path / "results.json"
    doc = json.loads(RESULTS.read_text())
    doc = {"results": {"t": {"acc,none": float("nan"), "acc_stderr,none": "N/A"}}, **doc}
    doc["results"] = {"t": {"acc,none": float("nan"), "acc_stderr,none": "N/A"}}
    path.write_text(json.dumps(doc))
    assert detect_format(path) == "lm_eval"
    [run] = parse_runs(path)
    assert [m.value for m in run.header.metrics] == [None, None]


def test_deeply_nested_json_is_refused_in_detection(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"a": ' + "[" * 10_000 + "]" * 10_000 + "}")
    with pytest.raises(LogFormatError, match=UNKNOWN + ".*nested too deeply"):
        detect_format(path)


@pytest.mark.parametrize(
    "path",
    [
        INSPECT / "arith-success.eval",
        INSPECT / "arith-success.json",
        RESULTS,
        LM_EVAL / "samples_arith_gen_2026-11-24T11-15-47.729466.jsonl",
    ],
)
def test_samples_are_a_lazy_generator(path):
    assert inspect.isgenerator(parse_log(path).samples) or list(parse_log(path).samples) == []
