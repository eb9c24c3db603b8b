"""Writes for evaluation evidence: accepting uploads and ingesting runs.

Upload (`log_submit`) runs in the web request: it stores the original file under its sha256,
reads at most EVIDENCE_HEADER_READ_BYTES of it (the header) to learn the runs it holds and their
harness ids, and creates the runs as `queued`; parsing is enqueued when the transaction commits.
A larger log gets one provisional run that the worker identifies (`_adopt_header`). A refused
or lost upload leaves no file behind; a simultaneous upload of the same file or eval id answers
with the winner's runs. Ingestion
(`run_ingest`) runs in a Celery worker and is safe to run twice: it starts by removing whatever
an interrupted attempt left, writes samples in batches (progress is visible meanwhile), and either
finishes with status `ingested` or removes every sample row again and records `failed` with a
reason. It records a heartbeat per batch, so the sweeper (`runs_requeue`) can recover runs whose
worker died, and stops at the task's soft time limit with a reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import orjson
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evidence import conf, parsers, storage
from evidence.choices import LogFormat, RunStatus
from evidence.models import EvaluationRun, LogFile, RunMetric, RunStatistic, SampleResult
from evidence.parsers.base import LogFormatError, ParsedHeader, ParsedSample
from evidence.signals import run_failed, run_ingested
from evidence.statistics import run_statistics
from evidence.tally import EpochTally, ScoreCount, declared_reducer

logger = logging.getLogger(__name__)


class UploadRefused(Exception):
    """The upload itself is unacceptable (too large, empty request); nothing was stored."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass
class SubmitResult:
    runs: list[EvaluationRun]
    created: bool  # False when the same file or the same harness ids were posted before
    log_file: LogFile | None = None
    failed: bool = False  # the file was stored, but it is not a log we can read
    notes: list[str] = field(default_factory=list)
    # An lm-evaluation-harness samples file kept until the results of its run arrive.
    pending: bool = False


def logs_submit(
    *, uploads, project, metadata: dict[str, Any] | None = None, uploaded_by=None
) -> list[SubmitResult]:
    """Accept several uploaded files into `project` at once, as `log_submit` each, in one
    transaction: the results and samples files of one lm-eval run are committed together, so
    their single parse sees both; results files go first, since samples files attach to them."""
    in_order = sorted(uploads, key=lambda f: f.name.rsplit("/", 1)[-1].startswith("samples_"))
    with transaction.atomic():
        return [
            log_submit(upload=upload, project=project, metadata=metadata, uploaded_by=uploaded_by)
            for upload in in_order
        ]


# A harness clock a little ahead of ours is tolerated; a later date is not evidence of anything
# and would keep a run "newest" for ever.
FUTURE_TOLERANCE = timedelta(minutes=5)


def log_submit(
    *, upload, project, metadata: dict[str, Any] | None = None, uploaded_by=None
) -> SubmitResult:
    """Accept one uploaded log file (a Django UploadedFile or any binary file with a name) into
    `project` (an evidence.Project).

    Identity is per project: the same bytes in the same project are the same run(s); a log
    whose harness id matches a run of the project but whose bytes differ (a re-scored,
    completed or repaired log) becomes a new run that supersedes the old one. Nothing in
    another project is ever looked at or returned.
    """
    metadata = metadata or {}
    with _local_copy_of_upload(upload) as (path, sha256, size):
        existing = LogFile.objects.filter(project=project, sha256=sha256).first()
        if existing is not None and existing.format != LogFormat.LM_EVAL_SAMPLES:
            runs = list(existing.runs.all())
            return SubmitResult(runs=runs, created=False, log_file=existing)
        try:
            headers = parsers.read_headers_bounded(
                path, max_bytes=conf.setting("HEADER_READ_BYTES"), limits=conf.limits()
            )
        except LogFormatError as exc:
            return _store_unreadable(
                path, upload_name(upload), sha256, size, str(exc), uploaded_by, project
            )
        if isinstance(headers, ParsedHeader):  # too large to read here: the worker will
            headers = [headers]
        _refuse_future_dates(headers)
        if headers[0].format == LogFormat.LM_EVAL_SAMPLES:
            return _attach_samples_file(
                path, upload_name(upload), sha256, size, headers[0], uploaded_by, project, existing
            )

        try:
            with _removed_unless_committed() as stored, transaction.atomic():
                known = _current_runs_with_eval_ids(project, [h.eval_id for h in headers])
                same = [
                    known[h.eval_id]
                    for h in headers
                    if h.eval_id in known and not _superseded_by(known[h.eval_id], h)
                ]
                if len(same) == len(headers):
                    # The same log again (another export of it): the same runs.
                    return SubmitResult(runs=same, created=False)
                log_file = _store_file(
                    path, upload_name(upload), sha256, size, headers[0].format, uploaded_by, project
                )
                stored.append(log_file.file.name)
                runs, notes = [], []
                for header in headers:
                    older = known.get(header.eval_id) if header.eval_id else None
                    if older is not None and older in same:
                        runs.append(older)
                        continue
                    if older is not None:
                        notes.append(
                            f"Run {older.pk} had the same harness id ({header.eval_id}) but "
                            f"{_superseded_by(older, header)}; this log supersedes it."
                        )
                        _mark_superseded(older)
                    run = EvaluationRun.objects.create(
                        project=project,
                        log_file=log_file,
                        supersedes=older,
                        header_sha256=_header_fingerprint(header),
                        # Provenance the log itself carries (generic files), overridden by what
                        # the uploader sent.
                        metadata={**header.details.get("metadata", {}), **metadata},
                        **_run_fields(header),
                    )
                    _attach_pending_samples(run)
                    runs.append(run)
                    _enqueue_ingest(run.pk)
        except IntegrityError:
            # A simultaneous upload of the same file or harness id committed first: its runs.
            return _winner_of_race(project, sha256, [h.eval_id for h in headers if h.eval_id])
        return SubmitResult(runs=runs, created=True, log_file=log_file, notes=notes)


