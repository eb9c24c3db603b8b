"""Inspect `.eval` and `.json` parsing: real fixtures, then hostile and odd archives built here."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
import zstandard

from evidence.parsers import Limits, LogFormatError, detect_format, parse_log
from evidence.parsers.inspect_eval import EvalArchive

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"
SUCCESS_EVAL = FIXTURES / "arith-success.eval"
SUCCESS_JSON = FIXTURES / "arith-success.json"
SAMPLE_ERRORS = FIXTURES / "arith-sample-errors.eval"
ERROR_EVAL = FIXTURES / "arith-error.eval"
CANCELLED_EVAL = FIXTURES / "arith-cancelled.eval"


# -- helpers -----------------------------------------------------------------------------------


def members_of(path: Path) -> list[tuple[str, bytes]]:
    """(name, inflated bytes) of every central-directory entry, in order."""
    archive = EvalArchive(path, Limits())
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        return [(info.filename, archive.read(fh, info)) for info in zf.infolist()]


def write_zip(path: Path, members: list[tuple[str, bytes]], compression=zipfile.ZIP_DEFLATED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is what we want to build
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def patch_member(path: Path, name: str, **fields: int) -> None:
    """Rewrite `method`, `crc` and/or `file_size` of a member in both its local and central
    directory headers (to build archives zipfile itself would refuse to write)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        offsets = [i.header_offset for i in zf.infolist() if i.filename == name]
        start_dir = zf.start_dir
    local = {"method": (8, "<H"), "crc": (14, "<I"), "file_size": (22, "<I")}
    central = {"method": (10, "<H"), "crc": (16, "<I"), "file_size": (24, "<I")}
    for offset in offsets:
        for key, value in fields.items():
            at, fmt = local[key]
            struct.pack_into(fmt, data, offset + at, value)
    pos = start_dir
    while data[pos : pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        if bytes(data[pos + 46 : pos + 46 + n]).decode() == name:
            for key, value in fields.items():
                at, fmt = central[key]
                struct.pack_into(fmt, data, pos + at, value)
        pos += 46 + n + m + k
    path.write_bytes(bytes(data))


def header_bytes() -> bytes:
    return dict(members_of(SAMPLE_ERRORS))["header.json"]


def sample_json(sample_id="q1", epoch=1, value="C", **extra) -> bytes:
    sample = {"id": sample_id, "epoch": epoch, "scores": {"match": {"value": value}}}
    sample.update(extra)
    return json.dumps(sample).encode()  # allow_nan: NaN/Infinity written as Python does


def small_eval(tmp_path: Path, samples: list[tuple[str, bytes]], name="log.eval") -> Path:
    return write_zip(tmp_path / name, [*samples, ("header.json", header_bytes())])


# -- real fixtures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt", "status", "samples", "errors", "total", "completed"),
    [
        (SUCCESS_EVAL, "inspect_eval", "success", 180, 0, 180, 180),
        (SUCCESS_JSON, "inspect_json", "success", 40, 0, 40, 40),
        (SAMPLE_ERRORS, "inspect_eval", "success", 40, 2, 40, 38),
        (ERROR_EVAL, "inspect_eval", "error", 6, 1, None, None),
        (CANCELLED_EVAL, "inspect_eval", "cancelled", 12, 2, 40, 10),
    ],
)
def test_fixture_parses(path, fmt, status, samples, errors, total, completed):
    assert detect_format(path) == fmt
    log = parse_log(path)
    header = log.header
    assert header.format == fmt
    assert header.harness == "inspect"
    assert header.harness_version == "0.3.285"
    assert header.log_status == status
    assert header.task == "arith"
    assert header.task_version == "1.2.0"
    assert header.model == "mockllm/model"
    assert header.total_samples == total
    assert header.completed_samples == completed
    parsed = list(log.samples)
    assert len(parsed) == samples
    assert sum(1 for s in parsed if s.error) == errors
    assert len({(s.sample_id, s.epoch) for s in parsed}) == samples
    json.dumps(header.details, allow_nan=False)  # JSON-safe for jsonb
    for sample in parsed:
        json.dumps(sample.metadata, allow_nan=False)
        json.dumps([s.raw for s in sample.scores.values()], allow_nan=False)


