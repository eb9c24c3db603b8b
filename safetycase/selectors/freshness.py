"""Validators of pages whose content is too varied to fingerprint table by table: one query
that moves whenever any row a page could show is added, changed or deleted."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection

# Apps whose rows the pages show. Their models with django-simple-history keep one history row
# per insert, update and delete, so the highest history id moves with every change saved
# through the ORM, deletions included.
CONTENT_APPS = ("safetycase", "evidence", "notifications")

# Rows without history that pages show, with the columns that move when one is added or
# changed; those of the same user are counted too (a deleted watch moves no maximum).
UNTRACKED_COLUMNS = {
    "safetycase.Assessment": ("id",),
    "safetycase.Version": ("id",),
    "safetycase.Signature": ("id",),
    "evidence.EvaluationRun": ("id", "ingested_at", "superseded_at", "completed_at"),
    "evidence.RunStatistic": ("id",),
    "evidence.GraderAudit": ("id",),
}
PER_USER = ("notifications.Watch", "notifications.Notification")


def content_version(*, user) -> tuple[tuple, dt.datetime | None]:
    """(version, last modified): where every table the pages read stands now, in one query.

    The version holds the highest history id of each history-tracked model, the highest id
    (and latest times) of the few untracked ones, and the user's own watches and unread
    notifications. Conservative: any saved change anywhere moves it, so a validator built on
    it never outlives what it validates. Last modified is the time of the latest history row
    or assessment: an upper bound of when the tracked content last changed."""
    parts: list[str] = []
    params: list = []
    times: list[str] = []
    for model in _history_models():
        table = model._meta.db_table
        parts.append(f'(SELECT MAX(history_id) FROM "{table}")')
        times.append(f'(SELECT history_date FROM "{table}" ORDER BY history_id DESC LIMIT 1)')
    assessments = apps.get_model("safetycase.Assessment")._meta.db_table
    times.append(f'(SELECT created_at FROM "{assessments}" ORDER BY id DESC LIMIT 1)')
    for label, columns in UNTRACKED_COLUMNS.items():
        table = apps.get_model(label)._meta.db_table
        parts.extend(f'(SELECT MAX("{column}") FROM "{table}")' for column in columns)
    for label in PER_USER:
        table = apps.get_model(label)._meta.db_table
        parts.append(f'(SELECT COUNT(*) FROM "{table}" WHERE user_id = %s)')
        parts.append(f'(SELECT MAX(id) FROM "{table}" WHERE user_id = %s)')
        params += [user.pk, user.pk]
    unread = apps.get_model("notifications.Notification")._meta.db_table
    parts.append(f'(SELECT COUNT(*) FROM "{unread}" WHERE user_id = %s AND read_at IS NULL)')
    params.append(user.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts + times), params)
        row = cursor.fetchone()
    version = tuple(row[: len(parts)])
    # SQLite's raw cursor answers times as text.
    moments = [dt.datetime.fromisoformat(t) if isinstance(t, str) else t for t in row[len(parts) :]]
    moments = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in moments if t]
    return version, max(moments, default=None)


def page_etag(*parts) -> str:
    """A strong ETag of a page from everything it depends on: the code that draws it
    (`RELEASE`), the day (pages say how old things are) and the caller's `parts`."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    digest = hashlib.sha256(repr((RELEASE, today, *parts)).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _history_models() -> list:
    if not _HISTORY_MODELS:
        for label in CONTENT_APPS:
            for model in apps.get_app_config(label).get_models():
                if any(f.name == "history_id" for f in model._meta.concrete_fields):
                    _HISTORY_MODELS.append(model)
        _HISTORY_MODELS.sort(key=lambda m: m._meta.db_table)
    return _HISTORY_MODELS


_HISTORY_MODELS: list = []


def _release() -> str:
    """The code and templates this process serves, as the latest modification time of their
    files: a new release (even with the same data) gives every page a new ETag."""
    root = Path(settings.BASE_DIR)
    latest = 0.0
    for folder in ("safetycase", "evidence", "notifications", "templates"):
        for path in (root / folder).rglob("*"):
            if path.suffix in {".py", ".html", ".txt"}:
                latest = max(latest, path.stat().st_mtime)
    return f"{latest:.6f}"


RELEASE = _release()
