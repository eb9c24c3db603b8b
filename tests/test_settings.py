"""Settings come from the environment with safe production defaults."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

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


def test_it_refuses_to_start_without_a_secret_when_debug_is_off():
    result = run_manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


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