@contextlib.contextmanager
def _removed_unless_committed() -> Iterator[list[str]]:
    """Removes the stored files named in the yielded list when the block fails, so a refused
    or lost upload leaves no file without a row."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        from django.core.files.storage import default_storage

        for name in stored:
            with contextlib.suppress(OSError):
                default_storage.delete(name)
        raise


def _winner_of_race(project, sha256: str, eval_ids: list[str]) -> SubmitResult:
    existing = LogFile.objects.filter(project=project, sha256=sha256).first()
    if existing is not None:
        runs = list(existing.runs.all()) or list(existing.sample_runs.all())
        return SubmitResult(runs=runs, created=False, log_file=existing)
    runs = list(_current_runs_with_eval_ids(project, eval_ids).values())
    if not runs:
        # The upload that won is not visible to us (still committing, or itself replaced):
        # say so rather than answer with no run; nothing of this upload was kept.
        raise UploadRefused(
            "Another upload of this log or harness id was being stored at the same moment; "
            "send this file again.",
            status_code=409,
        )
    return SubmitResult(runs=runs, created=False)


def _header_fingerprint(header: ParsedHeader) -> str:
    content = dataclasses.asdict(header)
    for key in ("format", "details"):  # how it was written, not what it says
        content.pop(key, None)
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _superseded_by(older: EvaluationRun, header: ParsedHeader) -> str:
    """Why a log with the harness id of `older` replaces it ("" when it is the same log): the
    old one failed to ingest, was written while the run was still going, or says something
    else (a re-scored log keeps its eval id)."""
    if older.status == RunStatus.FAILED:
        return "it had failed to ingest"
    if older.log_status == "started":
        return "it was written while the run was still going"
    if older.header_sha256 != _header_fingerprint(header):
        return "other content"
    return ""


def _refuse_future_dates(headers: list[ParsedHeader]) -> None:
    """A log that says it started or finished in the future is refused before anything is
    stored."""
    latest_acceptable = timezone.now() + FUTURE_TOLERANCE
    for header in headers:
        for label, text in (("finished", header.completed_at), ("started", header.started_at)):
            moment = _datetime(text)
            if moment is not None and moment > latest_acceptable:
                raise UploadRefused(
                    f"The log says its run {label} at {moment.isoformat()}, which is in the "
                    "future; fix the harness's clock or the file's dates and upload it again."
                )


def _mark_superseded(run: EvaluationRun) -> None:
    """Before its successor is created (one current run per harness id and project)."""
    run.superseded_at = timezone.now()
    EvaluationRun.objects.filter(pk=run.pk).update(superseded_at=run.superseded_at)
    logger.info("run %s superseded by a newer log with harness id %s", run.pk, run.eval_id)


def upload_name(upload) -> str:
    return os.path.basename(getattr(upload, "name", "") or "upload")[:300]


@contextlib.contextmanager
def _local_copy_of_upload(upload) -> Iterator[tuple[Path, str, int]]:
    """A local file path holding the upload, with its sha256 and size (streamed, not loaded)."""
    digest = hashlib.sha256()
    size = 0
    limit = conf.setting("MAX_UPLOAD_BYTES")
    with tempfile.NamedTemporaryFile(prefix="upload-", delete=False) as tmp:
        chunks = (
            upload.chunks()
            if hasattr(upload, "chunks")
            else iter(lambda: upload.read(1 << 20), b"")
        )
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                tmp.close()
                os.unlink(tmp.name)
                raise UploadRefused(
                    f"The file is larger than the upload limit of {limit} bytes "
                    "(EVIDENCE_MAX_UPLOAD_BYTES).",
                    status_code=413,
                )
            digest.update(chunk)
            tmp.write(chunk)
    try:
        yield Path(tmp.name), digest.hexdigest(), size
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp.name)


class _SpooledUpload(File):
    """Our temporary copy of an upload. Local file storage moves it into place instead of
    copying it again (Django does so for anything with `temporary_file_path`)."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _store_file(
    path: Path,
    name: str,
    sha256: str,
    size: int,
    format: str,
    uploaded_by,
    project,
    task_hash: str = "",
) -> LogFile:
    """Store the upload (the temporary file at `path` is consumed) and its LogFile row."""
    log_file = LogFile(
        project=project,
        name=name,
        size=size,
        sha256=sha256,
        format=format,
        uploaded_by=uploaded_by,
        task_hash=task_hash[:100],
    )
    with open(path, "rb") as handle:
        log_file.file.save(name, _SpooledUpload(handle, name=str(path)), save=False)
    log_file.save()
    return log_file


