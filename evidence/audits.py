"""Grader audits: a reviewer reads a sample's transcript and says whether one of its scores
was graded right or wrong, with a note; each run then shows, per score, how often its grader
was found wrong among the samples audited, with a 95% interval.

Who may audit a run's grading: those who may see the run and review with it, that is owners,
authors and reviewers of a project that may use the run (its own, or one it is shared with),
and reviewers of a case of such a project. Viewers read audits but do not make them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from evidence import projects
from evidence.choices import ProjectRole
from evidence.models import EvaluationRun, GraderAudit, Project, SampleResult
from evidence.statistics import cp_interval

MAX_NOTE_CHARS = 4000
AUDITING_PROJECT_ROLES = (ProjectRole.OWNER, ProjectRole.AUTHOR, ProjectRole.REVIEWER)


class AuditRefused(Exception):
    """An audit that cannot be recorded; `status_code` 403 (may not) or 400 (bad input)."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def may_audit(*, user, run: EvaluationRun) -> bool:
    if not user.is_authenticated:
        return False
    reviewing = Q(memberships__user=user, memberships__role__in=AUDITING_PROJECT_ROLES) | Q(
        cases__memberships__user=user, cases__memberships__role=ProjectRole.REVIEWER
    )
    using = projects.projects_using_run(run=run)
    return Project.objects.filter(reviewing, pk__in=using).exists()


def audit_record(
    *, actor, run: EvaluationRun, sample: SampleResult, score: str, verdict: str, note: str
) -> GraderAudit:
    """Record the actor's verdict on how `score` of `sample` was graded."""
    if sample.run_id != run.pk:
        raise AuditRefused(f"Sample result {sample.pk} is not one of run {run.pk}.", 404)
    if not may_audit(user=actor, run=run):
        raise AuditRefused(
            "Only owners, authors and reviewers of a project using this run, or reviewers of "
            "its cases, may audit its grading.",
            403,
        )
    if score not in (sample.scores or {}):
        raise AuditRefused(f"Sample {sample.sample_id!r} has no score {score!r} to audit.")
    if verdict not in GraderAudit.Verdict.values:
        raise AuditRefused("Say whether the grading was right or wrong.")
    note = (note or "").strip()
    if verdict == GraderAudit.Verdict.WRONG and not note:
        raise AuditRefused("Say in the note why the grading is wrong.")
    if len(note) > MAX_NOTE_CHARS or "\x00" in note:
        raise AuditRefused(f"The note must be at most {MAX_NOTE_CHARS:,} characters of text.")
    return GraderAudit.objects.create(
        run=run, sample=sample, score=score, verdict=verdict, note=note, audited_by=actor
    )


@dataclass(frozen=True)
class AuditedErrorRate:
    score: str
    wrong: int  # audited samples whose latest audit says the grading was wrong
    audited: int  # samples audited for this score
    rate: float
    lower: float  # two-sided 95% Clopper–Pearson
    upper: float


def audited_error_rates(*, run: EvaluationRun) -> list[AuditedErrorRate]:
    """Per score, the grader's error rate among the audited samples (each sample x epoch
    counted once, by its latest audit), with a two-sided 95% Clopper–Pearson interval. One
    query."""
    latest: dict[tuple[str, int], str] = {}
    for score, sample_id, verdict in (
        GraderAudit.objects.filter(run=run)
        .order_by("created_at", "id")
        .values_list("score", "sample_id", "verdict")
    ):
        latest[(score, sample_id)] = verdict
    counts: dict[str, list[int]] = {}
    for (score, _), verdict in latest.items():
        wrong_audited = counts.setdefault(score, [0, 0])
        wrong_audited[0] += verdict == GraderAudit.Verdict.WRONG
        wrong_audited[1] += 1
    rates = []
    for score, (wrong, audited) in sorted(counts.items()):
        lower, upper = cp_interval(wrong, audited)
        rates.append(AuditedErrorRate(score, wrong, audited, wrong / audited, lower, upper))
    return rates


def sample_audits(*, sample: SampleResult) -> list[GraderAudit]:
    """The audits of one sample result, newest first, with their auditors."""
    return list(
        GraderAudit.objects.filter(sample=sample)
        .select_related("audited_by")
        .order_by("-created_at", "-id")
    )