def test_success_header_fields():
    header = parse_log(SUCCESS_EVAL).header
    assert header.eval_id == "ncxWbgxTEbimgHLHQxDEZD"
    assert header.run_id == "9Wsps3bv9LPrVB9MnU8Bbc"
    assert header.started_at == "2026-11-24T11:14:31+00:00"
    assert header.completed_at == "2026-11-24T11:14:36+00:00"
    assert header.log_error == ""
    details = header.details
    assert details["inspect_version"] == "0.3.285"
    assert details["task_args"] == {
        "n": 60,
        "epochs": 3,
        "fail_ids": "",
        "delay": 0.0,
        "graded": True,
    }
    assert details["tags"] == ["fixture", "success"]
    assert details["revision"]["origin"] == "https://github.com/example-org/safety-evals.git"
    assert details["dataset"] == {
        "name": "synthetic-arith-60",
        "location": "generated",
        "samples": 60,
        "shuffled": False,
    }
    assert details["epochs"] == 3
    assert details["epochs_reducer"] == ["mean", "max"]
    assert details["model_roles"] == {"grader": "mockllm/grader"}
    assert details["headline"]["metric"] == "accuracy"
    assert details["metadata"]["fixture"] is True
    assert details["sample_members"] == 180


def test_success_metric_rows():
    rows = {
        (m.name, m.scorer, m.reducer, m.metric, m.group): m.value
        for m in parse_log(SUCCESS_EVAL).header.metrics
    }
    assert rows[("match", "match", "mean", "accuracy", "")] == pytest.approx(0.7222, abs=1e-4)
    assert rows[("match", "match", "max", "accuracy", "")] == pytest.approx(0.9833, abs=1e-4)
    assert rows[("closeness", "closeness", "mean", "sub", "grouped")] == pytest.approx(0.8235, 1e-3)
    # the dict-valued `behaviour` scorer yields one score per key
    assert rows[("refused", "behaviour", "mean", "mean", "")] == pytest.approx(0.0556, abs=1e-4)
    assert ("answered", "behaviour", "max", "mean", "") in rows
    assert len(rows) == 30


def test_sample_score_names_match_metric_names():
    log = parse_log(SUCCESS_EVAL)
    metric_names = {m.name for m in log.header.metrics}
    first = next(log.samples)
    assert (
        set(first.scores)
        == metric_names
        == {
            "match",
            "includes",
            "closeness",
            "answered",
            "refused",
            "model_graded_fact",
        }
    )
    assert first.sample_id == "q00000" and first.epoch == 1
    assert first.scores["match"].value == 1.0 and first.scores["match"].correct is True
    assert first.scores["match"].raw == "C"
    assert first.scores["answered"].value == 1.0
    assert first.scores["refused"].correct is False
    assert first.metadata == {"category": "sub", "difficulty": "hard", "operands": [93, 933]}


def test_samples_are_sorted_by_epoch_then_id():
    keys = [(s.epoch, s.sample_id) for s in parse_log(SUCCESS_EVAL).samples]
    assert keys == sorted(keys)
    assert keys[0] == (1, "q00000") and keys[-1] == (3, "q00059")


def test_error_log_has_no_results_but_an_error():
    header = parse_log(ERROR_EVAL).header
    assert header.metrics == []
    assert header.log_error == "RuntimeError('simulated tool failure on sample q00017')"
    errored = [s for s in parse_log(ERROR_EVAL).samples if s.error]
    assert [s.sample_id for s in errored] == ["q00017"]
    assert errored[0].scores == {}