def _store_unreadable(path, name, sha256, size, reason, uploaded_by, project) -> SubmitResult:
    """Keep the file and record a failed run, so nothing sent to us is lost silently."""
    try:
        with _removed_unless_committed() as stored, transaction.atomic():
            log_file = _store_file(
                path, name, sha256, size, LogFormat.UNKNOWN, uploaded_by, project
            )
            stored.append(log_file.file.name)
            run = EvaluationRun.objects.create(
                project=project,
                log_file=log_file,
                status=RunStatus.FAILED,
                error=reason,
                format=LogFormat.UNKNOWN,
            )
    except IntegrityError:  # the same bytes, posted at the same moment
        return _winner_of_race(project, sha256, [])
    return SubmitResult(runs=[run], created=True, log_file=log_file, failed=True)


def _results_runs_for_task_hash(project, task_hash: str):
    return EvaluationRun.objects.filter(
        project=project,
        format=LogFormat.LM_EVAL,
        details__task_hash=task_hash,
        superseded_at__isnull=True,
    ).order_by("-id")


def _attach_samples_file(
    path, name, sha256, size, header: ParsedHeader, uploaded_by, project, existing
) -> SubmitResult:
    """An lm-evaluation-harness samples file: attach it to the results run of its own run.

    The samples file names no run; lm-eval's task hash over its documents identifies the task,
    and a deterministic re-run has the same hash (and often the same bytes). So the file goes
    to the newest results run of the project with that hash that has no samples yet; when
    every such run has its samples, a file with the same bytes is the same run, and one with
    other bytes supersedes the newest run. When no results run has the hash yet, the file is
    kept pending and attached when the results arrive.
    """
    task_hash = header.details.get("task_hash", "")
    if not task_hash:
        if existing is not None:
            return SubmitResult(runs=list(existing.sample_runs.all()), created=False)
        return _store_unreadable(
            path,
            name,
            sha256,
            size,
            "This lm-evaluation-harness samples file has no documents to compute its task "
            "hash from, so it cannot be matched to a results file.",
            uploaded_by,
            project,
        )
    try:
        with _removed_unless_committed() as stored, transaction.atomic():
            candidates = list(_results_runs_for_task_hash(project, task_hash).select_for_update())
            if existing is not None:
                same = [run for run in candidates if run.samples_file_id == existing.pk]
                free = [run for run in candidates if run.samples_file_id is None]
                if same and not (free and free[0].pk > same[0].pk):
                    # Posted again: the run that has it. A deterministic re-run writes the same
                    # samples; if its results come later, they take this file.
                    LogFile.objects.filter(pk=existing.pk).update(awaiting_results=True)
                    return SubmitResult(runs=same[:1], created=False, log_file=existing)
                if not candidates:
                    LogFile.objects.filter(pk=existing.pk).update(awaiting_results=True)
                    return SubmitResult(runs=[], created=False, log_file=existing, pending=True)
            log_file = existing or _store_file(
                path, name, sha256, size, LogFormat.LM_EVAL_SAMPLES, uploaded_by, project, task_hash
            )
            if existing is None:
                stored.append(log_file.file.name)
            if not candidates:
                LogFile.objects.filter(pk=log_file.pk).update(awaiting_results=True)
                return SubmitResult(
                    runs=[],
                    created=True,
                    log_file=log_file,
                    pending=True,
                    notes=[
                        "No results file of this project has this samples file's task hash yet; "
                        "it is kept and attached when the results_*.json of its run arrives."
                    ],
                )
            run = next((r for r in candidates if r.samples_file_id is None), None)
            notes = []
            if run is None:
                older = candidates[0]
                _mark_superseded(older)
                run = EvaluationRun.objects.create(
                    project=project,
                    log_file=older.log_file,
                    supersedes=older,
                    metadata=older.metadata,
                    **{name: getattr(older, name) for name in _COPIED_RUN_FIELDS},
                )
                notes.append(
                    f"Run {older.pk} already had other samples for this task; run {run.pk} "
                    "with these samples supersedes it."
                )
            run.samples_file = log_file
            run.status = RunStatus.QUEUED
            run.error = ""
            run.attempts = 0
            run.sent_at = None  # its new job is not sent yet
            run.save(update_fields=["samples_file", "status", "error", "attempts", "sent_at"])
            LogFile.objects.filter(pk=log_file.pk).update(awaiting_results=False)
            _enqueue_ingest(run.pk)
    except IntegrityError:
        return _winner_of_race(project, sha256, [])
    return SubmitResult(runs=[run], created=True, log_file=log_file, notes=notes)


