from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from evidence import projects, push, services
from evidence.models import Project


class Command(BaseCommand):
    help = (
        "Ingest evaluation logs (Inspect .eval/.json, lm-evaluation-harness results and samples "
        "files, generic run files). Each FILE is a log file, a directory of logs, or an fsspec "
        "URL of either (s3://bucket/logs, file:///data/logs; needs fsspec, and s3fs for S3: "
        "pip install 'safetycase-tracker[s3]'). In a directory, files that are no log, Inspect's "
        "eval-set.json/logs.json and logs still being written are skipped with a line saying "
        "so. Each log is stored and its runs are parsed: in this process when no Celery broker "
        "is configured, else by the workers, into project --project (may be left out when "
        "--user is a member of exactly one project, or when there is only one). Prints one "
        "line per run: id, status and task."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="File, directory or URL.")
        parser.add_argument(
            "--metadata", default="{}", help="JSON object of provenance stored with each run."
        )
        parser.add_argument("--user", help="Record this username as the uploader.")
        parser.add_argument("--project", default="", help="Name of the project to ingest into.")

    def handle(self, *args, files, metadata, user, project, **options):
        try:
            extra = json.loads(metadata)
        except ValueError as exc:
            raise CommandError(f"--metadata is not valid JSON: {exc}.") from exc
        if not isinstance(extra, dict):
            raise CommandError("--metadata must be a JSON object.")
        uploader = None
        if user:
            uploader = get_user_model().objects.filter(username=user).first()
            if uploader is None:
                raise CommandError(f"There is no user {user!r}.")
        logs = []
        for where in files:
            logs.extend(self._logs_at(where))
        target = self._project(project, uploader)
        # lm-evaluation-harness samples files attach to their results run, so results go first.
        logs.sort(key=lambda log: log.entry.name.rsplit("/", 1)[-1].startswith("samples_"))
        failures = 0
        for log in logs:
            with log.source.local_copy(log.entry) as path:
                if log.in_directory:
                    why = push.unsettled_reason(path, push.log_kind(log.entry.name), log.entry.name)
                    if why:
                        self.stdout.write(f"{log.shown}: skipped, {why}")
                        continue
                with path.open("rb") as handle:
                    upload = File(handle, name=log.entry.name.rsplit("/", 1)[-1])
                    try:
                        result = services.log_submit(
                            upload=upload, metadata=extra, uploaded_by=uploader, project=target
                        )
                    except services.UploadRefused as exc:
                        raise CommandError(f"{log.shown}: {exc.message}") from exc
            if result.pending:
                self.stdout.write(f"{log.shown}: kept until the results file of its run arrives")
            for run in result.runs:
                run.refresh_from_db()
                note = "" if result.created else " (already uploaded)"
                for line in result.notes:
                    self.stdout.write(f"{log.shown}: {line}")
                reason = f": {run.error}" if run.error else ""
                failures += run.status == "failed"
                self.stdout.write(
                    f"{log.shown}: run {run.pk} {run.status}{note} {run.task}{reason}"
                )
        if failures:
            raise CommandError(f"{failures} run(s) failed to ingest.")

    def _project(self, name: str, uploader) -> Project:
        """The named project (the uploader, if given, must be a member), the uploader's only
        project, or — with neither named — the only project there is."""
        if name and uploader is None:
            found = Project.objects.filter(name=name).first()
            if found is None:
                raise CommandError(f"There is no project named {name!r}.")
            return found
        if uploader is None:
            only = list(Project.objects.all()[:2])
            if len(only) == 1:  # e.g. the `demo` project of a `make run` checkout
                return only[0]
            raise CommandError("Say which project the logs belong to with --project NAME.")
        try:
            return projects.project_for_upload(user=uploader, name=name)
        except projects.ProjectRefused as exc:
            raise CommandError(exc.message) from exc

    def _logs_at(self, where: str) -> list[_Log]:
        """The log at `where`, or every log in the directory at `where` (a local path or an
        fsspec URL); a directory's other files are left out, Inspect's own said so."""
        try:
            if "://" not in where:
                path = Path(where)
                if path.is_file():
                    source = push.LocalLogs(path.parent)
                    return [_Log(where, source, push.Entry(path.name, 0, 0.0), False)]
                if not path.is_dir():
                    raise CommandError(f"{path} is not a file.")
                source = push.open_logs(where)
            else:
                source = push.open_logs(where)
                if source.fs.isfile(source.root):
                    parent, name = source.url.rsplit("/", 1)
                    entry = push.Entry(name, 0, 0.0)
                    return [_Log(where, push.open_logs(parent), entry, False)]
            entries = source.entries()
        except SystemExit as exc:  # fsspec is not installed
            raise CommandError(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise CommandError(f"{where} cannot be read: {exc}") from exc
        found = []
        now = time.time()
        for entry in sorted(entries, key=lambda e: e.name):
            shown = f"{where.rstrip('/')}/{entry.name}"
            if push.log_kind(entry.name) is None:
                if entry.name.rsplit("/", 1)[-1] in push.NOT_LOGS:
                    self.stdout.write(f"{shown}: skipped, not a log (written by Inspect)")
            elif now - entry.mtime < push.SETTLE_SECONDS:
                self.stdout.write(f"{shown}: skipped, still being written")
            else:
                found.append(_Log(shown, source, entry, True))
        if not found:
            raise CommandError(f"{where} holds no evaluation logs ready to ingest.")
        return found


@dataclass
class _Log:
    shown: str
    source: push.LocalLogs | push.FsspecLogs
    entry: push.Entry
    in_directory: bool  # a named file is always sent; a directory's files are checked first
