"""The push client against a real server: it never loses a log and never claims one it did not
deliver.

Most tests use the live_server fixture; the ones about the server being down or restarting run
the client and `manage.py runserver` as subprocesses on a free port.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.core.cache import cache

from evidence import push
from evidence.models import EvaluationRun
from safetycase import services as services_tokens

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def settled_copy(source: Path, directory: Path, name: str | None = None) -> Path:
    target = directory / (name or source.name)
    shutil.copy(source, target)
    old = time.time() - 60  # the client leaves files changed in the last seconds alone
    os.utime(target, (old, old))
    return target


def settle(path: Path) -> None:
    old = time.time() - 60
    os.utime(path, (old, old))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ingest_token(uploader):
    _, key = services_tokens.token_create(user=uploader, scopes=["ingest", "read"])
    return key


def run_push(*args: str) -> int:
    return push.main([*args, "--backoff", "0.05"])


def an_eval_still_being_written(directory: Path) -> Path:
    """An Inspect .eval as Inspect leaves it mid-run: journal and samples, no header.json."""
    complete = zipfile.ZipFile(FIXTURES / "inspect" / "arith-success.eval")
    partial = directory / "2026-12-02T10-00-00_arith_running.eval"
    with zipfile.ZipFile(partial, "w") as out:
        for info in complete.infolist():
            if info.filename.startswith(("_journal/", "samples/")):
                out.writestr(info.filename, b"{}")
    settle(partial)
    return partial


# --------------------------------------------------------------------------------------------
# What is sent and what is not


@pytest.mark.django_db(transaction=True)
def test_only_settled_logs_are_sent_and_inspect_bookkeeping_never(
    live_server, ingest_token, eager_celery, tmp_path, capsys
):
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    (tmp_path / "eval-set.json").write_text(json.dumps({"eval_set_id": "x", "tasks": []}))
    (tmp_path / "logs.json").write_text(json.dumps({"a.eval": {"version": 2}}))
    (tmp_path / "notes.json").write_text(json.dumps({"comment": "not a log"}))
    (tmp_path / "debug.jsonl").write_text("{}\n")
    partial = an_eval_still_being_written(tmp_path)
    running = tmp_path / "running.json"
    running.write_text(json.dumps({"version": 2, "status": "started", "eval": {"task": "t"}}))
    settle(running)
    fresh = settled_copy(FIXTURES / "lm-eval" / "results_2026-11-24T11-15-47.729466.json", tmp_path)
    os.utime(fresh)  # just written: may still be growing
    for name in ("eval-set.json", "logs.json", "notes.json", "debug.jsonl"):
        settle(tmp_path / name)

    assert run_push(str(tmp_path), "--dry-run") == 0
    listed = capsys.readouterr().out
    assert f"send {tmp_path}/arith-success.eval" in listed
    assert f"{partial.name}: still being written (no header.json yet)" in listed
    assert "running.json: still running (status started)" in listed
    assert "notes.json: not a log" in listed
    assert "eval-set.json: not a log (written by Inspect)" in listed
    assert f"{fresh.name}: still being written" in listed
    assert EvaluationRun.objects.count() == 0  # a dry run sends nothing

    assert run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token) == 0
    out, err = capsys.readouterr()
    assert out.count(": run ") == 1 and "arith-success.eval: run" in out
    assert EvaluationRun.objects.count() == 1
    assert "still running (status started)" in err

    # The logs finish: the .eval gets its header, the .json its final status; both are sent.
    partial.unlink()
    settled_copy(FIXTURES / "inspect" / "arith-sample-errors.eval", tmp_path, partial.name)
    settled_copy(FIXTURES / "inspect" / "arith-success.json", tmp_path, "running.json")
    settle(fresh)
    assert run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token) == 0
    out = capsys.readouterr().out
    assert f"{partial.name}: run" in out and "running.json: run" in out
    formats = sorted(EvaluationRun.objects.values_list("log_file__name", flat=True))
    assert "eval-set.json" not in formats and "logs.json" not in formats
    assert set(EvaluationRun.objects.values_list("status", flat=True)) == {"ingested"}


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_is_reported_and_the_exit_status_says_so(
    live_server, ingest_token, eager_celery, tmp_path, capsys
):
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 2, "status": "success", "eval": {"task": 1}, "samples": [')
    settle(broken)
    assert run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token) == 1
    out, err = capsys.readouterr()
    failed = EvaluationRun.objects.get(status="failed")
    assert f"broken.json: run {failed.pk} failed: {failed.error}" in err
    assert "arith-success.eval: run" in out
    # A failed log is not sent again.
    assert run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token) == 0
    assert EvaluationRun.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_bad_token_stops_at_the_first_refusal(live_server, uploader, tmp_path, capsys, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    for source in ("arith-success.eval", "arith-success.json", "arith-sample-errors.eval"):
        settled_copy(FIXTURES / "inspect" / source, tmp_path)
    assert run_push(str(tmp_path), "--url", live_server.url, "--token", "not-a-token") == 1
    err = capsys.readouterr().err
    assert "upload refused (401): This API token is unknown or was revoked." in err
    assert "Stopped: check --token" in err
    # One request, not one per file or per retry: the server counted a single failure.
    assert cache.get("api-token-failures:127.0.0.1") == 1
    assert EvaluationRun.objects.count() == 0


@contextlib.contextmanager
def rate_limiting_proxy(upstream: str, *, refusals: int, retry_after: int):
    """A reverse proxy in front of the server, as a rate-limiting nginx or gateway would be:
    the first `refusals` uploads get 429 with `Retry-After`; everything else is forwarded.
    (The tracker itself never refuses a request that carries a valid token.)"""
    state = {"refused": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command == "POST" and state["refused"] < refusals:
                state["refused"] += 1
                self.send_response(429)
                self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"detail": "Too many requests."}')
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            request = urllib.request.Request(
                upstream + self.path, data=body or None, headers=headers, method=self.command
            )
            try:
                response = urllib.request.urlopen(request, timeout=60)
            except urllib.error.HTTPError as error:
                response = error
            payload = response.read()
            self.send_response(response.status)
            for key, value in response.headers.items():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db(transaction=True)
def test_429_is_retried_after_the_wait_the_server_asks_for(
    live_server, uploader, ingest_token, eager_celery, tmp_path, capsys
):
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    with rate_limiting_proxy(live_server.url, refusals=1, retry_after=1) as url:
        started = time.monotonic()
        assert run_push(str(tmp_path), "--url", url, "--token", ingest_token) == 0
        assert time.monotonic() - started >= 1.0  # it waited for Retry-After, then got through
    assert EvaluationRun.objects.get().status == "ingested"


@pytest.mark.django_db(transaction=True)
def test_a_lockout_longer_than_the_client_waits_ends_with_a_sentence(
    live_server, ingest_token, tmp_path, capsys
):
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    with rate_limiting_proxy(live_server.url, refusals=100, retry_after=900) as url:
        assert run_push(str(tmp_path), "--url", url, "--token", ingest_token) == 1
    err = capsys.readouterr().err
    assert "answered 429, and the server asks to wait 900 s" in err
    assert EvaluationRun.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_rescored_log_is_reported_as_the_server_stored_it(
    live_server, ingest_token, eager_celery, tmp_path, capsys
):
    """`inspect score --action overwrite` keeps the eval id and changes the bytes. Whatever the
    server does with it, the client's report must match what the server holds."""
    settled_copy(FIXTURES / "inspect" / "arith-success.json", tmp_path)
    assert run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token) == 0
    capsys.readouterr()
    log = json.loads((tmp_path / "arith-success.json").read_text())
    log["eval"]["metadata"] = {"rescored": True}
    rescored = tmp_path / "arith-success-rescored.json"
    rescored.write_text(json.dumps(log))
    settle(rescored)
    digest = push.sha256_of(rescored)

    code = run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token)
    out, err = capsys.readouterr()
    stored = EvaluationRun.objects.filter(log_file__sha256=digest, status="ingested").exists()
    if stored:
        assert code == 0 and "arith-success-rescored.json: run" in out
    else:
        assert code == 1
        assert "not this file: the server already holds eval id 9GqfF7enMGzoGusW5SvaVk" in err