def test_deflate_compressed_eval_parses_the_same(tmp_path):
    deflated = write_zip(tmp_path / "old.eval", members_of(SUCCESS_EVAL), zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(deflated) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    ours, theirs = parse_log(deflated), parse_log(SUCCESS_EVAL)
    assert ours.header == theirs.header
    assert list(ours.samples) == list(theirs.samples)


def test_stored_members_parse(tmp_path):
    stored = write_zip(tmp_path / "stored.eval", members_of(SAMPLE_ERRORS), zipfile.ZIP_STORED)
    assert len(list(parse_log(stored).samples)) == 40


def test_multi_frame_zstd_member(tmp_path):
    plain = sample_json("q1", metadata={"padding": "x" * 50_000})
    cctx = zstandard.ZstdCompressor()
    frames = b"".join(cctx.compress(plain[i : i + 10_000]) for i in range(0, len(plain), 10_000))
    assert len(frames) > 3 * 9  # several frames
    path = tmp_path / "frames.eval"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("samples/q1_epoch_1.json", frames)  # stored, then relabelled as zstd
        zf.writestr("header.json", header_bytes())
    patch_member(
        path, "samples/q1_epoch_1.json", method=93, crc=zlib.crc32(plain), file_size=len(plain)
    )
    [sample] = list(parse_log(path).samples)
    assert sample.sample_id == "q1"
    assert sample.metadata == {"padding": "(value removed: 50,002 bytes)"}


def test_duplicate_member_names_last_wins(tmp_path):
    path = small_eval(
        tmp_path,
        [
            ("samples/q1_epoch_1.json", sample_json("q1", value="I", error={"message": "boom"})),
            ("samples/q2_epoch_1.json", sample_json("q2", value="I")),
            ("samples/q1_epoch_1.json", sample_json("q1", value="C")),  # the retry
        ],
    )
    samples = list(parse_log(path).samples)
    assert [(s.sample_id, s.scores["match"].value, s.error) for s in samples] == [
        ("q1", 1.0, ""),
        ("q2", 0.0, ""),
    ]


def test_no_header_json_is_an_unfinished_log(tmp_path):
    path = write_zip(
        tmp_path / "running.eval",
        [("_journal/start.json", b"{}"), ("samples/q1_epoch_1.json", sample_json())],
    )
    assert detect_format(path) == "inspect_eval"
    with pytest.raises(LogFormatError, match=r"no header\.json.*status 'started'"):
        parse_log(path)


def test_zip_without_inspect_members_is_not_a_log(tmp_path):
    path = write_zip(tmp_path / "other.eval", [("readme.txt", b"hello")])
    with pytest.raises(LogFormatError, match="ZIP archive but not an Inspect .eval log"):
        detect_format(path)


def test_zip_bomb_by_declared_size_is_refused_before_inflating(tmp_path):
    path = small_eval(tmp_path, [("samples/q1_epoch_1.json", sample_json())])
    patch_member(path, "samples/q1_epoch_1.json", file_size=3 * 1024**3)  # 3 GiB declared
    with pytest.raises(LogFormatError, match="would inflate to 3,2.*max_uncompressed_bytes"):
        parse_log(path)


def test_zip_bomb_by_ratio_is_refused(tmp_path):
    zeros = b"0" * (8 * 1024 * 1024)  # 8 MiB of zeros -> a few KB deflated
    path = small_eval(tmp_path, [("samples/q1_epoch_1.json", zeros)])
    assert path.stat().st_size < 100_000
    limits = Limits(max_uncompressed_bytes=4 * 1024 * 1024)
    with pytest.raises(LogFormatError, match="max_uncompressed_bytes"):
        parse_log(path, limits=limits)


def test_member_inflating_beyond_its_declared_size_is_refused(tmp_path):
    big = sample_json("q1", metadata={"padding": "y" * 100_000})
    path = small_eval(tmp_path, [("samples/q1_epoch_1.json", big)])
    patch_member(path, "samples/q1_epoch_1.json", file_size=1000)
    log = parse_log(path)  # the header is fine; the lie shows when the member is read
    with pytest.raises(LogFormatError, match="inflates beyond its declared size of 1,000 bytes"):
        list(log.samples)


def test_too_many_members(tmp_path):
    samples = [(f"samples/q{i}_epoch_1.json", sample_json(f"q{i}")) for i in range(20)]
    path = small_eval(tmp_path, samples)
    with pytest.raises(LogFormatError, match="21 members, more than the limit of 10"):
        parse_log(path, limits=Limits(max_members=10))
    assert len(list(parse_log(path, limits=Limits(max_members=21)).samples)) == 20


def test_huge_single_member(tmp_path):
    big = sample_json("q1", metadata={"padding": "z" * 300_000})
    path = small_eval(tmp_path, [("samples/q1_epoch_1.json", big)])
    with pytest.raises(LogFormatError, match="per-member limit of 200,000"):
        parse_log(path, limits=Limits(max_member_bytes=200_000))


def test_crc_mismatch_found_while_iterating(tmp_path):
    path = small_eval(
        tmp_path,
        [
            ("samples/q1_epoch_1.json", sample_json("q1")),
            ("samples/q2_epoch_1.json", sample_json("q2")),
        ],
    )
    patch_member(path, "samples/q2_epoch_1.json", crc=12345)
    samples = parse_log(path).samples
    assert next(samples).sample_id == "q1"
    with pytest.raises(LogFormatError, match="q2_epoch_1.json.*CRC-32"):
        next(samples)


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_eval(tmp_path, cut):
    data = SAMPLE_ERRORS.read_bytes()
    path = tmp_path / "cut.eval"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(LogFormatError, match="truncated or corrupt"):
        parse_log(path)


def test_nan_infinity_and_huge_numbers_become_null(tmp_path):
    path = small_eval(
        tmp_path,
        [
            ("samples/a_epoch_1.json", sample_json("a", value=float("nan"))),
            ("samples/b_epoch_1.json", sample_json("b", value=float("inf"))),
            (
                "samples/c_epoch_1.json",
                b'{"id": "c", "epoch": 1, "scores": {"match": {"value": 1e400}},'
                b' "metadata": {"x": -Infinity, "y": [NaN, 1e400, 2]}}',
            ),
        ],
    )
    a, b, c = parse_log(path).samples
    for sample in (a, b, c):
        assert sample.scores["match"].value is None
        assert sample.scores["match"].correct is None
        assert sample.scores["match"].raw is None
    assert c.metadata == {"x": None, "y": [None, None, 2]}


def test_nan_in_header_metrics_become_none(tmp_path):
    header = json.loads(header_bytes())
    header["results"]["scores"][0]["metrics"]["accuracy"]["value"] = float("nan")
    header["results"]["scores"][0]["metrics"]["stderr"]["value"] = float("inf")
    path = write_zip(tmp_path / "nan.eval", [("header.json", json.dumps(header).encode())])
    rows = parse_log(path).header.metrics
    assert rows[0].value is None and rows[1].value is None
    json.dumps(parse_log(path).header.details, allow_nan=False)


def test_ten_thousand_deep_nesting_in_a_sample(tmp_path):
    deep = b"[" * 10_000 + b"]" * 10_000
    member = b'{"id": "d", "epoch": 1, "scores": {}, "metadata": {"deep": ' + deep + b"}}"
    path = small_eval(tmp_path, [("samples/d_epoch_1.json", member)])
    with pytest.raises(LogFormatError, match="nested too deeply"):
        list(parse_log(path).samples)


def test_nesting_deeper_than_max_json_depth_in_kept_data(tmp_path):
    nested: object = 1
    for _ in range(50):
        nested = [nested]
    member = sample_json("d", metadata={"deep": nested})
    path = small_eval(tmp_path, [("samples/d_epoch_1.json", member)])
    assert len(list(parse_log(path).samples)) == 1
    with pytest.raises(LogFormatError, match="deeper than 20 levels"):
        list(parse_log(path, limits=Limits(max_json_depth=20)).samples)


def test_deep_header_is_refused(tmp_path):
    header = json.loads(header_bytes())
    nested: object = 1
    for _ in range(300):
        nested = {"a": nested}
    header["metadata"] = {"deep": nested}
    path = write_zip(tmp_path / "deep.eval", [("header.json", json.dumps(header).encode())])
    with pytest.raises(LogFormatError, match="deeper than 200 levels"):
        parse_log(path)


def test_invalid_utf8_member(tmp_path):
    path = small_eval(tmp_path, [("samples/u_epoch_1.json", b'{"id": "u\xff", "epoch": 1}')])
    with pytest.raises(LogFormatError, match="not valid UTF-8"):
        list(parse_log(path).samples)


def test_member_that_is_not_json(tmp_path):
    path = small_eval(tmp_path, [("samples/x_epoch_1.json", b"{not json")])
    with pytest.raises(LogFormatError, match=r"'samples/x_epoch_1.json' is not valid JSON"):
        list(parse_log(path).samples)


def test_sample_without_id(tmp_path):
    path = small_eval(tmp_path, [("samples/x_epoch_1.json", b'{"epoch": 1, "scores": {}}')])
    with pytest.raises(LogFormatError, match="has no sample 'id'"):
        list(parse_log(path).samples)


def test_integer_ids_and_task_version(tmp_path):
    header = json.loads(header_bytes())
    header["eval"]["task_version"] = 3
    path = write_zip(
        tmp_path / "ints.eval",
        [
            ("samples/10_epoch_1.json", sample_json(10)),
            ("samples/2_epoch_1.json", sample_json(2)),
            ("header.json", json.dumps(header).encode()),
        ],
    )
    log = parse_log(path)
    assert log.header.task_version == "3"
    assert [s.sample_id for s in log.samples] == ["2", "10"]


def test_header_without_eval_object(tmp_path):
    path = write_zip(tmp_path / "bad.eval", [("header.json", b'{"version": 2, "status": "x"}')])
    with pytest.raises(LogFormatError, match="no 'eval' object"):
        parse_log(path)


# -- .json logs --------------------------------------------------------------------------------


def test_json_fixture_matches_eval_mapping():
    log = parse_log(SUCCESS_JSON)
    assert log.header.details["epochs"] == 2
    assert {m.reducer for m in log.header.metrics} == {"mean", "max"}
    first = next(log.samples)
    assert set(first.scores) == {m.name for m in log.header.metrics}


def _json_log(tmp_path: Path, samples_text: str, name="log.json") -> Path:
    header = json.loads(header_bytes())
    head = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in header.items())
    path = tmp_path / name
    path.write_text("{" + head + ',\n"samples": ' + samples_text + "}")
    return path


