"""Upload new evaluation logs from a harness machine to a safety-case tracker.

Standalone (Python standard library only), so it runs wherever the harness runs:

    python -m evidence.push LOGDIR --url https://cases.example.org --token TOKEN [--watch]

Every log in LOGDIR (Inspect `*.eval`/`*.json`, lm-evaluation-harness `results_*.json` and
`samples_*.jsonl`, generic run files) that was not pushed before is POSTed to
`<url>/api/v1/runs/`, and the run is followed until the server has ingested it or says why it
failed. LOGDIR may also be an fsspec URL (`s3://bucket/logs`, `file:///data/logs`) when
`fsspec` (and for S3 `s3fs`) is installed.

- Logs still being written wait for a later pass: files changed in the last few seconds, an
  Inspect `.eval` without its `header.json` (or with status `started`), an Inspect `.json` with
  `"status": "started"`. Inspect's `eval-set.json` and `logs.json`, hidden files and files that
  are no log are never sent.
- Connection errors, 5xx answers and 429 (honouring `Retry-After`) are retried with exponential
  backoff; 401/403 stop at once with a sentence (a bad token retried would only lock the
  address out).
- What was sent is remembered by sha256 in LOGDIR/.safetycase-pushed.json (for a URL, in
  ~/.cache/safetycase/; `--state` picks the file), so running it again, or `--watch`, sends
  only new logs; a log the server could not be reached for is tried again on the next pass.
- The exit status is 1 when any log ended failed (or was refused, or the server could not be
  reached), 0 otherwise. `--dry-run` lists what would be sent and why the rest is skipped.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

STATE_FILE = ".safetycase-pushed.json"
# Files Inspect keeps beside its logs that are not logs themselves.
NOT_LOGS = frozenset({"eval-set.json", "logs.json"})
SETTLE_SECONDS = 5.0
SNIFF_BYTES = 1 << 20  # how far into a .json file the top-level keys are looked for
IN_PROGRESS = frozenset({"queued", "parsing"})
MAX_RETRY_AFTER = 600.0  # a longer wait asked by the server ends this attempt instead


class Stop(Exception):
    """The server refused the token or account: nothing more can be sent with it."""


class Unreachable(Exception):
    """The server could not be reached, or kept answering 5xx/429, after every retry."""


# --------------------------------------------------------------------------------------------
# Where the logs are: a local directory, or an fsspec URL


@dataclass(frozen=True)
class Entry:
    name: str  # path relative to the log directory, with "/"
    size: int
    mtime: float


class LocalLogs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def entries(self) -> list[Entry]:
        found = []
        for path in self.root.rglob("*"):
            if path.is_file():
                stat = path.stat()
                found.append(
                    Entry(path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime)
                )
        return found

    @contextmanager
    def local_copy(self, entry: Entry) -> Iterator[Path]:
        yield self.root / entry.name

    def default_state(self) -> Path:
        return self.root / STATE_FILE


class FsspecLogs:
    """A log directory anywhere fsspec reaches (s3://, gs://, file://, ...), read lazily."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError as exc:
            raise SystemExit(
                f"Reading {url} needs fsspec (and s3fs for s3:// URLs): "
                "pip install 'fsspec' 's3fs', or give a local directory."
            ) from exc
        self.url = url.rstrip("/")
        self.where = self.url
        self.fs, root = fsspec.core.url_to_fs(self.url)
        self.root = root.rstrip("/")

    def entries(self) -> list[Entry]:
        found = []
        for path, info in self.fs.find(self.root, detail=True).items():
            if info.get("type", "file") != "file":
                continue
            name = path[len(self.root) :].lstrip("/")
            found.append(Entry(name, int(info.get("size") or 0), _mtime(info)))
        return found

    @contextmanager
    def local_copy(self, entry: Entry) -> Iterator[Path]:
        """The file downloaded once into a temporary file (checked, hashed and sent from it)."""
        suffix = Path(entry.name).suffix
        with tempfile.TemporaryDirectory(prefix="safetycase-push-") as tmp:
            target = Path(tmp) / ("log" + suffix)
            with (
                self.fs.open(f"{self.root}/{entry.name}", "rb") as source,
                target.open("wb") as out,
            ):
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            yield target

    def default_state(self) -> Path:
        protocols = self.fs.protocol
        if "file" in (protocols if isinstance(protocols, tuple) else (protocols,)):
            return Path(self.root) / STATE_FILE
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return Path.home() / ".cache" / "safetycase" / f"push-{digest}.json"


def _mtime(info: dict) -> float:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "timestamp"):
            return value.timestamp()
        try:
            return email.utils.parsedate_to_datetime(str(value)).timestamp()
        except (TypeError, ValueError):
            pass
    return 0.0


