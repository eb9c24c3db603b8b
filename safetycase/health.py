"""Health of the services the app depends on, for /healthz."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # any failure means unhealthy; report it instead of raising
        return {"status": "unavailable", "error": str(exc).strip().splitlines()[0][:200]}


def _broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "ok", "mode": "eager (tasks run in the web process)"}
    from safetycase.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"status": "ok", "transport": settings.CELERY_BROKER_URL.split("://", 1)[0]}
    except Exception as exc:  # any failure means unhealthy; report it instead of raising
        return {"status": "unavailable", "error": str(exc)[:200]}


def health_report() -> dict:
    checks = {"database": _database(), "broker": _broker()}
    healthy = all(check["status"] == "ok" for check in checks.values())
    return {"status": "ok" if healthy else "unavailable", **checks}