def test_json_log_with_bare_nan_and_infinity(tmp_path):
    path = _json_log(
        tmp_path,
        '[{"id": "a", "epoch": 1, "scores": {"m": {"value": NaN}}, "metadata": {"z": 1e400}},'
        ' {"id": "b", "epoch": 1, "scores": {"m": {"value": -Infinity}}}]',
    )
    assert detect_format(path) == "inspect_json"
    a, b = parse_log(path).samples
    assert a.scores["m"].value is None and a.metadata == {"z": None}
    assert b.scores["m"].value is None


def test_json_log_truncated_in_samples(tmp_path):
    data = SUCCESS_JSON.read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: int(len(data) * 0.8)])
    log = parse_log(path)  # the header comes before the samples and is intact
    assert log.header.log_status == "success"
    with pytest.raises(LogFormatError, match="truncated"):
        list(log.samples)


def test_json_log_deep_nesting(tmp_path):
    path = _json_log(tmp_path, "[" + "[" * 10_000 + "]" * 10_000 + "]")
    with pytest.raises(LogFormatError, match="nested too deeply"):
        list(parse_log(path).samples)


def test_json_log_invalid_utf8(tmp_path):
    path = _json_log(tmp_path, '[{"id": "a", "epoch": 1, "scores": {}, "metadata": {"k": "X"}}]')
    path.write_bytes(path.read_bytes().replace(b'"X"', b'"\xff\xfe"'))
    with pytest.raises(LogFormatError, match="not valid UTF-8"):
        list(parse_log(path).samples)


