"""Every management command the README names runs in a `make run` checkout as written.

Each command is a subprocess with a clean environment: only PATH and the checkout's var
directory (SAFETYCASE_VAR_DIR, here a temporary one), as in a new user's shell after `make run`
— no DEBUG, no SECRET_KEY, no DATABASE_URL.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "fixtures"

# Commands the README names that are not ours to run here: the server itself (`make run`
# starts it; tested below through serve_local).
NOT_RUN_HERE = {"runserver", "serve_local"}


def readme_commands() -> set[str]:
    """Every `manage.py NAME` in the README, and every command of its "Management commands"
    list."""
    text = README.read_text()
    named = set(re.findall(r"manage\.py (\w+)", text))
    listing = text.split("**Management commands**", 1)[1].split("\n\n", 1)[0]
    named |= set(re.findall(r"(?:^|[:,])\s*`(\w+)[ `]", listing, re.MULTILINE))
    return named


def clean_env(var_dir: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(var_dir), "SAFETYCASE_VAR_DIR": str(var_dir)}


def manage(var_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(var_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A checkout after `make run`'s set-up steps."""
    var_dir = tmp_path_factory.mktemp("checkout") / "var"
    manage(var_dir, "migrate", "--noinput", "-v", "0")
    manage(var_dir, "setup_admin", "--reviewer", "reviewer", "-v", "0")
    manage(var_dir, "load_demo", "--reviewer", "reviewer")
    return var_dir


def test_every_command_the_readme_names_runs_with_no_extra_environment(checkout, tmp_path):
    ran: set[str] = {"migrate", "setup_admin", "load_demo"}  # by the fixture

    def run(*args: str) -> str:
        ran.add(args[0])
        return manage(checkout, *args)

    out = run("create_token", "admin", "--ingest")
    prefix = re.search(r"Token (\S+?)… with scopes", out).group(1)
    run("revoke_token", prefix)
    out = run("ingest", str(FIXTURES / "inspect" / "arith-success.eval"))
    assert " ingested " in out
    run("import_gsn2x", str(FIXTURES / "gsn2x" / "example.gsn.yaml"), "--case", "Imported")
    run("export_gsn2x", "Imported", str(tmp_path / "gsn2x"))
    assert list((tmp_path / "gsn2x").glob("*.gsn.yaml"))
    run(
        "instantiate_template",
        "AL",
        "--case",
        "From a template",
        "--param",
        "model=example-model",
        "--param",
        "model_version=1",
        "--param",
        "deployment=internal",
    )
    run("document_templates", "--output", str(tmp_path / "templates"))
    run("load_example")
    run("export_pdf", "Imported", str(tmp_path / "case.pdf"))
    assert (tmp_path / "case.pdf").read_bytes().startswith(b"%PDF")
    run("verify_versions")
    run("export_chain_head")
    run("create_signing_key", "--if-missing")
    run("cleanup_orphans", "--dry-run")
    run("create_project", "evaluators", "--owner", "reviewer")
    run("createsuperuser", "--noinput", "--username", "carol", "--email", "carol@example.org")
    run("check")

    assert readme_commands() - NOT_RUN_HERE <= ran, "README commands not run here"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_run_prints_the_logins_and_the_address_last(checkout):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    makefile = (ROOT / "Makefile").read_text()
    assert "serve_local 127.0.0.1:$(PORT) --login admin --login reviewer" in makefile
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "serve_local",
            f"127.0.0.1:{port}",
            "--noreload",
            "--login",
            "admin",
            "--login",
            "reviewer",
        ],
        cwd=ROOT,
        # A terminal is line-buffered; a pipe would hold the lines back.
        env={**clean_env(checkout), "DEBUG": "1", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # A reader thread, not select(): readline() buffers whatever the pipe holds, so both
    # login lines can arrive in one read and the second would never wake select() again.
    arrived: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [arrived.put(line) for line in server.stdout] + [arrived.put("")],
        daemon=True,
    ).start()
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300  # system checks are slow on a busy machine
        while not any(" as reviewer / " in line for line in lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "".join(lines)
            try:
                line = arrived.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line, "serve_local stopped:\n" + "".join(lines)
            lines.append(line)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    admin_password = (checkout / "admin-password").read_text().strip()
    reviewer_password = (checkout / "reviewer-password").read_text().strip()
    printed = [line.strip() for line in lines if line.strip()]
    assert printed[-2:] == [
        f"Log in at {url} as admin / {admin_password}",
        f"Log in at {url} as reviewer / {reviewer_password}",
    ]
    assert any("Starting development server" in line for line in printed[:-2])
