"""Start the commands of docker-compose.yml's web, worker and beat services natively.

No Docker engine runs on the build machines, so this runs each service's own `command` with its
own `environment`, pointing the service addresses at the machine's PostgreSQL and Redis, and
checks that /healthz reports both healthy and that the worker answers a ping.
Usage: .venv/bin/python .ci/compose_smoke.py (DATABASE_URL and CELERY_BROKER_URL must be set).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("SMOKE_PORT", "18765"))


def service_env(service: dict, overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for key, value in (service.get("environment") or {}).items():
        env[key] = overrides.get(key, str(value))
    env.update(overrides)
    return env


def wait_for_health(url: str, deadline: float) -> dict:
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            last = f"{exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise SystemExit(f"/healthz never answered 200: {last}")


@contextlib.contextmanager
def scratch_database(url: str):
    """A new, empty PostgreSQL database on the server of `url`, dropped afterwards, so the
    smoke test migrates from nothing whatever earlier runs left in the shared database."""
    import psycopg

    name = f"smoke_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    with scratch_database(os.environ["DATABASE_URL"]) as database_url:
        run_services(database_url)


def run_services(database_url: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    var_dir = tempfile.mkdtemp(prefix="smoke-var-")
    overrides = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "CACHE_URL": os.environ.get("SMOKE_CACHE_URL", "redis://127.0.0.1:6379/1"),
        "SECRET_KEY": "smoke-test-secret-key-that-is-long-enough-for-check-deploy-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": "",
        "SECURE_SSL_REDIRECT": "0",
        "PORT": str(PORT),
        "SAFETYCASE_VAR_DIR": var_dir,
    }
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name in ("web", "worker", "beat"):
            command = [part.replace("/data/", f"{var_dir}/") for part in services[name]["command"]]
            print(f"starting {name}: {' '.join(command)}", flush=True)
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=service_env(services[name], overrides)
            )
        report = wait_for_health(f"http://127.0.0.1:{PORT}/healthz", time.monotonic() + 90)
        print("healthz:", json.dumps(report), flush=True)
        assert report["status"] == "ok", report
        assert report["database"]["vendor"] == "postgresql", report
        assert report["broker"]["transport"] == "redis", report
        ping = subprocess.run(
            ["celery", "-A", "safetycase", "inspect", "ping", "--timeout", "10"],
            cwd=ROOT,
            env=service_env(services["worker"], overrides),
            capture_output=True,
            text=True,
            timeout=60,
        )
        print(ping.stdout.strip(), flush=True)
        assert ping.returncode == 0 and "pong" in ping.stdout, ping.stderr
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"
        print("compose smoke test passed", flush=True)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