def test_json_sample_item_over_the_member_limit(tmp_path):
    path = _json_log(tmp_path, json.dumps([{"id": "a", "epoch": 1, "pad": "p" * 300_000}]))
    with pytest.raises(LogFormatError, match="larger than 200,000 characters"):
        list(parse_log(path, limits=Limits(max_member_bytes=200_000)).samples)


def test_json_syntax_error_is_reported_where_it_is(tmp_path):
    good = json.dumps({"id": "b", "epoch": 1, "pad": "p" * 100_000})
    path = _json_log(tmp_path, '[{"id": "a" "epoch": 1}, ' + ", ".join([good] * 30) + "]")
    with pytest.raises(LogFormatError, match=r"Expecting ',' delimiter at character \d+\.$"):
        list(parse_log(path, limits=Limits(max_member_bytes=200_000)).samples)


# -- versions and shapes Inspect's reader refuses or migrates ----------------------------------

V1_JSON = FIXTURES / "v1-yes-no.json"


def _eval_with_header(tmp_path: Path, header: dict, name="h.eval") -> Path:
    return write_zip(
        tmp_path / name,
        [("samples/q1_epoch_1.json", sample_json()), ("header.json", json.dumps(header).encode())],
    )


@pytest.mark.parametrize("suffix", [".eval", ".json"])
def test_a_newer_log_format_version_is_refused_naming_the_version(tmp_path, suffix):
    header = json.loads(header_bytes())
    header["version"] = 4
    if suffix == ".eval":
        path = _eval_with_header(tmp_path, header)
    else:
        path = tmp_path / "v4.json"
        path.write_text(json.dumps({**header, "samples": []}))
    with pytest.raises(LogFormatError, match="Unable to read version 4 of the Inspect log format"):
        parse_log(path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h["results"]["scores"][0].pop("name"), r"results.scores\[0\] has no 'name'"),
        (lambda h: h["results"]["scores"][1].pop("scorer"), r"results.scores\[1\] has no 'scorer'"),
        (lambda h: h["eval"].pop("model"), "lacks 'model'"),
        (lambda h: h["eval"].pop("dataset"), "lacks 'dataset'"),
        (lambda h: h.update(status="finished"), "status 'finished' is not one of"),
        (lambda h: h.update(version="two"), "format 'version' is 'two'"),
        (
            lambda h: h["results"].update(scorer={"name": "match"}),
            "both 'scorer' .* and 'scores'",
        ),
    ],
)
def test_a_header_inspect_refuses_is_refused_with_the_reason(tmp_path, change, reason):
    header = json.loads(header_bytes())
    change(header)
    path = _eval_with_header(tmp_path, header)
    with pytest.raises(LogFormatError, match=reason):
        parse_log(path)