def open_logs(where: str) -> LocalLogs | FsspecLogs:
    if "://" in where:
        return FsspecLogs(where)
    return LocalLogs(Path(where))


# --------------------------------------------------------------------------------------------
# Which files are logs, and which are settled


def log_kind(name: str) -> str | None:
    """A first sort by name: "eval", "json" (to be sniffed), "samples", or None for no log."""
    parts = name.split("/")
    base = parts[-1]
    if any(part.startswith(".") for part in parts) or base in NOT_LOGS:
        return None
    if base.endswith(".eval"):
        return "eval"
    if base.endswith(".json"):
        return "json"
    if base.endswith(".jsonl") and base.startswith("samples_"):
        return "samples"
    return None


def unsettled_reason(path: Path, kind: str, name: str) -> str | None:
    """Why this log is not ready to send (still being written, or not a log), or None."""
    if kind == "eval":
        try:
            with zipfile.ZipFile(path) as archive:
                if "header.json" not in archive.namelist():
                    return "still being written (no header.json yet)"
                header = _read_member(path, archive, "header.json")
        except (zipfile.BadZipFile, OSError, ValueError):
            return "still being written (not a complete .eval archive yet)"
        if isinstance(header, dict) and header.get("status") == "started":
            return "still running (status started)"
        return None
    if kind == "json":
        keys = top_level_strings(path)
        if keys.get("status") == "started" and "eval" in keys:
            return "still running (status started)"
        base = name.rsplit("/", 1)[-1]
        is_inspect = {"version", "eval"} <= keys.keys()
        is_lm_eval = base.startswith("results_") or (
            "results" in keys and keys.keys() & {"configs", "config", "versions"}
        )
        is_generic = str(keys.get("format", "")).startswith("safetycase.generic/")
        if not (is_inspect or is_lm_eval or is_generic):
            return "not a log (no keys of an Inspect, lm-evaluation-harness or generic log)"
    return None


ZSTD = 93  # the zip compression method of recent Inspect .eval logs


def _read_member(path: Path, archive: zipfile.ZipFile, name: str) -> Any:
    """A JSON member of the archive, or None when its compression cannot be read here.

    Recent Inspect versions compress members with zstd, which the standard library reads only
    from Python 3.14; the `zstandard` module is used when installed. Inspect writes
    header.json only when a log is finished, so its presence alone is the fallback.
    """
    info = archive.getinfo(name)
    if info.compress_type != ZSTD or sys.version_info >= (3, 14):
        try:
            return json.loads(archive.read(name))
        except NotImplementedError:
            return None
    try:
        import zstandard
    except ImportError:
        return None
    with path.open("rb") as handle:
        handle.seek(info.header_offset + 26)
        name_length, extra_length = (
            int.from_bytes(handle.read(2), "little"),
            int.from_bytes(handle.read(2), "little"),
        )
        handle.seek(name_length + extra_length, os.SEEK_CUR)
        data = handle.read(info.compress_size)
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    return json.loads(reader.read())


