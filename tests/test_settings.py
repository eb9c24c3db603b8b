"""Settings come from the environment with safe production defaults."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_is_clean_in_production_mode():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="cases.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "deployment",
    [
        {"DATABASE_URL": "postgres://safetycase@127.0.0.1:5432/safetycase"},
        {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
    ],
    ids=["database", "broker"],
)
def test_a_deployment_refuses_to_start_without_a_secret_when_debug_is_off(tmp_path, deployment):
    result = run_manage("check", DEBUG="0", SAFETYCASE_VAR_DIR=str(tmp_path), **deployment)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr
    assert list(tmp_path.iterdir()) == []  # and no key was made up for it


def embedded_env(var_dir: Path) -> dict[str, str]:
    """A checkout's shell after `make run`: nothing set but the variable pointing at ./var."""
    return {"PATH": os.environ["PATH"], "HOME": str(var_dir), "SAFETYCASE_VAR_DIR": str(var_dir)}


def test_the_embedded_set_up_generates_its_secret_once_and_keeps_it(tmp_path):
    var_dir = tmp_path / "var"
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    keys = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=embedded_env(var_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        keys.append(result.stdout.strip().splitlines()[-1])
    key_file = var_dir / "secret-key"
    assert keys[0] == keys[1] == key_file.read_text().strip()
    assert len(keys[0]) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    # Another checkout gets another key.
    other = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=embedded_env(tmp_path / "other"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.stdout.strip().splitlines()[-1] != keys[0]


def test_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(secrets.token_urlsafe(50) + "\n")
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", DEBUG="0", SECRET_KEY_FILE=str(secret_file)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_celery_runs_eagerly_only_without_a_broker(settings):
    # The suite runs twice in CI: embedded (no broker) and against Redis.
    assert settings.CELERY_TASK_ALWAYS_EAGER is (not os.environ.get("CELERY_BROKER_URL"))
    assert settings.CELERY_TASK_ACKS_LATE is True


def test_database_follows_database_url(settings):
    url = os.environ.get("DATABASE_URL", "")
    engine = settings.DATABASES["default"]["ENGINE"]
    if url.startswith("postgres"):
        assert engine == "django.db.backends.postgresql"
    else:
        assert engine == "django.db.backends.sqlite3"


def test_beat_reassesses_every_case_daily_and_sweeps_queued_runs(settings):
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["safetycase.tasks.assess_all_cases"] == 24 * 3600
    assert schedule["evidence.tasks.requeue_queued_runs"] <= 600
