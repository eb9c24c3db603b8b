"""One sample of an Inspect log read back on demand, for a reviewer to read what the model did.

Ingestion keeps only each sample's id, epoch, scores, error and metadata; the transcript (the
input, the messages, the output, the scorers' answers and explanations) stays in the stored
log. `read_inspect_sample` reads exactly one sample from it: one ZIP member of a `.eval`, or
the `samples` array of a `.json` streamed one sample at a time until the one asked for.
`transcript_from_sample` turns Inspect's `EvalSample` dict into plain data for a page.

Inspect moves long strings out of messages into the sample's `attachments`, leaving
`attachment://<hash>` in their place; they are put back here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import inspect_eval, inspect_json
from ._json import JsonTextReader
from .base import DEFAULT_LIMITS, Limits, LogFormatError
from .scores import clip, json_safe

ATTACHMENT_PREFIX = "attachment://"
TEXT_LIMIT = 200_000  # characters of one message part shown; the log has the rest


class TranscriptTooLarge(LogFormatError):
    """The sample is larger than a page may read; the reviewer downloads the log instead."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    function: str
    arguments: str  # pretty-printed JSON
    error: str = ""


@dataclass(frozen=True)
class ContentPart:
    kind: str  # "text", "reasoning", or what else Inspect names (image, audio, …)
    text: str


@dataclass(frozen=True)
class Message:
    role: str  # system, user, assistant, tool
    parts: list[ContentPart]
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str = ""
    function: str = ""  # of a tool result: the tool that ran
    error: str = ""  # of a tool result: the tool's error


@dataclass(frozen=True)
class ScoreDetail:
    name: str
    value: str  # as the scorer gave it (JSON for dicts and lists)
    answer: str
    explanation: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Transcript:
    sample_id: str
    epoch: int
    input: list[Message]
    target: list[str]
    messages: list[Message]
    output: str
    scores: list[ScoreDetail]
    metadata: dict[str, Any]
    error: str
    traceback: str


def read_inspect_sample(
    path: str | Path,
    fmt: str,
    *,
    sample_id: str,
    epoch: int,
    max_bytes: int,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any] | None:
    """The raw `EvalSample` dict of one sample × epoch of an Inspect log, or None when the log
    has no such sample. `TranscriptTooLarge` when the sample is over `max_bytes`."""
    if fmt == "inspect_eval":
        return _from_eval(Path(path), sample_id, epoch, max_bytes, limits)
    if fmt == "inspect_json":
        return _from_json(Path(path), sample_id, epoch, max_bytes, limits)
    raise LogFormatError(f"A {fmt} log carries no transcripts.")


def _too_large(size: int, max_bytes: int) -> TranscriptTooLarge:
    return TranscriptTooLarge(
        f"This sample is {size:,} bytes, more than the {max_bytes:,} a page shows; download the"
        " original log to read it."
    )


def _from_eval(path: Path, sample_id: str, epoch: int, max_bytes: int, limits: Limits):
    archive = inspect_eval.EvalArchive(path, limits)
    # Inspect names each sample's member `samples/<id>_epoch_<epoch>.json`.
    info = archive.members.get(f"{inspect_eval.SAMPLES_PREFIX}{sample_id}_epoch_{epoch}.json")
    if info is None:
        return None
    if info.file_size > max_bytes:
        raise _too_large(info.file_size, max_bytes)
    with open(path, "rb") as fh:
        sample = archive.read_json(fh, info.filename)
    return sample if _is(sample, sample_id, epoch) else None


def _from_json(path: Path, sample_id: str, epoch: int, max_bytes: int, limits: Limits):
    with open(path, "rb") as fh:
        reader = JsonTextReader(
            fh, what=inspect_json.WHAT, max_value_chars=min(max_bytes, limits.max_member_bytes)
        )
        try:
            for key in reader.iter_object():
                if key != "samples":
                    reader.skip()
                    continue
                if reader.peek() == "n":
                    return None
                for sample in reader.iter_array():
                    if _is(sample, sample_id, epoch):
                        return sample
                return None
        except LogFormatError as exc:
            if "(limit max_member_bytes)" in str(exc):  # this sample, or one before it
                raise TranscriptTooLarge(
                    f"A sample of this log is larger than the {max_bytes:,} characters a page"
                    " reads; download the original log to read it."
                ) from None
            raise
    return None