# --------------------------------------------------------------------------------------------
# The server down, or coming and going


def test_with_the_server_down_it_says_so_and_exits_non_zero_without_a_traceback(tmp_path):
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evidence.push",
            str(tmp_path),
            "--url",
            f"http://127.0.0.1:{port}",
            "--token",
            "anything",
            "--retries",
            "2",
            "--backoff",
            "0.1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"not sent: The server at http://127.0.0.1:{port} could not be reached" in result.stderr
    assert (
        not (tmp_path / push.STATE_FILE).exists()
        or "arith" not in (tmp_path / push.STATE_FILE).read_text()
    )


class Lines:
    """Lines of a subprocess's output, read without blocking past a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.seen: list[str] = []

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(self.seen)
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                assert line, f"the process ended before {text!r}:\n" + "".join(self.seen)
                self.seen.append(line)


def test_watch_delivers_logs_written_while_the_server_was_down(tmp_path):
    """The client starts before the server, and the server restarts while a log is written."""
    var_dir = tmp_path / "var"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SAFETYCASE_VAR_DIR": str(var_dir)}

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("setup_admin", "-v", "0")
    manage("create_project", "lab", "--owner", "admin")
    token = manage("create_token", "admin", "--ingest").splitlines()[-1]
    logs = tmp_path / "logs"
    logs.mkdir()
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", logs)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def start_server() -> subprocess.Popen:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env={**env, "DEBUG": "1", "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        Lines(server).wait_for("Quit the server with")
        return server

    def stop(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)

    client = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evidence.push",
            str(logs),
            "--url",
            url,
            "--token",
            token,
            "--watch",
            "--interval",
            "0.5",
            "--retries",
            "0",
        ],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Lines(client)
    try:
        output.wait_for("could not be reached")
        assert client.poll() is None  # watching survives a server that is not there
        server = start_server()
        output.wait_for("arith-success.eval: run 1 ingested")
        stop(server)  # the server goes down ...
        output.wait_for("could not be reached", timeout=60)
        settled_copy(FIXTURES / "inspect" / "arith-sample-errors.eval", logs)  # ... a log comes
        time.sleep(1.5)
        server = start_server()  # ... and the server is back
        output.wait_for("arith-sample-errors.eval: run 2 ingested")
        stop(server)
    finally:
        client.send_signal(signal.SIGINT)
        client.wait(timeout=30)
    assert "Traceback" not in "".join(output.seen)


def test_the_client_needs_only_the_standard_library_for_a_local_directory(tmp_path):
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    # -S: no site-packages at all, only the standard library and this checkout.
    result = subprocess.run(
        [sys.executable, "-S", "-m", "evidence.push", str(tmp_path), "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"send {tmp_path}/arith-success.eval" in result.stdout


# --------------------------------------------------------------------------------------------
# Following runs that a real worker parses (Redis in CI's second pass)


@pytest.fixture
def celery_worker(django_db_blocker):
    from celery.contrib.testing.worker import start_worker

    from safetycase.celery import app

    with django_db_blocker.unblock():
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            yield


@pytest.mark.requires_broker
@pytest.mark.django_db(transaction=True)
def test_runs_parsed_by_a_worker_are_followed_until_they_end(
    celery_worker, live_server, ingest_token, tmp_path, capsys
):
    """The upload answers `queued`; the client polls the run until the worker has ingested it."""
    settled_copy(FIXTURES / "inspect" / "arith-success.eval", tmp_path)
    settled_copy(FIXTURES / "inspect" / "arith-error.eval", tmp_path)
    assert run_push(str(tmp_path), "--url", live_server.url, "--token", ingest_token) == 0
    out = capsys.readouterr().out
    for run in EvaluationRun.objects.all():
        assert run.status == "ingested", run.error
        assert f"{run.log_file.name}: run {run.pk} ingested" in out
