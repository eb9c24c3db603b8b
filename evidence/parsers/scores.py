"""Score normalization and JSON-safety, shared by every parser (pure functions).

Score values arrive in many shapes (Inspect's `Score.value` is `str | int | float | bool | list |
dict`, lm-eval writes floats, generic files write whatever the harness had). They are read the
way Inspect's own `value_to_float()` reads them (`inspect_ai/scorer/_metric.py`):

| value | `value` | `correct` |
| --- | --- | --- |
| `"C"` | 1.0 | True |
| `"I"` | 0.0 | False |
| `"P"` | 0.5 | None |
| `"N"` (no answer / refusal) | 0.0 | False |
| `"yes"`, `"true"` (any case) | 1.0 | True |
| `"no"`, `"false"` (any case) | 0.0 | False |
| a string holding a finite number, e.g. `"0.25"` | that number | as for numbers |
| True / False | 1.0 / 0.0 | True / False |
| a finite int or float | itself | True for exactly 1, False for exactly 0, else None |
| NaN, Infinity, None | None | None |
| any other string, a list | None | None |

Letters are case-sensitive (as in Inspect: `"c"` is not correct). Inspect reads unknown strings
as 0 with a warning; we read them as "no number" (None) instead of inventing a zero.

A dict value (a scorer that returns several named values, like the fixture's `behaviour`
scorer with `{"answered": 1, "refused": 0}`) becomes one score per key, named by the key: that is
how Inspect names the matching `results.scores[]` entries (`EvalScore.name` = the key,
`EvalScore.scorer` = the scorer), so a sample's score names match `MetricRow.name`.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import orjson

from .base import LogFormatError, SampleScore

_LETTERS: dict[str, tuple[float, bool | None]] = {
    "C": (1.0, True),
    "I": (0.0, False),
    "P": (0.5, None),
    "N": (0.0, False),
}
_WORDS: dict[str, tuple[float, bool]] = {
    "yes": (1.0, True),
    "true": (1.0, True),
    "no": (0.0, False),
    "false": (0.0, False),
}

RAW_MAX_BYTES = 1024  # a score's `raw` bigger than this is replaced by a marker
RAW_MAX_DEPTH = 20
DEFAULT_MAX_DEPTH = 200


# -- JSON safety -------------------------------------------------------------------------------


def clean_float(value: Any) -> float | None:
    """A finite float, or None for NaN, +-Infinity, None and anything that is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | Decimal):
        try:
            value = float(value)
        except (OverflowError, ValueError):
            return None
        return value if math.isfinite(value) else None
    return None


def _clean_str(text: str) -> str:
    # PostgreSQL text/jsonb reject NUL, and lone surrogates (from "\ud800" escapes) cannot be
    # encoded as UTF-8 at all
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def json_safe(obj: Any, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """A copy of `obj` that any JSON encoder, PostgreSQL `jsonb` included, accepts.

    NaN and +-Infinity become None, Decimals floats, tuples lists, dict keys strings, NUL
    characters U+FFFD; other objects their `str()`. Nesting deeper than `max_depth` raises
    `LogFormatError`.
    """
    return _safe(obj, max_depth, 0)


def _safe(obj: Any, max_depth: int, depth: int) -> Any:
    if obj is None or obj is True or obj is False:
        return obj
    kind = type(obj)
    if kind is str:
        return _clean_str(obj)
    if kind is int:
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else None
    if kind is dict or kind is list or kind is tuple:
        if depth >= max_depth:
            raise LogFormatError(
                f"The log nests JSON deeper than {max_depth} levels (limit max_json_depth)."
            )
        if kind is dict:
            return {
                (_clean_str(k) if type(k) is str else str(k)): _safe(v, max_depth, depth + 1)
                for k, v in obj.items()
            }
        return [_safe(v, max_depth, depth + 1) for v in obj]
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float | Decimal):
        return clean_float(obj)
    if isinstance(obj, str):
        return _clean_str(str(obj))
    if isinstance(obj, dict):
        return _safe(dict(obj), max_depth, depth)
    if isinstance(obj, list | tuple):
        return _safe(list(obj), max_depth, depth)
    return _clean_str(str(obj))


def encoded_size(obj: Any) -> int:
    """Bytes of `obj` as compact JSON (obj must already be JSON-safe)."""
    try:
        return len(orjson.dumps(obj))
    except (TypeError, orjson.JSONEncodeError):  # ints beyond 64 bits
        return len(str(obj))