def top_level_strings(path: Path, limit: int = SNIFF_BYTES) -> dict[str, Any]:
    """The top-level keys of a JSON object found in its first `limit` bytes, with their values
    when those are strings (else None). Nested values are skipped, not parsed."""
    with path.open("rb") as handle:
        text = handle.read(limit).decode("utf-8", errors="replace")
    found: dict[str, Any] = {}
    i = text.find("{")
    if i < 0:
        return found
    depth, expect_key, key, n = 0, False, None, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            if end < 0:
                break
            if depth == 1:
                try:
                    value = json.loads(text[i : end + 1])
                except ValueError:
                    value = None
                if expect_key:
                    key, expect_key = value, False
                    found.setdefault(key, None)
                elif key is not None:
                    found[key] = value
                    key = None
            i = end + 1
            continue
        if char in "{[":
            depth += 1
            if depth == 1:
                expect_key = True
        elif char in "}]":
            depth -= 1
            if depth == 0:
                break
        elif char == "," and depth == 1:
            expect_key, key = True, None
        elif char == ":" and depth == 1:
            pass
        i += 1
    return found


def _string_end(text: str, start: int) -> int:
    i = start + 1
    while True:
        i = text.find('"', i)
        if i < 0:
            return -1
        backslashes = 0
        while text[i - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return i
        i += 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Talking to the server


@dataclass
class Client:
    url: str
    token: str
    retries: int = 5
    backoff: float = 1.0
    poll_timeout: float = 300.0
    sleep: Any = time.sleep

    def request(
        self, method: str, url: str, *, body=None, headers=None, what: str
    ) -> tuple[int, dict]:
        """One request with retries on connection errors, 5xx and 429; Stop on 401/403."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            problem, wait = self._attempt(method, url, body, headers, what)
            if isinstance(problem, tuple):
                return problem
            if attempt == self.retries:
                raise Unreachable(problem)
            self.sleep(wait if wait is not None else delay)
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    def _attempt(self, method, url, body, headers, what):
        request = urllib.request.Request(
            url,
            data=body() if callable(body) else body,
            method=method,
            headers={
                "Authorization": f"Token {self.token}",
                "Accept": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return (response.status, _json_body(response)), None
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, _json_body(exc)
            detail = answer.get("detail") or exc.reason
            if status in (401, 403):
                raise Stop(
                    f"{what} refused ({status}): {detail} Stopped: check --token and that its "
                    "account may upload logs; nothing more is sent with it, since retrying a "
                    "bad token would only get this address locked out."
                ) from None
            if status == 429 or status >= 500:
                wait = _retry_after(exc.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise Unreachable(
                        f"{what} answered {status}, and the server asks to wait {wait:.0f} s: "
                        f"{detail}"
                    ) from None
                return f"{what} answered {status}: {detail}", wait
            return (status, answer), None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"The server at {self.url} could not be reached ({reason}).", None

    def upload(self, path: Path, name: str, metadata: dict | None) -> tuple[int, dict]:
        """POST one file as multipart field `file`, streamed from disk."""
        boundary = uuid.uuid4().hex
        head = b""
        if metadata:
            head += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
                f"{json.dumps(metadata)}\r\n"
            ).encode()
        filename = name.rsplit("/", 1)[-1].replace('"', "_")
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            with path.open("rb") as handle:
                yield from iter(lambda: handle.read(1 << 20), b"")
            yield tail

        return self.request(
            "POST",
            self.url.rstrip("/") + "/api/v1/runs/",
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
            },
            what=f"{name}: upload",
        )

    def follow(self, run: dict) -> dict:
        """Poll the run's URL until it is no longer queued or parsing (bounded)."""
        deadline = time.monotonic() + self.poll_timeout
        delay = 0.5
        while run.get("status") in IN_PROGRESS and run.get("url"):
            if time.monotonic() >= deadline:
                run = {**run, "note": f"still {run['status']} after {self.poll_timeout:.0f} s"}
                break
            self.sleep(delay)
            delay = min(delay * 1.5, 5.0)
            try:
                status, answer = self.request(
                    "GET", run["url"], what=f"following run {run.get('id')}"
                )
            except Unreachable as exc:
                return {**run, "note": f"its outcome could not be followed: {exc}"}
            except Stop:
                return {
                    **run,
                    "note": "its outcome cannot be followed: the token may not read runs "
                    "(create it with the read scope too)",
                }
            if status != 200:
                return {**run, "note": f"cannot follow it ({status})"}
            run = answer
        return run


def _json_body(response: IO[bytes]) -> dict:
    try:
        value = json.load(response)
    except (ValueError, OSError):
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


# --------------------------------------------------------------------------------------------
# One pass over the log directory


@dataclass
class Pusher:
    logs: LocalLogs | FsspecLogs
    client: Client | None
    state_path: Path
    metadata: dict | None = None
    dry_run: bool = False
    reported: set[str] = field(default_factory=set)

    @property
    def out(self) -> IO[str]:
        return sys.stdout  # looked up when used, so redirections made later apply

    @property
    def err(self) -> IO[str]:
        return sys.stderr

    def load_state(self) -> dict:
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"sent": {}, "seen": {}}
        if "sent" not in state:  # the first format: sha256 -> record
            state = {"sent": state, "seen": {}}
        state.setdefault("seen", {})
        return state

    def save_state(self, state: dict) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, self.state_path)

    def note(self, key: str, message: str) -> None:
        """A skip notice, said once per file and reason (watch mode passes over it again)."""
        if self.dry_run:
            self.out.write(f"skip {message}\n")
        elif key not in self.reported:
            self.reported.add(key)
            self.err.write(f"{message}\n")

    def push_once(self) -> int:
        """Send every new, settled log once. Returns how many ended failed or were not sent."""
        state = self.load_state()
        failures = 0
        now = time.time()
        entries = [(e, log_kind(e.name)) for e in self.logs.entries()]
        # lm-eval results before their samples, so a samples file finds its run on the server.
        entries.sort(key=lambda pair: (pair[1] == "samples", pair[0].name))
        for entry, kind in entries:
            shown = f"{self.logs.where}/{entry.name}"
            if kind is None:
                if entry.name.rsplit("/", 1)[-1] in NOT_LOGS:
                    self.note(f"{entry.name}:not-log", f"{shown}: not a log (written by Inspect)")
                continue
            seen = state["seen"].get(entry.name)
            if seen and seen[:2] == [entry.size, entry.mtime] and seen[2] in state["sent"]:
                continue  # unchanged since it was sent
            if now - entry.mtime < SETTLE_SECONDS:
                self.note(f"{entry.name}:unsettled", f"{shown}: still being written")
                continue
            with self.logs.local_copy(entry) as path:
                why = unsettled_reason(path, kind, entry.name)
                if why:
                    self.note(f"{entry.name}:unsettled", f"{shown}: {why}")
                    continue
                digest = sha256_of(path)
                state["seen"][entry.name] = [entry.size, entry.mtime, digest]
                if digest in state["sent"]:
                    continue
                if self.dry_run:
                    self.out.write(f"send {shown} ({entry.size:,} bytes)\n")
                    continue
                try:
                    status, body = self.client.upload(path, entry.name, self.metadata)
                except Unreachable as exc:
                    self.err.write(f"{shown}: not sent: {exc}\n")
                    failures += 1
                    raise _Interrupted(failures) from exc
            failed, record = self.report(shown, digest, status, body)
            failures += failed
            if record is not None:
                state["sent"][digest] = {"file": entry.name, **record}
                self.save_state(state)
        if not self.dry_run:
            self.save_state(state)
        return failures

    def report(self, shown: str, digest: str, status: int, body: dict) -> tuple[int, dict | None]:
        """Print the outcome of one upload; (failures, what to remember or None to retry)."""
        if status not in (200, 202, 422):
            detail = body.get("detail", body)
            self.err.write(f"{shown}: upload refused ({status}): {detail}\n")
            return 1, {"refused": status, "detail": str(detail)[:500]}
        runs = body.get("runs") or [body]
        failures = 0
        outcomes = []
        for run in runs:
            run = self.client.follow(run)
            run_status = run.get("status", "unknown")
            line = f"{shown}: run {run.get('id')} {run_status}"
            stored = (run.get("file") or {}).get("sha256")
            kept_another = status == 200 and stored and stored != digest and run.get("eval_id")
            if kept_another:
                # The server kept an earlier log with the same eval id (e.g. before re-scoring):
                # this file's content is not on the server.
                line += (
                    f" — not this file: the server already holds eval id {run['eval_id']} "
                    f"from {run['file'].get('name')} and kept that one"
                )
                run_status = "not ingested"
            elif status == 200:
                line += " (already uploaded)"
            if run.get("supersedes"):  # a re-scored log replacing an earlier run
                line += f" (supersedes run {run['supersedes']})"
            if run.get("superseded_at"):
                line += " (superseded since by a later log with the same eval id)"
            if run.get("error"):
                line += f": {run['error']}"
            if run.get("note"):
                line += f" ({run['note']})"
            bad = run_status == "failed" or bool(kept_another)
            failures += bad
            (self.err if bad else self.out).write(line + "\n")
            outcomes.append({"run": run.get("id"), "status": run_status})
        return failures, {"runs": outcomes}


