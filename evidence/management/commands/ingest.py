import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evidence import projects, services
from evidence.models import Project


class Command(BaseCommand):
    help = (
        "Ingest evaluation logs from local files (Inspect .eval/.json, lm-evaluation-harness "
        "results and samples files, generic run files). Each FILE is stored and its runs are "
        "parsed: in this process when no Celery broker is configured, else by the workers, "
        "into project --project (may be left out when --user is a member of exactly one "
        "project). Prints one line per run: id, status and task."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
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
        paths = [Path(f) for f in files]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path} is not a file.")
        target = self._project(project, uploader)
        # lm-evaluation-harness samples files attach to their results run, so results go first.
        failures = 0
        for path in sorted(paths, key=lambda p: p.name.startswith("samples_")):
            with path.open("rb") as handle:
                try:
                    result = services.log_submit(
                        upload=handle, metadata=extra, uploaded_by=uploader, project=target
                    )
                except services.UploadRefused as exc:
                    raise CommandError(f"{path}: {exc.message}") from exc
            if result.pending:
                self.stdout.write(f"{path}: kept until the results file of its run arrives")
            for run in result.runs:
                run.refresh_from_db()
                note = "" if result.created else " (already uploaded)"
                for line in result.notes:
                    self.stdout.write(f"{path}: {line}")
                reason = f": {run.error}" if run.error else ""
                failures += run.status == "failed"
                self.stdout.write(f"{path}: run {run.pk} {run.status}{note} {run.task}{reason}")
        if failures:
            raise CommandError(f"{failures} run(s) failed to ingest.")

    def _project(self, name: str, uploader) -> Project:
        """The named project (the uploader, if given, must be a member), or the uploader's
        only project."""
        if name and uploader is None:
            found = Project.objects.filter(name=name).first()
            if found is None:
                raise CommandError(f"There is no project named {name!r}.")
            return found
        if uploader is None:
            raise CommandError("Say which project the logs belong to with --project NAME.")
        try:
            return projects.project_for_upload(user=uploader, name=name)
        except projects.ProjectRefused as exc:
            raise CommandError(exc.message) from exc
