"""Writes for evaluation evidence: accepting uploads and ingesting runs.

Upload (`log_submit`) runs in the web request: it stores the original file under its sha256,
reads only the log's header (cheap) to learn the runs it holds and their harness ids, and creates
the runs as `queued`; parsing is enqueued when the transaction commits. Ingestion
(`run_ingest`) runs in a Celery worker and is safe to run twice: it starts by removing whatever
an interrupted attempt left, writes samples in batches (progress is visible meanwhile), and either
finishes with status `ingested` or removes every sample row again and records `failed` with a
reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import orjson
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evidence import conf, parsers
from evidence.choices import LogFormat, RunStatus
from evidence.models import EvaluationRun, LogFile, RunMetric, RunStatistic, SampleResult
from evidence.parsers.base import LogFormatError, ParsedHeader, ParsedSample
from evidence.signals import run_ingested
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


def log_submit(*, upload, metadata: dict[str, Any] | None = None, uploaded_by=None) -> SubmitResult:
    """Accept one uploaded log file (a Django UploadedFile or any binary file with a name)."""
    metadata = metadata or {}
    with _local_copy_of_upload(upload) as (path, sha256, size):
        existing = LogFile.objects.filter(sha256=sha256).first()
        if existing is not None:
            runs = list(existing.runs.all()) or list(existing.sample_runs.all())
            return SubmitResult(runs=runs, created=False, log_file=existing)
        try:
            headers = parsers.read_headers(path, limits=conf.limits())
        except LogFormatError as exc:
            return _store_unreadable(path, upload_name(upload), sha256, size, str(exc), uploaded_by)

        if headers[0].format == LogFormat.LM_EVAL_SAMPLES:
            return _attach_samples_file(
                path, upload_name(upload), sha256, size, headers[0], uploaded_by
            )

        known = _runs_with_eval_ids([h.eval_id for h in headers if h.eval_id])
        if known and len(known) == len(headers):
            return SubmitResult(runs=known, created=False)
        new_headers = [h for h in headers if h.eval_id not in {r.eval_id for r in known}]
        with transaction.atomic():
            log_file = _store_file(
                path, upload_name(upload), sha256, size, headers[0].format, uploaded_by
            )
            runs = [
                EvaluationRun.objects.create(
                    log_file=log_file,
                    # Provenance the log itself carries (generic files), overridden by what
                    # the uploader sent.
                    metadata={**header.details.get("metadata", {}), **metadata},
                    **_run_fields(header),
                )
                for header in new_headers
            ]
            for run in runs:
                _enqueue_ingest(run.pk)
        return SubmitResult(runs=known + runs, created=True, log_file=log_file)


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


def _store_file(path: Path, name: str, sha256: str, size: int, format: str, uploaded_by) -> LogFile:
    """Store the upload (the temporary file at `path` is consumed) and its LogFile row."""
    log_file = LogFile(name=name, size=size, sha256=sha256, format=format, uploaded_by=uploaded_by)
    with open(path, "rb") as handle:
        log_file.file.save(name, _SpooledUpload(handle, name=str(path)), save=False)
    log_file.save()
    return log_file


def _store_unreadable(path, name, sha256, size, reason, uploaded_by) -> SubmitResult:
    """Keep the file and record a failed run, so nothing sent to us is lost silently."""
    with transaction.atomic():
        log_file = _store_file(path, name, sha256, size, LogFormat.UNKNOWN, uploaded_by)
        run = EvaluationRun.objects.create(
            log_file=log_file, status=RunStatus.FAILED, error=reason, format=LogFormat.UNKNOWN
        )
    return SubmitResult(runs=[run], created=True, log_file=log_file, failed=True)


def _attach_samples_file(
    path, name, sha256, size, header: ParsedHeader, uploaded_by
) -> SubmitResult:
    """An lm-evaluation-harness samples file: attach it to the results run it belongs to."""
    # The samples file names no run; lm-eval's task hash over its documents identifies it.
    task_hash = header.details.get("task_hash", "")
    run = (
        EvaluationRun.objects.filter(format=LogFormat.LM_EVAL, details__task_hash=task_hash)
        .order_by("-id")
        .first()
        if task_hash
        else None
    )
    if run is None:
        return _store_unreadable(
            path,
            name,
            sha256,
            size,
            "This lm-evaluation-harness samples file matches no uploaded results file (no run "
            "has its task hash); upload the results_*.json of the same run first, or both "
            "together.",
            uploaded_by,
        )
    with transaction.atomic():
        log_file = _store_file(path, name, sha256, size, LogFormat.LM_EVAL_SAMPLES, uploaded_by)
        run = EvaluationRun.objects.select_for_update().get(pk=run.pk)
        run.samples_file = log_file
        run.status = RunStatus.QUEUED
        run.error = ""
        run.save(update_fields=["samples_file", "status", "error"])
        _enqueue_ingest(run.pk)
    return SubmitResult(runs=[run], created=True, log_file=log_file)


def _runs_with_eval_ids(eval_ids: Iterable[str]) -> list[EvaluationRun]:
    ids = [i for i in eval_ids if i]
    return list(EvaluationRun.objects.filter(eval_id__in=ids)) if ids else []


def _run_fields(header: ParsedHeader) -> dict[str, Any]:
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


def _enqueue_ingest(run_id: int) -> None:
    from evidence.tasks import ingest_run

    # robust: with the broker down the upload still succeeds; the run stays `queued` and
    # `runs_requeue` (every few minutes, from beat) sends it again.
    transaction.on_commit(lambda: ingest_run.delay(run_id), robust=True)


def runs_requeue(*, older_than_seconds: int = 120) -> list[int]:
    """Enqueue again the runs still `queued` after a while (their job was never delivered,
    e.g. because the broker was down when they were uploaded). Returns their ids."""
    from evidence.tasks import ingest_run

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    run_ids = list(
        EvaluationRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for run_id in run_ids:
        ingest_run.delay(run_id)
    return run_ids


# ---------------------------------------------------------------------------------------------
# Ingestion (worker side)


class ScoreTally:
    """Counts a run's scores per sample while samples stream past (see evidence/tally.py):
    each sample's epochs are reduced with the log's own reducer (Inspect's
    `eval.config.epochs_reducer`, else Inspect's default `mean`), then counted."""

    def __init__(self, header: ParsedHeader) -> None:
        epochs = header.details.get("epochs")
        self.epochs = epochs if isinstance(epochs, int) and epochs > 1 else 1
        self.declared_reducer = declared_reducer(header.details.get("epochs_reducer"))
        self.tally = EpochTally(self.declared_reducer, epochs=self.epochs)
        self.totals = list(header.tallies)  # totals reported without per-sample rows

    def add(self, sample: ParsedSample) -> None:
        if sample.error:
            return  # an errored sample is not a trial of the behaviour being measured
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


def run_ingest(*, run_id: int) -> EvaluationRun:
    """Parse a queued run's log into samples, metrics and statistics. Safe to run twice."""
    run = EvaluationRun.objects.select_related("log_file", "samples_file").get(pk=run_id)
    if run.status in (RunStatus.INGESTED, RunStatus.FAILED):
        return run
    EvaluationRun.objects.filter(pk=run.pk).update(status=RunStatus.PARSING, progress=0)
    # Rows an interrupted attempt (a killed worker) left behind.
    SampleResult.objects.filter(run=run).delete()
    try:
        with (
            _local_file(run.log_file) as path,
            _optional_local_file(run.samples_file) as samples_path,
        ):
            header, samples = parsers.open_run(
                path,
                eval_id=run.eval_id,
                task=run.task,
                samples_path=samples_path,
                limits=conf.limits(),
            )
            sample_count, error_count, tally = _store_samples(run, header, samples)
    except LogFormatError as exc:
        return _fail(run, str(exc))
    except Exception:
        # Unexpected (database down, a bug): leave nothing partial; the task decides on retry.
        SampleResult.objects.filter(run=run).delete()
        EvaluationRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, progress=0)
        raise
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
        RunStatistic.objects.bulk_create(_statistic_row(run, count) for count in tally.counts())
        run.refresh_from_db()
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
    tally = ScoreTally(header)
    batch: list[tuple] = []
    stored = errors = 0
    for sample in samples:
        tally.add(sample)
        errors += bool(sample.error)
        batch.append(
            (
                run.pk,
                sample.sample_id[:300],
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
    # Progress is committed on its own so that the API shows it while parsing goes on.
    EvaluationRun.objects.filter(pk=run.pk).update(progress=F("progress") + count)
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
    run.refresh_from_db()
    return run


@contextlib.contextmanager
def _local_file(log_file: LogFile) -> Iterator[Path]:
    """A local path for a stored log: the file itself on local storage, else a temporary copy."""
    try:
        local_path = Path(log_file.file.path)
    except NotImplementedError:  # remote storage (S3 and the like)
        local_path = None
    if local_path is not None:
        yield local_path
        return
    with log_file.file.open("rb") as source, tempfile.NamedTemporaryFile(delete=False) as tmp:
        shutil.copyfileobj(source, tmp, 1 << 20)
    try:
        yield Path(tmp.name)
    finally:
        os.unlink(tmp.name)


@contextlib.contextmanager
def _optional_local_file(log_file: LogFile | None) -> Iterator[Path | None]:
    if log_file is None:
        yield None
        return
    with _local_file(log_file) as path:
        yield path
