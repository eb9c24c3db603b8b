"""Load test of a running server, over loopback only and bounded in count and time.

    .venv/bin/python bench/load.py --url http://127.0.0.1:8123 --token KEY --case ID \
        [--readers 200] [--uploads 50] [--time-limit 120]

Runs two bursts against the server at --url (which must be 127.0.0.1, ::1 or localhost: this
is not a tool for other people's servers):
  * readers - that many concurrent clients, each reading the case (`GET /api/v1/cases/ID/`)
              and its diagram (`GET /api/v1/cases/ID/diagram.svg`) once;
  * uploads - that many concurrent clients, each posting a small generic run log with its own
              eval id (`POST /api/v1/runs/`, the token needs the ingest permission).
and prints, per kind of request, the count, p50, p95 and max latency and the errors (any
status other than 2xx, or no answer). At most --readers × 2 + --uploads requests are made; a
request gives up after --request-timeout seconds and the whole run after --time-limit.

The token comes from `manage.py create_token USER --scopes read,ingest --ingest`; the user must
be able to read the case.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MAX_CLIENTS = 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8123")
    parser.add_argument("--token", required=True)
    parser.add_argument("--case", type=int, required=True, help="id of a case the token reads")
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--time-limit", type=float, default=300.0)
    args = parser.parse_args()

    target = urlsplit(args.url)
    if target.scheme != "http" or target.hostname not in LOOPBACK:
        parser.error("--url must be http:// on 127.0.0.1, ::1 or localhost (loopback only).")
    if not (0 <= args.readers <= MAX_CLIENTS and 0 <= args.uploads <= MAX_CLIENTS):
        parser.error(f"--readers and --uploads must be between 0 and {MAX_CLIENTS}.")
    client = Client(target.hostname, target.port or 80, args.token, args.request_timeout)
    deadline = time.monotonic() + args.time_limit

    case = f"/api/v1/cases/{args.case}/"
    readers = [
        lambda: (client.get("case", case), client.get("diagram", case + "diagram.svg"))
    ] * args.readers
    burst("readers", readers, deadline)
    uploads = [lambda: client.upload("upload")] * args.uploads
    burst("uploads", uploads, deadline)
    return client.report()


def burst(name: str, jobs, deadline: float) -> None:
    start = threading.Barrier(len(jobs) + 1) if jobs else None
    threads = [threading.Thread(target=_run, args=(job, start), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    if start is not None:
        start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = sum(thread.is_alive() for thread in threads)
    print(f"{name}: {len(jobs)} clients in {time.monotonic() - began:.2f} s", end="")
    print(f" ({alive} still waiting at the time limit)" if alive else "")


def _run(job, start: threading.Barrier) -> None:
    start.wait()
    job()


class Client:
    def __init__(self, host: str, port: int, token: str, timeout: float):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def get(self, kind: str, path: str) -> None:
        self._request(kind, "GET", path, None, {})

    def upload(self, kind: str) -> None:
        run_id = f"load-{uuid.uuid4()}"
        log = {
            "format": "safetycase.generic/1",
            "run": {"id": run_id, "harness": "bench", "status": "success"},
            "model": {"name": "example-model"},
            "task": {"name": "load_test"},
            "results": [{"scorer": "covert_action", "successes": 1, "trials": 100}],
        }
        boundary = uuid.uuid4().hex
        body = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{run_id}.json"\r\n'
            "Content-Type: application/json\r\n\r\n"
            f"{json.dumps(log)}\r\n--{boundary}--\r\n"
        ).encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        self._request(kind, "POST", "/api/v1/runs/", body, headers)

    def _request(self, kind: str, method: str, path: str, body, headers: dict) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.monotonic()
        try:
            connection.request(
                method, path, body=body, headers={"Authorization": f"Token {self.token}", **headers}
            )
            response = connection.getresponse()
            response.read()
            error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except OSError as exc:  # refused, reset, timed out
            error = type(exc).__name__
        finally:
            connection.close()
        elapsed = time.monotonic() - started
        with self.lock:
            self.latencies[kind].append(elapsed)
            if error:
                self.errors[kind].append(error)

    def report(self) -> int:
        print(f"{'request':<8} {'count':>6} {'p50 s':>8} {'p95 s':>8} {'max s':>8} errors")
        failed = 0
        for kind, values in self.latencies.items():
            values = sorted(values)
            p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
            errors = self.errors.get(kind, [])
            failed += len(errors)
            summary = ", ".join(f"{e} ×{errors.count(e)}" for e in sorted(set(errors))) or "0"
            print(
                f"{kind:<8} {len(values):>6} {statistics.median(values):>8.3f} {p95:>8.3f} "
                f"{values[-1]:>8.3f} {summary}"
            )
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