class _Interrupted(Exception):
    """The server went away during a pass; the rest of the pass waits for the next one."""

    def __init__(self, failures: int) -> None:
        self.failures = failures


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evidence.push",
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 when every log was ingested or was already there; 1 otherwise.",
    )
    parser.add_argument("log_dir", metavar="LOGDIR", help="Directory, or fsspec URL (s3://...).")
    parser.add_argument("--url", help="Base URL of the tracker (required unless --dry-run).")
    parser.add_argument("--token", help="API token with the ingest permission.")
    parser.add_argument("--metadata", default="", help="JSON object sent with every upload.")
    parser.add_argument("--watch", action="store_true", help="Keep watching for new logs.")
    parser.add_argument("--interval", type=float, default=10.0, help="Seconds between passes.")
    parser.add_argument("--dry-run", action="store_true", help="List what would be sent.")
    parser.add_argument("--state", type=Path, help="File remembering what was sent.")
    parser.add_argument(
        "--retries",
        type=int,
        default=5,
        help="Retries of a request on connection errors, 5xx "
        "and 429 (default 5, with backoff 1, 2, 4, ... s).",
    )
    parser.add_argument("--backoff", type=float, default=1.0, help="First retry delay, seconds.")
    parser.add_argument(
        "--poll-timeout",
        type=float,
        default=300.0,
        help="Seconds to follow a run until it is ingested or failed (default 300).",
    )
    args = parser.parse_args(argv)
    if not args.dry_run and not (args.url and args.token):
        parser.error("--url and --token are required (or use --dry-run).")
    metadata = None
    if args.metadata:
        try:
            metadata = json.loads(args.metadata)
        except ValueError as exc:
            parser.error(f"--metadata is not valid JSON: {exc}.")
        if not isinstance(metadata, dict):
            parser.error("--metadata must be a JSON object.")
    try:
        logs = open_logs(args.log_dir)
    except SystemExit as exc:
        parser.error(str(exc))
    except Exception as exc:  # fsspec's own errors: a bad URL, missing credentials, ...
        parser.error(f"{args.log_dir} cannot be read: {exc}")
    if isinstance(logs, LocalLogs) and not logs.root.is_dir():
        parser.error(f"{args.log_dir} is not a directory.")
    client = None
    if args.url:
        client = Client(
            args.url,
            args.token or "",
            retries=max(0, args.retries),
            backoff=args.backoff,
            poll_timeout=args.poll_timeout,
        )
    pusher = Pusher(
        logs, client, args.state or logs.default_state(), metadata=metadata, dry_run=args.dry_run
    )
    try:
        return _run(pusher, watch=args.watch and not args.dry_run, interval=args.interval)
    except KeyboardInterrupt:
        return 130


def _run(pusher: Pusher, *, watch: bool, interval: float) -> int:
    while True:
        try:
            failures = pusher.push_once()
        except _Interrupted as exc:
            failures = exc.failures
            if watch:
                sys.stderr.write(f"Trying again in {interval:g} s.\n")
        except Stop as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        if not watch:
            return 1 if failures else 0
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main())