_COPIED_RUN_FIELDS = (
    "format",
    "harness",
    "harness_version",
    "eval_id",
    "harness_run_id",
    "task",
    "task_version",
    "model",
    "model_version",
    "log_status",
    "log_error",
    "started_at",
    "completed_at",
    "total_samples",
    "completed_samples",
    "details",
)


def _attach_pending_samples(run: EvaluationRun) -> None:
    """A samples file that arrived before the results of its run is attached now."""
    task_hash = run.details.get("task_hash") if run.format == LogFormat.LM_EVAL else ""
    if not task_hash:
        return
    pending = (
        LogFile.objects.filter(
            project_id=run.project_id,
            format=LogFormat.LM_EVAL_SAMPLES,
            task_hash=task_hash,
            awaiting_results=True,
        )
        .select_for_update()
        .order_by("-id")
        .first()
    )
    if pending is not None:
        run.samples_file = pending
        run.save(update_fields=["samples_file"])
        LogFile.objects.filter(pk=pending.pk).update(awaiting_results=False)


def _current_runs_with_eval_ids(project, eval_ids: Iterable[str]) -> dict[str, EvaluationRun]:
    ids = [i for i in eval_ids if i]
    if not ids:
        return {}
    runs = EvaluationRun.objects.select_for_update().filter(
        project=project, eval_id__in=ids, superseded_at__isnull=True
    )
    return {run.eval_id: run for run in runs}


def _run_fields(header: ParsedHeader) -> dict[str, Any]:
    fields = _header_fields(header)
    # Identity fields are stored whole or not at all: a cut id could collide with another.
    if len(header.eval_id) > EvaluationRun._meta.get_field("eval_id").max_length:
        fields["eval_id"] = ""
        fields["details"] = {**fields["details"], "eval_id": header.eval_id}
    return fields


def _header_fields(header: ParsedHeader) -> dict[str, Any]:
    return {
        "format": header.format,
        "harness": header.harness[:50],
        "harness_version": header.harness_version[:50],
        "eval_id": header.eval_id[:300],
        "harness_run_id": header.run_id[:300],
        "task": header.task[:300],
        "task_version": header.task_version[:100],
        "model": header.model[:300],
        "model_version": header.model_version[:200],
        "log_status": header.log_status[:30],
        "log_error": header.log_error,
        "started_at": _datetime(header.started_at),
        "completed_at": _datetime(header.completed_at),
        "total_samples": header.total_samples,
        "completed_samples": header.completed_samples,
        "details": header.details,
    }


def _datetime(text: str):
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        return None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


INGEST_TASK = "evidence.tasks.ingest_run"


def _send_ingest(run_id: int) -> None:
    # By name through the Celery registry: the tasks module imports this one, not the reverse.
    current_app.tasks[INGEST_TASK].delay(run_id)
    # The broker has the job: the sweeper leaves the run alone while it merely waits its turn.
    EvaluationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(sent_at=timezone.now())


def _enqueue_ingest(run_id: int) -> None:
    # robust: with the broker down the upload still succeeds; the run stays `queued` and
    # `runs_requeue` (every few minutes, from beat) sends it again.
    transaction.on_commit(lambda: _send_ingest(run_id), robust=True)


