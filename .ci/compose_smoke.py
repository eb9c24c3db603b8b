"""Start the commands of docker-compose.yml's web, worker and beat services natively.

No Docker engine runs on the build machines, so this runs each service's own `command` with its
own `environment`, pointing the service addresses at the machine's PostgreSQL and Redis, and
checks that /healthz reports both healthy and that the worker answers a ping. The nginx
service runs natively too, from deploy/nginx.conf with the upstream pointed at the native
gunicorn: /healthz must answer through it, and a body above its limit must get its 413.
Usage: .venv/bin/python .ci/compose_smoke.py (DATABASE_URL and CELERY_BROKER_URL must be set).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
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
NGINX_PORT = int(os.environ.get("SMOKE_NGINX_PORT", "18766"))


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


def native_nginx_config(workdir: Path) -> Path:
    """deploy/nginx.conf with the compose addresses replaced by this machine's: the upstream is
    the native gunicorn, nginx listens on NGINX_PORT, and its temporary files stay in workdir."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    replacements = [
        (r"server web:8000;", f"server 127.0.0.1:{PORT};"),
        (r"listen 8080;", f"listen 127.0.0.1:{NGINX_PORT};"),
        (
            r"http \{",
            f"http {{\n    client_body_temp_path {workdir}/body;\n"
            f"    proxy_temp_path {workdir}/proxy;",
        ),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, count=1)
        assert count == 1, f"deploy/nginx.conf no longer contains {pattern!r}"
    path = workdir / "nginx.conf"
    path.write_text(text)
    return path


def start_nginx(workdir: Path) -> subprocess.Popen:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    workdir.chmod(0o755)  # nginx's workers (not root) create their temporary files below
    config = native_nginx_config(workdir)
    command = [binary, "-p", str(workdir), "-c", str(config), "-e", "stderr"]
    command += ["-g", f"daemon off; pid {workdir}/nginx.pid;"]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    print(f"starting nginx: {' '.join(command)}", flush=True)
    return subprocess.Popen(command)


def check_nginx_refuses_oversized_bodies() -> None:
    """A body declared larger than client_max_body_size gets nginx's 413 at once (our JSON
    sentence), without nginx reading it or passing it to gunicorn."""
    limit = re.search(r"client_max_body_size (\d+)m;", (ROOT / "deploy/nginx.conf").read_text())
    too_large = int(limit.group(1)) * 1024 * 1024 + 1
    connection = http.client.HTTPConnection("127.0.0.1", NGINX_PORT, timeout=10)
    connection.putrequest("POST", "/api/v1/runs/")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(too_large))
    connection.endheaders()
    connection.send(b"--x\r\n")  # a start; nginx answers from the declared length
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    print(f"nginx, {too_large} bytes declared: {response.status} {body.strip()}", flush=True)
    assert response.status == 413, (response.status, body)
    assert json.loads(body)["detail"].startswith("The request body is larger than"), body


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
        processes["nginx"] = start_nginx(Path(tempfile.mkdtemp(prefix="smoke-nginx-")))
        proxied = wait_for_health(f"http://127.0.0.1:{NGINX_PORT}/healthz", time.monotonic() + 30)
        print("healthz through nginx:", json.dumps(proxied), flush=True)
        assert proxied["status"] == "ok", proxied
        check_nginx_refuses_oversized_bodies()
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
