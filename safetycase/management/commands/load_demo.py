"""`manage.py load_demo`: the demo scheming case and its evidence (see docs/demo.md)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from evidence import projects as evidence_projects
from evidence import services as evidence_services
from evidence.choices import RunStatus
from evidence.models import EvaluationRun, Project
from safetycase import services
from safetycase.choices import Role
from safetycase.errors import ApplicationError
from safetycase.models import Link, SafetyCase

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
CASE_FILE = DEMO_DIR / "case.yaml"
RUNS_DIR = DEMO_DIR / "runs"


def read_spec(path: Path = CASE_FILE) -> dict[str, Any]:
    """The demo's case fields, template, template parameters and reference date."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    reference = spec["reference_date"]
    spec["reference_date"] = (
        reference if isinstance(reference, date) else date.fromisoformat(reference)
    )
    return spec


def shift_run_dates(document: dict[str, Any], days: int) -> dict[str, Any]:
    """A copy of a generic run document with run.started_at / run.completed_at moved by `days`."""
    run = dict(document["run"])
    for key in ("started_at", "completed_at"):
        if run.get(key):
            stamp = datetime.fromisoformat(run[key]) + timedelta(days=days)
            run[key] = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {**document, "run": run}


def demo_documents(*, today: date, spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(file name, run document) for every demo run, dated as if `today` were the reference date
    of the run files: each run keeps the age in days it has in the files."""
    days = (today - spec["reference_date"]).days
    return [
        (path.name, shift_run_dates(json.loads(path.read_text(encoding="utf-8")), days))
        for path in sorted(RUNS_DIR.glob("*.json"))
    ]


class Command(BaseCommand):
    help = (
        "Load the demo scheming case: a fictional model (Halcyon-4) in an internal research-agent "
        "deployment, argued with the ROOT template and all four arguments (SI, HI, HC, AL), "
        "with evidence runs made from published figures (safetycase/demo/, docs/demo.md). The "
        "runs are uploaded like harness logs and ingested in this process when no Celery "
        "broker is configured, else by the workers; their dates are moved so that each keeps "
        "its age. Case and runs go into project PROJECT (default: demo, created if missing). "
        "OWNER (default: admin) becomes an owner of the project and of the case. Running it "
        "again adds nothing: an "
        "existing demo case is kept as it is (OWNER is made an owner of it) and runs already "
        "uploaded are recognised by their run id. --reviewer NAME makes the existing user NAME "
        "a reviewer of the project and of the case, who can sign off versions (owners and "
        "authors cannot)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="admin", help="Username made owner of the case.")
        parser.add_argument("--project", default="demo", help="Name of the demo's project.")
        parser.add_argument(
            "--reviewer", metavar="NAME", help="Username made a reviewer of the case."
        )

    def handle(self, *args, owner, project, reviewer=None, **options):
        user = self._user(owner)
        reviewing = self._user(reviewer) if reviewer else None
        if reviewing is not None and reviewing == user:
            raise CommandError("The owner cannot also be the reviewer: pick another user.")
        spec = read_spec()
        self.project = self._project(project, user)
        case = self._case(spec, user)
        self.stdout.write(f"Project {self.project.name!r}: {user.username} is an owner.")
        if reviewing is not None:
            evidence_projects.project_member_set(
                project=self.project, user=reviewing, role=Role.REVIEWER
            )
            services.membership_set(case=case, user=reviewing, role=Role.REVIEWER)
            self.stdout.write(f"{reviewing.username} is a reviewer and can sign off versions.")
        uploaded = self._evidence(spec, user)
        if uploaded or not case.assessments.exists():
            # One assessment of the whole picture (each ingested run also triggered one).
            result = services.case_assess(case=case, trigger="manual", detail="demo loaded")
            counts = ", ".join(f"{n} {s}" for s, n in sorted(result.summary["statuses"].items()))
            self.stdout.write(
                f"Assessment: overall {result.overall_status or 'unknown'}; {counts}; "
                f"{result.summary['flag_count']} flags."
            )
        self.stdout.write("What each run is meant to show: docs/demo.md.")

    def _user(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}; run `manage.py setup_admin` first.")
        return user

    def _project(self, name: str, user) -> Project:
        project = Project.objects.filter(name=name).first()
        try:
            if project is None:
                project = evidence_projects.project_create(name=name, owner=user)
            else:
                evidence_projects.project_member_set(project=project, user=user, role="owner")
        except evidence_projects.ProjectRefused as exc:
            raise CommandError(exc.message) from exc
        return project

    def _case(self, spec: dict[str, Any], user) -> SafetyCase:
        fields = spec["case"]
        case = SafetyCase.objects.filter(project=self.project, name=fields["name"]).first()
        if case is not None:
            services.membership_set(case=case, user=user, role=Role.OWNER)
            self.stdout.write(
                f"The demo case {case.name!r} is already loaded (id {case.pk}); "
                f"{user.username} is an owner."
            )
            return case
        try:
            case = services.case_instantiate_template(
                name=fields["name"],
                template=spec["template"],
                parameters=spec["parameters"],
                model_name=fields["model_name"],
                model_version=str(fields["model_version"]),
                deployment=fields["deployment"],
                description=fields["description"],
                owner=user,
                project=self.project,
            )
            for obligation in spec.get("open_obligations", []):
                self._add_open_obligation(case, obligation)
        except ApplicationError as exc:  # the shipped demo must instantiate; tests guard this
            raise CommandError(f"The demo case cannot be built: {exc.message}") from exc
        self.stdout.write(
            f"Created the demo case {case.name!r} (id {case.pk}) from template "
            f"{spec['template']}: {case.nodes.count()} nodes, {case.links.count()} links, "
            f"{case.bindings.count()} evidence bindings and checks; "
            f"{user.username} is an owner."
        )
        return case

    def _add_open_obligation(self, case: SafetyCase, obligation: dict[str, str]) -> None:
        """An undeveloped goal beside an instantiated one (same parents): a claim the authors
        know the argument needs but have not argued yet."""
        services.node_create_do(
            case=case,
            identifier=obligation["identifier"],
            type="goal",
            statement=obligation["statement"],
            undeveloped=True,
        )
        parents = Link.objects.filter(
            case=case, target__identifier=obligation["beside"], type="supported_by"
        ).select_related("source")
        for link in parents:
            services.link_create_do(
                case=case,
                source=link.source.identifier,
                target=obligation["identifier"],
                type="supported_by",
            )

    def _evidence(self, spec: dict[str, Any], user) -> int:
        """Upload the demo runs; returns how many were new."""
        new = old = 0
        runs = []
        for name, document in demo_documents(today=timezone.now().date(), spec=spec):
            # Loaded on an earlier day, a run's dates (hence its bytes) differ; the run id
            # recognises it, rather than superseding it with the same evidence re-dated.
            loaded = EvaluationRun.objects.filter(
                project=self.project, eval_id=document["run"]["id"], superseded_at__isnull=True
            ).first()
            if loaded is not None:
                old += 1
                runs.append((name, loaded))
                continue
            upload = io.BytesIO(json.dumps(document, indent=2, ensure_ascii=False).encode())
            upload.name = name
            try:
                # Criteria read a run's upload metadata as `meta`, so the file's metadata is sent
                # as upload metadata too, as a harness posting to the API would send it.
                result = evidence_services.log_submit(
                    upload=upload,
                    metadata=document.get("metadata") or {},
                    uploaded_by=user,
                    project=self.project,
                )
            except evidence_services.UploadRefused as exc:
                raise CommandError(f"{name}: {exc.message}") from exc
            new += result.created
            old += not result.created
            runs += [(name, run) for run in result.runs]
        statuses: dict[str, int] = {}
        failed = []
        for name, run in runs:
            run.refresh_from_db()
            statuses[run.status] = statuses.get(run.status, 0) + 1
            if run.status == RunStatus.FAILED:
                failed.append(f"{name}: run {run.pk} failed: {run.error}")
        counts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        waiting = statuses.get(RunStatus.QUEUED, 0) + statuses.get(RunStatus.PARSING, 0)
        self.stdout.write(
            f"Evidence: {len(runs)} runs ({new} uploaded now, {old} already there): {counts}"
            + ("; the Celery workers ingest the rest." if waiting else ".")
        )
        for line in failed:
            self.stderr.write(line)
        if failed:  # the shipped run files must ingest; tests guard this
            raise CommandError(f"{len(failed)} demo run(s) failed to ingest.")
        return new