def runs_requeue(*, older_than_seconds: int | None = None) -> list[int]:
    """The sweeper. Enqueues again the runs still `queued` after a while whose job the broker
    never accepted (it was down when they were uploaded) or accepted so long ago
    (EVIDENCE_RESEND_SENT_AFTER_SECONDS) that it must have lost it, and recovers the
    runs left `parsing` by a worker that died or hangs (no heartbeat for
    EVIDENCE_STALE_PARSING_SECONDS): queued again, or failed with a sentence once
    EVIDENCE_MAX_INGEST_ATTEMPTS attempts were made. Returns the ids sent again."""
    now = timezone.now()
    if older_than_seconds is None:
        older_than_seconds = conf.setting("REQUEUE_AFTER_SECONDS")
    stale_seconds = conf.setting("STALE_PARSING_SECONDS")
    max_attempts = conf.setting("MAX_INGEST_ATTEMPTS")
    stale_cutoff = now - timedelta(seconds=stale_seconds)
    stale = EvaluationRun.objects.filter(status=RunStatus.PARSING).filter(
        Q(heartbeat_at__lt=stale_cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=stale_cutoff)
    )
    for run in stale.filter(attempts__gte=max_attempts).only("pk"):
        _fail(
            run,
            f"Ingestion was attempted {max_attempts} times and each attempt stopped without "
            f"finishing (the worker died or hung, e.g. out of memory or past its time limit); "
            f"the log is kept, but was not ingested.",
        )
    recovered = list(stale.filter(attempts__lt=max_attempts).values_list("pk", flat=True))
    EvaluationRun.objects.filter(pk__in=recovered, status=RunStatus.PARSING).update(
        status=RunStatus.QUEUED, progress=0, sent_at=None
    )
    cutoff = now - timedelta(seconds=older_than_seconds)
    resend_cutoff = now - timedelta(seconds=conf.setting("RESEND_SENT_AFTER_SECONDS"))
    # Never accepted by the broker (down at upload time); a run queued again by an upload of
    # its samples file waits from then, not from creation.
    unsent = Q(sent_at__isnull=True, created_at__lt=cutoff) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff)
    )
    # Accepted, yet still queued long after: the broker lost the job. One accepted recently
    # is only waiting behind others; sending it again would have two workers parse it.
    lost = Q(sent_at__lt=resend_cutoff)
    waiting = EvaluationRun.objects.filter(unsent | lost, status=RunStatus.QUEUED)
    run_ids = sorted({*waiting.values_list("pk", flat=True), *recovered})
    for run_id in run_ids:
        _send_ingest(run_id)
    return run_ids


# ---------------------------------------------------------------------------------------------
# Ingestion (worker side)


class ScoreTally:
    """Counts a run's scores per sample while samples stream past (see evidence/tally.py):
    each sample's epochs are reduced with the log's own reducer (Inspect's
    `eval.config.epochs_reducer`, else Inspect's default `mean`), then counted."""

    def __init__(self, header: ParsedHeader, max_names: int | None = None) -> None:
        epochs = header.details.get("epochs")
        self.epochs = epochs if isinstance(epochs, int) and epochs > 1 else 1
        self.declared_reducer = declared_reducer(header.details.get("epochs_reducer"))
        self.tally = EpochTally(self.declared_reducer, epochs=self.epochs)
        self.totals = list(header.tallies)  # totals reported without per-sample rows
        self.max_names = max_names
        self.names: set[str] = set()

    def add(self, sample: ParsedSample) -> None:
        if sample.error:
            return  # an errored sample is not a trial of the behaviour being measured
        for name in sample.scores.keys() - self.names:
            if self.max_names is not None and len(self.names) >= self.max_names:
                raise LogFormatError(_too_many_score_names(self.max_names))
            self.names.add(name)
        self.tally.add(sample.sample_id, sample.scores)

    def counts(self) -> list[ScoreCount]:
        counts = {count.name: count for count in self.tally.counts()}
        for item in self.totals:
            counts.setdefault(
                item.name,
                ScoreCount(
                    name=item.name,
                    reducer="",
                    n=item.trials,
                    k=item.successes,
                    mean=(item.successes / item.trials) if item.trials else None,
                    stderr=None,
                    k_trials=None,
                    n_trials=None,
                    k_any=None,
                ),
            )
        return [counts[name] for name in sorted(counts)]


def run_ingest(*, run_id: int) -> EvaluationRun | None:
    """Parse a queued run's log into samples, metrics and statistics. Safe to run twice; None
    when the run no longer exists (a job delivered after its run was deleted).

    One worker at a time per run (a lock on the run), and the run is finished only if its
    samples file is still the one parsed: a samples file attached meanwhile (results and
    samples posted together, or samples posted while the results were being parsed) makes it
    parse again with the samples, instead of being overwritten as "ingested" without them.
    """
    with _run_lock(run_id):
        while True:
            run = (
                EvaluationRun.objects.select_related("log_file", "samples_file")
                .filter(pk=run_id)
                .first()
            )
            if run is None:
                return None
            if run.status in (RunStatus.INGESTED, RunStatus.FAILED):
                return run
            done = _run_ingest_once(run)
            if done is not None:
                return done


