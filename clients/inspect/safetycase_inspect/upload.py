"""POST one evaluation log to a safety-case tracker (standard library only).

The tracker's own push client (`python -m evidence.push`) does the same for whole directories;
this package cannot import it (it is installed on harness machines without the tracker), so the
few lines of streamed multipart upload live here too.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


class UploadError(Exception):
    """The log was not delivered; the message says why."""


@contextmanager
def open_log(location: str) -> Iterator[tuple[IO[bytes], int]]:
    """The log as a binary file and its size; `location` is a path or an fsspec URL (Inspect
    writes to S3 and other stores through fsspec, which it depends on)."""
    if "://" in location and not location.startswith("file://"):
        import fsspec

        with fsspec.open(location, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(0)
            yield handle, size
        return
    path = location.removeprefix("file://")
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        yield handle, size


def upload_log(
    location: str,
    *,
    url: str,
    token: str,
    metadata: dict[str, Any] | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Upload the log at `location`; returns the tracker's answer (run id, status, url).

    Connection errors, 5xx and 429 are retried with exponential backoff; 401/403 and other
    refusals raise UploadError at once.
    """
    name = location.rstrip("/").rsplit("/", 1)[-1]
    delay = backoff
    for attempt in range(retries + 1):
        try:
            return _post(location, name, url=url, token=token, metadata=metadata, timeout=timeout)
        except _Transient as exc:
            if attempt == retries:
                raise UploadError(str(exc)) from None
            time.sleep(exc.wait if exc.wait is not None else delay)
            delay *= 2
    raise AssertionError("unreachable")


class _Transient(Exception):
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def _post(location, name, *, url, token, metadata, timeout) -> dict[str, Any]:
    boundary = uuid.uuid4().hex
    head = b""
    if metadata:
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            f"{json.dumps(metadata)}\r\n"
        ).encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{name.replace(chr(34), "_")}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    with open_log(location) as (handle, size):

        def body():
            yield head
            yield from iter(lambda: handle.read(1 << 20), b"")
            yield tail

        request = urllib.request.Request(
            url.rstrip("/") + "/api/v1/runs/",
            data=body(),
            method="POST",
            headers={
                "Authorization": f"Token {token}",
                "Accept": "application/json",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return _json(response)
        except urllib.error.HTTPError as exc:
            answer = _json(exc)
            detail = answer.get("detail") or answer.get("error") or exc.reason
            if exc.code == 422:  # stored, but the tracker cannot read it: a failed run
                return answer
            if exc.code == 429 or exc.code >= 500:
                wait = exc.headers.get("Retry-After")
                raise _Transient(
                    f"the tracker answered {exc.code}: {detail}",
                    float(wait) if wait and wait.isdigit() else None,
                ) from None
            raise UploadError(f"the tracker refused it ({exc.code}): {detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise _Transient(
                f"the tracker at {url} could not be reached ({getattr(exc, 'reason', exc)})"
            ) from None


def _json(response: IO[bytes]) -> dict[str, Any]:
    try:
        value = json.load(response)
    except (ValueError, OSError):
        return {}
    return value if isinstance(value, dict) else {}