def _is(sample: Any, sample_id: str, epoch: int) -> bool:
    return (
        isinstance(sample, dict)
        and str(sample.get("id")) == sample_id
        and sample.get("epoch", 1) == epoch
    )


# ---------------------------------------------------------------------------------------------
# EvalSample -> Transcript


def transcript_from_sample(sample: dict[str, Any]) -> Transcript:
    attachments = sample.get("attachments") if isinstance(sample.get("attachments"), dict) else {}

    def text(value: Any) -> str:
        if isinstance(value, str) and value.startswith(ATTACHMENT_PREFIX):
            value = attachments.get(value[len(ATTACHMENT_PREFIX) :], value)
        if value is None:
            return ""
        if not isinstance(value, str):
            value = json.dumps(json_safe(value), indent=2, ensure_ascii=False)
        return clip(value, TEXT_LIMIT)

    def parts(content: Any) -> list[ContentPart]:
        if isinstance(content, str):
            return [ContentPart("text", text(content))]
        found = []
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            kind = str(part.get("type") or "text")
            if kind == "text":
                found.append(ContentPart("text", text(part.get("text"))))
            elif kind == "reasoning":
                redacted = part.get("redacted") and not part.get("summary")
                body = "(redacted by the provider)" if redacted else part.get("reasoning")
                found.append(ContentPart("reasoning", text(part.get("summary") or body)))
            else:
                found.append(ContentPart(kind, f"[{kind} content, see the original log]"))
        return found

    def message(raw: Any) -> Message | None:
        if not isinstance(raw, dict):
            return None
        calls = []
        for call in raw.get("tool_calls") or []:
            if isinstance(call, dict):
                calls.append(
                    ToolCall(
                        id=clip(call.get("id"), 200),
                        function=clip(call.get("function"), 300),
                        arguments=text(call.get("arguments") or {}),
                        error=clip(call.get("parse_error"), 2000),
                    )
                )
        error = raw.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("type")
        return Message(
            role=clip(raw.get("role") or "?", 40),
            parts=parts(raw.get("content")),
            tool_calls=calls,
            tool_call_id=clip(raw.get("tool_call_id"), 200),
            function=clip(raw.get("function"), 300),
            error=clip(error, 10_000),
        )

    def messages(raw: Any) -> list[Message]:
        return [m for m in (message(r) for r in raw or [] if isinstance(raw, list)) if m]

    raw_input = sample.get("input")
    if isinstance(raw_input, list):
        input_messages = messages(raw_input)
    else:
        input_messages = [Message(role="user", parts=[ContentPart("text", text(raw_input))])]
    target = sample.get("target")
    targets = [text(t) for t in target] if isinstance(target, list) else [text(target)]

    output = sample.get("output") if isinstance(sample.get("output"), dict) else {}
    completion = output.get("completion")
    if not completion and output.get("choices"):
        first = output["choices"][0] if isinstance(output["choices"], list) else {}
        content = first.get("message", {}).get("content") if isinstance(first, dict) else None
        completion = "\n".join(p.text for p in parts(content))

    scores = []
    raw_scores = sample.get("scores") if isinstance(sample.get("scores"), dict) else {}
    if "score" in sample and not raw_scores:  # format version 1: a single score
        raw_scores = {"score": sample["score"]}
    for name, score in raw_scores.items():
        score = score if isinstance(score, dict) else {"value": score}
        value = score.get("value")
        scores.append(
            ScoreDetail(
                name=clip(name, 300),
                value=value if isinstance(value, str) else json.dumps(json_safe(value)),
                answer=text(score.get("answer")),
                explanation=text(score.get("explanation")),
                metadata=json_safe(score.get("metadata") or {}),
            )
        )

    error = sample.get("error")
    traceback = ""
    if isinstance(error, dict):
        traceback = text(error.get("traceback"))
        error = error.get("message") or "error"
    metadata = sample.get("metadata")
    return Transcript(
        sample_id=clip(sample.get("id"), 400),
        epoch=sample.get("epoch", 1) if isinstance(sample.get("epoch"), int) else 1,
        input=input_messages,
        target=[t for t in targets if t],
        messages=messages(sample.get("messages")),
        output=text(completion),
        scores=scores,
        metadata=json_safe(metadata) if isinstance(metadata, dict) else {},
        error=text(error),
        traceback=traceback,
    )
