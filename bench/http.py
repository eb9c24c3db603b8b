# ruff: noqa: E402
"""Read throughput of the production-like server: the diagram and the case page beside /healthz.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/http.py [--clients 200] [--requests 3000] [--duration 30]

Sets up the demo case in the PostgreSQL database of DATABASE_URL (migrate, the admin and a
reviewer account, `load_demo`; running it again reuses what is there), starts gunicorn as
docker-compose.yml's web service does (`gunicorn safetycase.wsgi --workers 3`, DEBUG off, Redis
as cache and broker) on a free loopback port, logs in as the reviewer and then, one endpoint
at a time, lets --clients concurrent clients read it until --requests answers or --duration
seconds, whichever comes first:
  * /healthz                          - the baseline: one database and one broker ping;
  * /api/v1/cases/ID/diagram.svg      - the argument as SVG;
  * /cases/ID/                        - the case page (HTML, the status-coloured diagram inline);
                                        after the first read, a session's page comes from the
                                        cache under its ETag while nothing changes;
  * /cases/ID/?unique=N               - the case page under a new URL each time: drawn anew
                                        on every read (a session's first view);
  * the diagram and the case page again, each client sending back the ETag it was given
    (If-None-Match), as a browser revalidating its copy does.
Clients send `Accept-Encoding: gzip` like a browser and do not decompress. It prints requests
per second, p50 and p95 latency per endpoint and each one's throughput as a ratio of /healthz's,
and the load average (the figures mean little on a busy machine). Loopback only; gunicorn is
stopped at the end. The issue's goal: diagram >= 0.5x and case page >= 0.3x /healthz.
"""

from __future__ import annotations

import os
import sys

# This file's name shadows the standard library's `http` package, which aiohttp and urllib
# import: its folder comes off the import path before they are imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import asyncio
import re
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MAX_CLIENTS = 1000
LOOPBACK = "127.0.0.1"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint, at most")
    parser.add_argument("--duration", type=float, default=30.0, help="per endpoint, at most (s)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (compose: 3)")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be between 1 and {MAX_CLIENTS}.")
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url.startswith("redis"):
        parser.error("Set DATABASE_URL (PostgreSQL) and REDIS_URL (a Redis database to use).")

    var_dir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",  # as in docker-compose.yml: TLS ends at the proxy
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=LOOPBACK,
        DATABASE_URL=database_url,
        CACHE_URL=redis_url,
        SAFETYCASE_VAR_DIR=str(var_dir),
        ADMIN_PASSWORD=secrets.token_urlsafe(16),
        LOG_LEVEL="WARNING",
        PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",
    )
    env.pop("CELERY_BROKER_URL", None)  # the demo's runs are ingested in this process
    for command in (
        ["migrate", "--noinput", "-v", "0"],
        ["create_signing_key", "--if-missing", "-v", "0"],
        ["setup_admin", "--reviewer", "reviewer", "-v", "0"],
        ["load_demo", "--reviewer", "reviewer", "-v", "0"],
    ):
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)
    password = _reviewer_password(var_dir, env)

    env["CELERY_BROKER_URL"] = redis_url
    port = _free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "safetycase.wsgi", "--workers", str(args.workers)]
        + ["--timeout", "120", "--bind", f"{LOOPBACK}:{port}"],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://{LOOPBACK}:{port}"
        _wait_for(base + "/healthz")
        return asyncio.run(_measure(base, password, args))
    finally:
        server.terminate()
        server.wait(timeout=30)


def _reviewer_password(var_dir: Path, env: dict[str, str]) -> str:
    """The reviewer's password: generated once by setup_admin into var/, or reset here when the
    account already existed in the database (an earlier run's var/ is gone)."""
    kept = var_dir / "reviewer-password"
    if kept.exists():
        return kept.read_text().strip()
    password = secrets.token_urlsafe(16)
    code = (
        "from django.contrib.auth import get_user_model as g; import sys; "
        "u = g().objects.get(username='reviewer'); u.set_password(sys.argv[1]); u.save()"
    )
    subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code.replace("sys.argv[1]", repr(password))],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return password


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} never answered.")


