"""JSON decoding shared by the parsers: strict and fast first, tolerant of Python's NaN second.

Two tools:

* `loads(data)` for one complete document held in memory (a zip member, a JSONL line, a small
  results file). It tries orjson (fast; rejects `NaN`/`Infinity`, numbers beyond a double,
  nesting deeper than 1024) and falls back to the standard library, which accepts what Python's
  own `json.dumps` writes (`NaN`, `Infinity`, `1e400`). Every failure becomes a `LogFormatError`.
* `JsonTextReader` for documents too big to hold: it walks one top-level object key by key and
  decodes one value at a time with the standard library's C decoder (`raw_decode`), so a
  200 MB Inspect `.json` log is never in memory at once and bare `NaN` tokens are fine (ijson,
  the usual streaming choice, rejects them in every backend as of 3.6).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

from .base import LogFormatError

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _too_deep(what: str) -> LogFormatError:
    return LogFormatError(
        f"{what} is nested too deeply (more than the JSON decoder's limit of about 1,000 levels);"
        " this is not an evaluation log."
    )


def loads(data: bytes, *, what: str) -> Any:
    """Decode one JSON document; `what` names it in error messages ("header.json", "line 7")."""
    if data[:3] == codecs.BOM_UTF8:
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LogFormatError(
            f"{what} is not valid UTF-8 text (bad byte at offset {exc.start})."
        ) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise _too_deep(what) from None
    except json.JSONDecodeError as exc:
        raise LogFormatError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None


class JsonTextReader:
    """Streams a JSON document from a binary file as text, one value at a time.

    Only what the caller asks for is decoded; `max_value_chars` caps any single decoded value
    (a sample of an Inspect `.json` log) so hostile input cannot make us buffer the whole file.
    """

    def __init__(
        self,
        fh: IO[bytes],
        *,
        what: str,
        max_value_chars: int,
        max_total_chars: int | None = None,
        chunk_bytes: int = 1 << 20,
    ) -> None:
        self._fh = fh
        self._what = what
        self._max_value = max_value_chars
        self._max_total = max_total_chars
        self._chunk = chunk_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._bytes_read = 0
        self._dropped = 0  # characters discarded before self._buf
        self._buf = ""
        self._pos = 0
        self._eof = False

    # -- buffer -------------------------------------------------------------------------------

    @property
    def offset(self) -> int:
        """Characters consumed so far (for error messages)."""
        return self._dropped + self._pos

    def _fill(self, want: int | None = None) -> bool:
        """Append at least one more chunk to the buffer; False at end of file."""
        if self._eof:
            return False
        if self._max_total is not None and self._dropped + len(self._buf) >= self._max_total:
            raise Exhausted
        raw = self._fh.read(max(self._chunk, want or 0))
        final = not raw
        try:
            text = self._utf8.decode(raw, final)
        except UnicodeDecodeError as exc:
            raise LogFormatError(
                f"{self._what} is not valid UTF-8 text"
                f" (bad byte near offset {self._bytes_read + exc.start})."
            ) from None
        if not self._bytes_read and text.startswith("\ufeff"):
            text = text[1:]  # a UTF-8 byte order mark is not JSON, but harmless
        self._bytes_read += len(raw)
        if final:
            self._eof = True
        self._dropped += self._pos
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return not final or bool(text)

    def _skip_ws(self) -> None:
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()
            if self._pos < len(self._buf) or not self._fill():
                return

    def peek(self) -> str:
        """The next non-blank character, "" at end of input."""
        self._skip_ws()
        return self._buf[self._pos] if self._pos < len(self._buf) else ""

    def expect(self, chars: str) -> str:
        ch = self.peek()
        if not ch or ch not in chars:
            found = repr(ch) if ch else "the end of the file"
            wanted = " or ".join(repr(c) for c in chars)
            raise LogFormatError(
                f"{self._what} is not valid JSON: expected {wanted} but found {found}"
                f" at character {self.offset} (the file may be truncated)."
            )
        self._pos += 1
        return ch

    def at_end(self) -> bool:
        return self.peek() == ""

    # -- values -------------------------------------------------------------------------------

    def value(self) -> Any:
        """Decode the next JSON value (NaN/Infinity allowed)."""
        self._skip_ws()
        want = None
        while True:
            try:
                obj, end = _DECODER.raw_decode(self._buf, self._pos)
            except RecursionError:
                raise _too_deep(self._what) from None
            except json.JSONDecodeError as exc:
                # the value may just continue past the buffer: an error at its very end, or an
                # unterminated string (reported where the string starts); anything else is a
                # real syntax error, reported now rather than after buffering more input
                incomplete = exc.pos >= len(self._buf) - 64 or exc.msg.startswith("Unterminated")
                if self._eof or not incomplete:
                    truncated = " (the file may be truncated)" if self._eof and incomplete else ""
                    raise LogFormatError(
                        f"{self._what} is not valid JSON: {exc.msg} at character"
                        f" {self._dropped + exc.pos}{truncated}."
                    ) from None
            else:
                # a number (or true/false/null) touching the end of the buffer may continue
                # in the next chunk: only trust it once more input (or EOF) follows
                if end - self._pos > self._max_value:
                    raise self._too_big()
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return obj
            pending = len(self._buf) - self._pos
            if pending > self._max_value:
                raise self._too_big()
            want = max(pending, want or 0)  # grow geometrically: linear total work
            self._fill(want)

    def _too_big(self) -> LogFormatError:
        return LogFormatError(
            f"{self._what} holds a single JSON value larger than"
            f" {self._max_value:,} characters (limit max_member_bytes)."
        )

    def iter_object(self) -> Iterator[str]:
        """Yield the keys of the object at the cursor; the caller must consume each value
        (with `value()`, `skip()` or `iter_array()`) before asking for the next key."""
        self.expect("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise LogFormatError(
                    f"{self._what} is not valid JSON: object key expected at character"
                    f" {self.offset}."
                )
            self.expect(":")
            yield key
            if self.expect(",}") == "}":
                return

    def iter_array(self) -> Iterator[Any]:
        """Yield the decoded items of the array at the cursor, one at a time."""
        self.expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            if self.expect(",]") == "]":
                return

    def skip(self) -> None:
        """Consume the next value without keeping it (arrays item by item)."""
        if self.peek() == "[":
            for _ in self.iter_array():
                pass
        elif self.peek() == "{":
            for _ in self.iter_object():
                self.skip()
        else:
            self.value()


class Exhausted(Exception):
    """Raised by JsonTextReader when a sniffing budget (`max_total_chars`) is spent."""