@contextlib.contextmanager
def _run_lock(run_id: int) -> Iterator[None]:
    """A PostgreSQL session lock per run, held while one worker parses it (released by the
    database if the worker dies). SQLite runs one writer at a time anyway."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_NAMESPACE, run_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_NAMESPACE, run_id])


RUN_LOCK_NAMESPACE = 0x5CE  # the first key of pg_advisory_lock's pair: "runs being parsed"


def _run_ingest_once(run: EvaluationRun) -> EvaluationRun | None:
    """One parse of the run; None when its samples file changed meanwhile (parse again)."""
    EvaluationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.PARSING,
        progress=0,
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    # Rows an interrupted attempt (a killed worker) left behind.
    SampleResult.objects.filter(run=run).delete()
    try:
        with (
            _local_file(run.log_file) as path,
            _optional_local_file(run.samples_file) as samples_path,
        ):
            if run.details.get("header_pending"):
                run = _adopt_header(run, path)
            header, samples = parsers.open_run(
                path,
                eval_id=run.eval_id,
                task=run.task,
                samples_path=samples_path,
                limits=conf.limits(),
            )
            _check_header_caps(header)
            sample_count, error_count, tally = _store_samples(run, header, samples)
            counts = _checked_counts(tally.counts())
    except LogFormatError as exc:
        return _fail(run, str(exc))
    except SoftTimeLimitExceeded:
        return _fail(run, _over_time_limit())
    except DataError:
        logger.exception("run %s: a value of the log could not be stored", run.pk)
        return _fail(run, "A value in the log cannot be stored (out of range or malformed).")
    except Exception:
        # Unexpected (database down, a bug): leave nothing partial; the task decides on retry.
        SampleResult.objects.filter(run=run).delete()
        EvaluationRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, progress=0)
        raise
    try:
        return _store_results(run, header, counts, sample_count, error_count)
    except SoftTimeLimitExceeded:
        return _fail(run, _over_time_limit())
    except DataError:
        logger.exception("run %s: a value of the log could not be stored", run.pk)
        return _fail(run, "A value in the log cannot be stored (out of range or malformed).")


def _adopt_header(run: EvaluationRun, path: Path) -> EvaluationRun:
    """A run whose log was too large to read in the upload request: take its identity from the
    full header now, and create the runs of the file's other tasks (lm-eval results)."""
    headers = parsers.read_headers(path, limits=conf.limits())
    mine = next((h for h in headers if run.eval_id and h.eval_id == run.eval_id), headers[0])
    fields = _run_fields(mine)
    duplicate = (
        EvaluationRun.objects.filter(
            project_id=run.project_id, eval_id=fields["eval_id"], superseded_at__isnull=True
        )
        .exclude(pk=run.pk)
        .first()
        if fields["eval_id"]
        else None
    )
    if duplicate is not None:
        raise LogFormatError(
            f"A log with eval id {fields['eval_id']!r} was uploaded before as run "
            f"{duplicate.pk}; this file is kept but not ingested a second time."
        )
    fields["metadata"] = {**mine.details.get("metadata", {}), **run.metadata}
    try:
        with transaction.atomic():
            EvaluationRun.objects.filter(pk=run.pk).update(**fields)
    except IntegrityError:  # the same eval id, committed by another upload meanwhile
        raise LogFormatError(
            f"A log with eval id {fields['eval_id']!r} was uploaded before; this file is kept "
            "but not ingested a second time."
        ) from None
    known = set(
        EvaluationRun.objects.filter(
            project_id=run.project_id,
            eval_id__in=[h.eval_id for h in headers if h.eval_id],
            superseded_at__isnull=True,
        ).values_list("eval_id", flat=True)
    )
    for other in headers:
        if other is mine or (other.eval_id and other.eval_id in known):
            continue
        sibling = EvaluationRun.objects.create(
            project_id=run.project_id,
            log_file=run.log_file,
            metadata={**other.details.get("metadata", {}), **run.metadata},
            **_run_fields(other),
        )
        transaction.on_commit(lambda pk=sibling.pk: _send_ingest(pk), robust=True)
    run.refresh_from_db()
    return run


MAX_COUNT = 2**63 - 1  # what a 64-bit database column holds


def _too_many_score_names(limit: int) -> str:
    return (
        f"The log has more than {limit:,} distinct score names (limit "
        f"EVIDENCE_MAX_SCORE_NAMES); name fewer scores per run."
    )


def _over_time_limit() -> str:
    return (
        f"Ingestion took longer than the time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} "
        "seconds (TASK_SOFT_TIME_LIMIT) and was stopped; split the log into smaller runs."
    )