async def _measure(base: str, password: str, args) -> int:
    assert urlsplit(base).hostname == LOOPBACK
    cookies = await _log_in(base, password)
    headers = {
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        "Accept-Encoding": "gzip",
    }
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        case_id = await _demo_case_id(session, base, headers)
        diagram = f"/api/v1/cases/{case_id}/diagram.svg"
        page = f"/cases/{case_id}/"
        rows: list[tuple[str, Tally]] = []
        for label, path, revalidate in (
            ("/healthz", "/healthz", False),
            ("diagram.svg", diagram, False),
            ("case page", page, False),
            ("case page, drawn each time", page + "?unique={n}", False),
            ("diagram.svg, If-None-Match", diagram, True),
            ("case page, If-None-Match", page, True),
        ):
            sent = dict(headers)
            if revalidate:
                async with session.get(base + path, headers=headers) as response:
                    if "ETag" not in response.headers:
                        print(f"{label}: no ETag, left out")
                        continue
                    sent["If-None-Match"] = response.headers["ETag"]
            rows.append((label, await _burst(session, base + path, sent, args)))
    _print_table(rows, args)
    return 0 if all(t.errors == 0 for _, t in rows) else 1


async def _log_in(base: str, password: str) -> dict[str, str]:
    """Log in through the login form; the session and CSRF cookies, read from Set-Cookie by
    hand (they are Secure with DEBUG off, so a cookie jar would not send them over http)."""
    cookies: dict[str, str] = {}

    def keep(response) -> None:
        for value in response.headers.getall("Set-Cookie", []):
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.get(base + "/login/") as response:
            keep(response)
            form = await response.text()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        async with session.post(
            base + "/login/",
            data={"username": "reviewer", "password": password, "csrfmiddlewaretoken": token},
            headers={
                "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                "Referer": base + "/login/",
            },
            allow_redirects=False,
        ) as response:
            keep(response)
            if response.status != 302 or "sessionid" not in cookies:
                raise SystemExit(f"Login failed: {response.status}")
    return cookies


async def _demo_case_id(session, base: str, headers) -> int:
    async with session.get(
        base + "/api/v1/cases/", headers={**headers, "Accept-Encoding": "identity"}
    ) as response:
        cases = await response.json()
    listed = cases["results"] if isinstance(cases, dict) else cases
    if not listed:
        raise SystemExit("The reviewer sees no case: did load_demo run?")
    return listed[0]["id"]


async def _burst(session, url: str, headers, args) -> Tally:
    tally = Tally()
    remaining = [args.requests]
    deadline = time.monotonic() + args.duration

    async def client() -> None:
        while remaining[0] > 0 and time.monotonic() < deadline:
            remaining[0] -= 1
            started = time.monotonic()
            try:
                async with session.get(
                    url.format(n=remaining[0]), headers=headers, allow_redirects=False
                ) as response:
                    await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError):
                tally.errors += 1
                continue
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status in (200, 304):
                tally.latencies.append(time.monotonic() - started)
            else:
                tally.errors += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(args.clients)))
    tally.elapsed = time.monotonic() - started
    return tally


def _print_table(rows: list[tuple[str, Tally]], args) -> None:
    baseline = rows[0][1].rps
    print(f"\n{args.clients} concurrent clients, {args.workers} gunicorn workers, loopback")
    print(f"{'endpoint':30} {'answers':>8} {'rps':>8} {'p50 ms':>8} {'p95 ms':>8} {'× healthz':>9}")
    for label, tally in rows:
        ratio = tally.rps / baseline if baseline else float("nan")
        codes = ",".join(f"{code}:{n}" for code, n in sorted(tally.statuses.items()))
        print(
            f"{label:30} {len(tally.latencies):8d} {tally.rps:8.1f} "
            f"{1000 * tally.percentile(0.5):8.0f} {1000 * tally.percentile(0.95):8.0f} "
            f"{ratio:9.2f}  [{codes}; {tally.errors} errors]"
        )
    print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    sys.exit(main())