def removed(size: int) -> str:
    return f"(value removed: {size:,} bytes)"


def small_dict(
    obj: Any,
    *,
    max_bytes: int = 4096,
    max_value_bytes: int = 1024,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> dict[str, Any]:
    """A JSON-safe dict of at most about `max_bytes`: values above `max_value_bytes` are replaced
    by a "(value removed: N bytes)" marker (as Inspect thins its summaries); keys past the
    budget are dropped and counted under "(keys removed)". A non-dict becomes {"value": obj}."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        obj = {"value": obj}
    out: dict[str, Any] = {}
    budget = max_bytes
    dropped = 0
    for key, value in obj.items():
        key = _clean_str(key) if isinstance(key, str) else str(key)
        value = json_safe(value, max_depth=max_depth)
        size = encoded_size(value)
        if size > max_value_bytes:
            value = removed(size)
            size = len(value) + 2
        size += len(key) + 4
        if size > budget:
            dropped += 1
            continue
        budget -= size
        out[key] = value
    if dropped:
        out["(keys removed)"] = dropped
    return out


def clip(text: Any, limit: int = 10_000) -> str:
    """A clean string of at most `limit` characters ("" for None)."""
    if text is None:
        return ""
    text = _clean_str(text if isinstance(text, str) else str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- scores ------------------------------------------------------------------------------------


def _number(value: float) -> SampleScore:
    if not math.isfinite(value):
        return SampleScore(None, None, None)
    correct = True if value == 1 else False if value == 0 else None
    return SampleScore(value, correct, None)


def _raw(value: Any) -> Any:
    if isinstance(value, str):
        safe: Any = _clean_str(value)
    else:
        try:
            safe = json_safe(value, max_depth=RAW_MAX_DEPTH)
        except LogFormatError:
            return "(value removed: nested too deeply)"
    size = encoded_size(safe)
    return safe if size <= RAW_MAX_BYTES else removed(size)


# The common readings, built once: a 10,000-sample log has tens of thousands of scores.
_EMPTY = SampleScore(None, None, None)
_LETTER_SCORES = {
    letter: SampleScore(number, correct, letter) for letter, (number, correct) in _LETTERS.items()
}
_BOOL_SCORES = {True: SampleScore(1.0, True, True), False: SampleScore(0.0, False, False)}


def normalize_value(value: Any) -> SampleScore:
    """Read one scalar score value (see the module docstring for the table)."""
    if value is None:
        return _EMPTY
    if value is True or value is False:
        return _BOOL_SCORES[value]
    if type(value) is str and value in _LETTER_SCORES:
        return _LETTER_SCORES[value]
    if (type(value) is float and math.isfinite(value)) or (
        type(value) is int and -(2**53) <= value <= 2**53
    ):
        correct = True if value == 1 else False if value == 0 else None
        return SampleScore(float(value), correct, value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = clean_float(value)
        if number is None:
            return _EMPTY
        reading = _number(number)
        return SampleScore(reading.value, reading.correct, _raw(value))
    if isinstance(value, str):
        raw = _raw(value)
        letter = _LETTERS.get(value)
        if letter is not None:
            return SampleScore(letter[0], letter[1], raw)
        word = _WORDS.get(value.strip().lower())
        if word is not None:
            return SampleScore(word[0], word[1], raw)
        try:
            number = float(value)
        except ValueError:
            return SampleScore(None, None, raw)
        if not math.isfinite(number):  # "nan", "inf" are not finite numbers
            return SampleScore(None, None, raw)
        reading = _number(number)
        return SampleScore(reading.value, reading.correct, raw)
    # lists (and nested dicts inside a dict value): no single number
    return SampleScore(None, None, _raw(value))


def normalize_score(scorer: str, value: Any) -> list[tuple[str, SampleScore]]:
    """The (name, score) pairs one scorer's value yields: one pair named after the scorer, or
    one per key for a dict value (named by the key, like Inspect's `EvalScore.name`)."""
    if isinstance(value, dict):
        return [(str(key), normalize_value(item)) for key, item in value.items()]
    return [(scorer, normalize_value(value))]


def add_scores(scores: dict[str, SampleScore], scorer: str, value: Any) -> None:
    """Add one scorer's reading to a sample's `scores`. A dict key that collides with a name
    already present (Inspect leaves this case open) is stored as "<scorer>/<key>"."""
    for name, score in normalize_score(scorer, value):
        if name in scores:
            name = f"{scorer}/{name}"
        scores[name] = score