def _check_header_caps(header: ParsedHeader) -> None:
    limit = conf.setting("MAX_METRICS")
    if len(header.metrics) > limit:
        raise LogFormatError(
            f"The log reports {len(header.metrics):,} metrics, more than the limit of "
            f"{limit:,} (EVIDENCE_MAX_METRICS)."
        )
    names = conf.setting("MAX_SCORE_NAMES")
    if len({t.name for t in header.tallies}) > names:
        raise LogFormatError(_too_many_score_names(names))


def _checked_counts(counts: list[ScoreCount]) -> list[ScoreCount]:
    """The run's score counts (per sample, and totals reported without per-sample rows),
    refused with a sentence when there are too many names or a count is not a whole number
    with 0 <= successes <= trials < 2^63."""
    limit = conf.setting("MAX_SCORE_NAMES")
    if len(counts) > limit:
        raise LogFormatError(_too_many_score_names(limit))
    for count in counts:
        for k, n in ((count.k, count.n), (count.k_trials, count.n_trials)):
            if n is None:
                continue
            n_ok = _whole(n) and 0 <= n <= MAX_COUNT
            if not n_ok or not (k is None or (_whole(k) and 0 <= k <= n)):
                raise LogFormatError(
                    f"The counts of score {count.name[:100]!r} are not whole numbers with "
                    f"0 ≤ successes ≤ trials < 2^63: successes {k!r}, trials {n!r}."
                )
    return counts


def _whole(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int)


def _store_results(
    run: EvaluationRun,
    header: ParsedHeader,
    counts: list[ScoreCount],
    sample_count: int,
    error_count: int,
) -> EvaluationRun | None:
    """Metrics, statistics and the ingested status in one transaction; None when a samples
    file was attached while the log was parsed (the caller parses again)."""
    with transaction.atomic():
        RunMetric.objects.filter(run=run).delete()
        RunStatistic.objects.filter(run=run).delete()
        RunMetric.objects.bulk_create(
            RunMetric(
                run=run,
                name=m.name[:200],
                scorer=m.scorer[:200],
                reducer=m.reducer[:100],
                metric=m.metric[:200],
                group=m.group[:200],
                value=m.value,
            )
            for m in header.metrics
        )
        RunStatistic.objects.bulk_create(_statistic_row(run, count) for count in counts)
        parsed_samples_file = run.samples_file_id
        run = EvaluationRun.objects.select_for_update().get(pk=run.pk)
        if run.samples_file_id != parsed_samples_file:
            # A samples file was attached while we parsed: parse again with it.
            transaction.set_rollback(True)
            return None
        run.status = RunStatus.INGESTED
        run.error = ""
        run.sample_count = sample_count
        run.error_count = error_count
        run.progress = sample_count
        run.ingested_at = timezone.now()
        run.save()
        transaction.on_commit(lambda: run_ingested.send(sender=EvaluationRun, run=run))
    return run


def _store_samples(run: EvaluationRun, header: ParsedHeader, samples: Iterator[ParsedSample]):
    batch_size = conf.setting("SAMPLE_BATCH_SIZE")
    # Celery's soft limit interrupts from outside (prefork pool only); this deadline is
    # checked between batches as well, so any pool stops at the same point.
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT
    max_id = conf.setting("MAX_SAMPLE_ID_CHARS")
    max_names = conf.setting("MAX_SCORE_NAMES")
    tally = ScoreTally(header, max_names=max_names)
    batch: list[tuple] = []
    stored = errors = 0
    for sample in samples:
        if len(sample.sample_id) > max_id:
            # Cutting it could make two samples one; the whole log is refused instead.
            raise LogFormatError(
                f"Sample id {sample.sample_id[:40]!r}… is {len(sample.sample_id):,} characters "
                f"long; at most {max_id:,} are accepted (EVIDENCE_MAX_SAMPLE_ID_CHARS)."
            )
        if len(sample.scores) > max_names:
            raise LogFormatError(_too_many_score_names(max_names))
        tally.add(sample)
        errors += bool(sample.error)
        batch.append(
            (
                run.pk,
                sample.sample_id,
                sample.epoch,
                _json_text(
                    {
                        name: {"value": s.value, "correct": s.correct, "raw": s.raw}
                        for name, s in sample.scores.items()
                    }
                ),
                sample.error,
                _json_text(sample.metadata),
            )
        )
        if len(batch) >= batch_size:
            stored += _flush(run, batch)
            if time.monotonic() > deadline:
                raise SoftTimeLimitExceeded()
    stored += _flush(run, batch)
    return stored, errors, tally


SAMPLE_COLUMNS = ("run_id", "sample_id", "epoch", "scores", "error", "metadata")


