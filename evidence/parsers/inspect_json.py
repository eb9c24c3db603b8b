"""Inspect `.json` logs: one JSON object, header keys first, then `samples` (reference §2.3).

The file is streamed (`JsonTextReader`): a first pass decodes the top-level values up to the
`samples` key (the header); the samples iterator re-opens the file, skips to `samples` and
decodes one sample at a time. Inspect writes unscored values as bare `NaN`, which strict JSON
parsers (ijson included) reject; the standard library decoder used here accepts it and
`json_safe` turns it into null.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._inspect import first_score_name, header_from_dict, sample_from_dict
from ._json import JsonTextReader
from .base import DEFAULT_LIMITS, Limits, LogFormatError, ParsedLog, ParsedSample

WHAT = "The Inspect .json log"


def _reader(fh: Any, limits: Limits) -> JsonTextReader:
    return JsonTextReader(fh, what=WHAT, max_value_chars=limits.max_member_bytes)


def read_header(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The top-level values other than `samples`/`reductions`; stops at `samples` once the
    header is complete (Inspect writes the header keys first)."""
    header: dict[str, Any] = {}
    with open(path, "rb") as fh:
        reader = _reader(fh, limits)
        if reader.peek() != "{":
            raise LogFormatError(f"{WHAT} is not a JSON object.")
        for key in reader.iter_object():
            if key == "samples":
                if "eval" in header and "status" in header:
                    break
                reader.skip()
            elif key == "reductions":
                reader.skip()
            else:
                header[key] = reader.value()
    return header


def iter_samples(path: str | Path, limits: Limits, score_name: str = "") -> Iterator[ParsedSample]:
    with open(path, "rb") as fh:
        reader = _reader(fh, limits)
        index = 0
        for key in reader.iter_object():
            if key != "samples":
                reader.skip()
                continue
            if reader.peek() == "n":  # "samples": null
                reader.value()
                continue
            for sample in reader.iter_array():
                index += 1
                yield sample_from_dict(
                    sample,
                    where=f"Sample #{index} of the log",
                    limits=limits,
                    score_name=score_name,
                )
        if not reader.at_end():
            raise LogFormatError(f"{WHAT} has data after its closing brace.")


def parse(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> ParsedLog:
    header = read_header(path, limits)
    parsed = header_from_dict(header, fmt="inspect_json", limits=limits)
    return ParsedLog(header=parsed, samples=iter_samples(path, limits, first_score_name(parsed)))