def test_version_1_json_is_migrated_as_inspect_migrates_it():
    log = parse_log(V1_JSON)
    header = log.header
    assert header.details["log_version"] == 1
    assert (header.task, header.model, header.harness_version) == (
        "v1_words",
        "mockllm/model",
        "0.3.17",
    )
    # results.scorer + results.metrics -> one score, named like its scorer
    assert {(m.name, m.scorer, m.metric) for m in header.metrics} == {
        ("includes", "includes", "accuracy"),
        ("includes", "includes", "bootstrap_std"),
    }
    accuracy = next(m.value for m in header.metrics if m.metric == "accuracy")
    assert accuracy == pytest.approx(0.7)
    samples = list(log.samples)
    assert len(samples) == 30  # 10 samples x 3 epochs
    assert all(set(s.scores) == {"includes"} for s in samples)  # sample.score -> scores
    assert sum(s.scores["includes"].value for s in samples) == pytest.approx(0.7 * 30)
    # no eval_id in a version 1 log: Inspect derives one (checked against it in the fidelity test)
    assert "eval_id" not in json.loads(V1_JSON.read_text())["eval"]
    assert len(header.eval_id) == 22


def test_a_sample_with_both_score_and_scores_is_refused(tmp_path):
    path = small_eval(
        tmp_path,
        [("samples/q1_epoch_1.json", sample_json(score={"value": "C"}))],
    )
    log = parse_log(path)
    with pytest.raises(LogFormatError, match="both 'score' .* and 'scores'"):
        list(log.samples)


def test_version_3_is_read_in_an_eval_but_refused_in_a_json_as_inspect_does(tmp_path):
    """Inspect's .eval reader reads the version-3 logs some releases wrote; its .json reader
    refuses any version above 2."""
    header = json.loads(header_bytes())
    header["version"] = 3
    assert parse_log(_eval_with_header(tmp_path, header)).header.details["log_version"] == 3
    path = tmp_path / "v3.json"
    path.write_text(json.dumps({**header, "samples": []}))
    with pytest.raises(LogFormatError, match="Unable to read version 3 .* versions 1 to 2"):
        parse_log(path)


def test_a_created_time_that_is_not_iso_is_refused(tmp_path):
    header = json.loads(header_bytes())
    header["eval"]["created"] = "yesterday"
    with pytest.raises(LogFormatError, match="eval.created 'yesterday' is not an ISO 8601"):
        parse_log(_eval_with_header(tmp_path, header))