def _json_text(value: Any) -> str:
    # Parsers hand over JSON-safe values (no NaN/Infinity), which both databases accept.
    return orjson.dumps(value).decode()


def _flush(run: EvaluationRun, batch: list[tuple]) -> int:
    """Write a batch of sample rows in one statement (COPY on PostgreSQL), bypassing the ORM's
    per-field preparation, which costs more than parsing the samples."""
    if not batch:
        return 0
    table = connection.ops.quote_name(SampleResult._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in SAMPLE_COLUMNS)
    # One transaction per batch: SQLite in autocommit mode would otherwise commit every row.
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(SAMPLE_COLUMNS))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", batch)
    count = len(batch)
    batch.clear()
    # Progress is committed on its own so that the API shows it while parsing goes on; the
    # heartbeat tells the sweeper this worker is alive.
    EvaluationRun.objects.filter(pk=run.pk).update(
        progress=F("progress") + count, heartbeat_at=timezone.now()
    )
    return count


def _statistic_row(run: EvaluationRun, count: ScoreCount) -> RunStatistic:
    binary = count.k is not None
    # Binomial bounds only where the sample values are 0/1; a numeric score has mean/stderr.
    stats = run_statistics(count.k, count.n) if binary else None
    return RunStatistic(
        run=run,
        name=count.name[:200],
        kind=RunStatistic.Kind.BINARY if binary else RunStatistic.Kind.NUMERIC,
        reducer=count.reducer[:100],
        k=count.k,
        n=count.n,
        mean=count.mean,
        stderr=count.stderr,
        k_trials=count.k_trials,
        n_trials=count.n_trials,
        k_any=count.k_any,
        partial_trials=count.partial_trials,
        no_answer_trials=count.no_answer_trials,
        unscored=count.unscored,
        rate=stats.rate if stats else None,
        cp_lower=stats.cp_lower if stats else None,
        cp_upper=stats.cp_upper if stats else None,
        cp_lower_one_sided=stats.cp_lower_one_sided if stats else None,
        cp_upper_one_sided=stats.cp_upper_one_sided if stats else None,
        wilson_lower=stats.wilson_lower if stats else None,
        wilson_upper=stats.wilson_upper if stats else None,
        wilson_lower_one_sided=stats.wilson_lower_one_sided if stats else None,
        wilson_upper_one_sided=stats.wilson_upper_one_sided if stats else None,
    )


def _fail(run: EvaluationRun, reason: str) -> EvaluationRun:
    with transaction.atomic():
        SampleResult.objects.filter(run=run).delete()
        RunMetric.objects.filter(run=run).delete()
        RunStatistic.objects.filter(run=run).delete()
        EvaluationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error=reason, progress=0, sample_count=0
        )
        transaction.on_commit(
            lambda: run_failed.send(sender=EvaluationRun, run=run, reason=reason), robust=True
        )
    run.refresh_from_db()
    return run


def _local_file(log_file: LogFile):
    return storage.local_path(log_file)


@contextlib.contextmanager
def _optional_local_file(log_file: LogFile | None) -> Iterator[Path | None]:
    if log_file is None:
        yield None
        return
    with _local_file(log_file) as path:
        yield path


# ---------------------------------------------------------------------------------------------
# Housekeeping


@dataclass
class OrphanFile:
    name: str  # storage name, e.g. logs/ab/ab12….json
    size: int


def log_files_orphaned(*, min_age_seconds: int = 3600) -> list[OrphanFile]:
    """Stored log files no LogFile row points at (left by a crash between storing a file and
    committing its row). Files younger than `min_age_seconds` are left alone: their upload may
    still be committing."""
    from django.core.files.storage import default_storage

    known = set(LogFile.objects.values_list("file", flat=True))
    cutoff = timezone.now() - timedelta(seconds=min_age_seconds)
    orphans: list[OrphanFile] = []
    pending = ["logs"]
    while pending:
        folder = pending.pop()
        try:
            folders, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        pending.extend(f"{folder}/{name}" for name in folders)
        for name in files:
            path = f"{folder}/{name}"
            if path in known or default_storage.get_modified_time(path) > cutoff:
                continue
            orphans.append(OrphanFile(name=path, size=default_storage.size(path)))
    return sorted(orphans, key=lambda orphan: orphan.name)


def log_files_remove(*, orphans: Iterable[OrphanFile]) -> int:
    """Remove the given orphaned files, checking again that no row points at them."""
    from django.core.files.storage import default_storage

    removed = 0
    for orphan in orphans:
        if LogFile.objects.filter(file=orphan.name).exists():
            continue
        default_storage.delete(orphan.name)
        removed += 1
    return removed
