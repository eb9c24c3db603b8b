"""Upload new evaluation logs from a harness machine to a safety-case tracker.

Standalone (Python standard library only), so it runs wherever the harness runs:

    python -m evidence.push LOGDIR --url https://cases.example.org --token TOKEN [--watch]

Every log in LOGDIR (Inspect `*.eval`/`*.json`, lm-evaluation-harness `results_*.json` and
`samples_*.jsonl`, generic run files) that was not pushed before is POSTed to
`<url>/api/v1/runs/`. What was pushed is remembered by sha256 in LOGDIR/.safetycase-pushed.json,
so running it again (or with --watch) uploads only new files; the server is idempotent too.
Inspect writes a log in place while it runs, so files changed in the last few seconds wait for
the next pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

STATE_FILE = ".safetycase-pushed.json"
PATTERNS = ("*.eval", "*.json", "*.jsonl")
SETTLE_SECONDS = 5.0


def candidate_logs(log_dir: Path) -> list[Path]:
    found = {p for pattern in PATTERNS for p in log_dir.rglob(pattern) if p.is_file()}
    found = {p for p in found if p.name != STATE_FILE and not p.name.startswith(".")}
    # Results before samples, so a samples file finds its results run on the server.
    return sorted(found, key=lambda p: (p.name.startswith("samples_"), str(p)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def upload(path: Path, *, url: str, token: str, metadata: dict | None = None) -> tuple[int, dict]:
    """POST one file as multipart field `file`, streamed from disk; returns (status, JSON body)."""
    boundary = uuid.uuid4().hex
    head = b""
    if metadata:
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            f"{json.dumps(metadata)}\r\n"
        ).encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as handle:
            yield from iter(lambda: handle.read(1 << 20), b"")
        yield tail

    request = urllib.request.Request(
        url.rstrip("/") + "/api/v1/runs/",
        data=body(),
        method="POST",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.load(exc)
        except ValueError:
            return exc.code, {"detail": exc.reason}


def push_once(log_dir: Path, *, url: str, token: str, metadata: dict | None = None) -> int:
    """Upload every new, settled log once. Returns the number of files that failed."""
    state_path = log_dir / STATE_FILE
    pushed = json.loads(state_path.read_text()) if state_path.exists() else {}
    failures = 0
    for path in candidate_logs(log_dir):
        if time.time() - path.stat().st_mtime < SETTLE_SECONDS:
            continue  # still being written
        digest = sha256_of(path)
        if digest in pushed:
            continue
        status, body = upload(path, url=url, token=token, metadata=metadata)
        if status in (200, 202):
            pushed[digest] = {"file": str(path.relative_to(log_dir)), "run": body.get("id")}
            state_path.write_text(json.dumps(pushed, indent=1, sort_keys=True))
            print(f"{path}: run {body.get('id')} {body.get('status')}")
        elif status == 422:  # stored but unreadable: do not resend it
            pushed[digest] = {"file": str(path.relative_to(log_dir)), "run": body.get("id")}
            state_path.write_text(json.dumps(pushed, indent=1, sort_keys=True))
            print(f"{path}: run {body.get('id')} failed: {body.get('error')}", file=sys.stderr)
            failures += 1
        else:
            print(f"{path}: upload refused ({status}): {body.get('detail', body)}", file=sys.stderr)
            failures += 1
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evidence.push", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("log_dir", type=Path, metavar="LOGDIR")
    parser.add_argument("--url", required=True, help="Base URL of the tracker.")
    parser.add_argument("--token", required=True, help="API token with the ingest permission.")
    parser.add_argument("--metadata", default="", help="JSON object sent with every upload.")
    parser.add_argument("--watch", action="store_true", help="Keep watching for new logs.")
    parser.add_argument("--interval", type=float, default=10.0, help="Seconds between passes.")
    args = parser.parse_args(argv)
    if not args.log_dir.is_dir():
        parser.error(f"{args.log_dir} is not a directory")
    metadata = json.loads(args.metadata) if args.metadata else None
    failures = push_once(args.log_dir, url=args.url, token=args.token, metadata=metadata)
    while args.watch:
        time.sleep(args.interval)
        failures = push_once(args.log_dir, url=args.url, token=args.token, metadata=metadata)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
