from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from evidence.choices import LogFormat, ProjectRole, RunStatus, StatisticKind

# Projects live here, in the lower layer, and not in `safetycase`: every run belongs to a
# project, and the evidence app decides alone which runs an uploader may de-duplicate against
# and who may read a run, so it must know projects, their members and their shares without
# importing the argument app (DESIGN: `evidence` never imports `safetycase`). Cases and API
# tokens point here with their own foreign keys.


class Project(models.Model):
    """The tenant: an organisation's or a team's workspace. It owns cases, evaluation runs and
    API tokens; its members' roles apply to all its cases unless a case says otherwise."""

    name = models.CharField(
        max_length=100,
        unique=True,
        help_text="Unique; used by `--project` and the `project` upload field.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    required_signatures = models.PositiveSmallIntegerField(
        default=1,
        help_text="Reviewer signatures a version of a case needs before it counts as signed off.",
    )
    attestation_expiry_days = models.PositiveSmallIntegerField(
        default=180,
        help_text="Days until a new attestation expires, unless the reviewer gives a date.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMembership", related_name="projects"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProjectMembership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=20, choices=ProjectRole.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_project_membership"),
            models.CheckConstraint(
                condition=models.Q(role__in=ProjectRole.values), name="project_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} of project {self.project}"


class Share(models.Model):
    """Runs of one project made usable by the cases of another: the listed runs, or every
    run matching `selector` ({"task": name or list, "model": name}; empty keys match all), or
    both. Revoking keeps the row (who, when) so the trail stays whole."""

    from_project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="shares_given")
    to_project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="shares_received"
    )
    runs = models.ManyToManyField("EvaluationRun", blank=True, related_name="shares")
    selector = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["from_project", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"share {self.pk}: {self.from_project} → {self.to_project}"


def log_upload_path(instance: LogFile, filename: str) -> str:
    # Content-addressed within the project: the same bytes land at the same path in one
    # project, and two projects never share (or delete) each other's file.
    suffix = (
        "".join(c for c in filename.rsplit(".", 1)[-1][:10] if c.isalnum())
        if "." in filename
        else ""
    )
    name = f"{instance.sha256}{'.' + suffix if suffix else ''}"
    return f"logs/p{instance.project_id}/{instance.sha256[:2]}/{name}"


class LogFile(models.Model):
    """An uploaded original log, stored unchanged. One file can hold several runs (an
    lm-evaluation-harness results file covers several tasks)."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="log_files")
    file = models.FileField(upload_to=log_upload_path, max_length=300)
    name = models.CharField(max_length=300, help_text="File name as uploaded.")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # lm-evaluation-harness samples files: the task hash that matches them to their results.
    task_hash = models.CharField(max_length=100, blank=True, db_index=True)
    # A samples file no results run has taken yet (posted before its results, or posted again
    # when every run of its task already had it): the next results of its task take it.
    awaiting_results = models.BooleanField(default=False)
    format = models.CharField(max_length=20, choices=LogFormat.choices, default=LogFormat.UNKNOWN)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "sha256"], name="log_sha256_unique_in_project"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class EvaluationRun(models.Model):
    """One evaluation run ingested from a harness log: identity, status, metrics, statistics."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True, help_text="Why ingestion failed, for the harness author.")
    # A newer log with the same harness id (a re-scored or completed log, or one after a
    # failure) supersedes this run: it stays for the record, but no binding reads it.
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    # What the log's header says (status, dates, counts, metrics), hashed: the same log
    # exported again (Inspect .json and .eval) has the same; a re-scored one does not.
    header_sha256 = models.CharField(max_length=64, blank=True)
    log_file = models.ForeignKey(LogFile, on_delete=models.PROTECT, related_name="runs")
    # An lm-evaluation-harness samples file attached to its results run.
    samples_file = models.ForeignKey(
        LogFile, null=True, blank=True, on_delete=models.PROTECT, related_name="sample_runs"
    )
    format = models.CharField(max_length=20, choices=LogFormat.choices, default=LogFormat.UNKNOWN)
    harness = models.CharField(max_length=50, blank=True)
    harness_version = models.CharField(max_length=50, blank=True)
    eval_id = models.CharField(max_length=300, blank=True, help_text="The harness's id of the log.")
    harness_run_id = models.CharField(max_length=300, blank=True)
    task = models.CharField(max_length=300, blank=True)
    task_version = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=300, blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    log_status = models.CharField(max_length=30, blank=True, help_text="The harness's own status.")
    log_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    total_samples = models.BigIntegerField(null=True, blank=True)
    completed_samples = models.BigIntegerField(null=True, blank=True)
    sample_count = models.IntegerField(default=0, help_text="Sample results stored.")
    error_count = models.IntegerField(default=0, help_text="Samples the harness marked errored.")
    progress = models.IntegerField(default=0, help_text="Samples parsed so far while parsing.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker parsing the run."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Ingestion attempts started (the sweeper fails the run past a limit)."
    )
    sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the broker last accepted the run's ingestion job (empty: not since it "
        "was queued, e.g. the broker was down).",
    )
    metadata = models.JSONField(default=dict, blank=True, help_text="Provenance sent on upload.")
    details = models.JSONField(default=dict, blank=True, help_text="Provenance from the log.")
    created_at = models.DateTimeField(auto_now_add=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("ingest_run", "Can upload evaluation logs")]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "eval_id"],
                condition=~models.Q(eval_id="") & models.Q(superseded_at__isnull=True),
                name="run_eval_id_unique_in_project",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=RunStatus.values), name="run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["project", "task", "model", "status"])]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.task or '?'} on {self.model or '?'} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("api_run_detail", args=[self.pk])


class RunMetric(models.Model):
    """An aggregate metric as the harness reported it."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=200)
    scorer = models.CharField(max_length=200)
    reducer = models.CharField(max_length=100, blank=True)
    metric = models.CharField(max_length=200)
    group = models.CharField(max_length=200, blank=True)
    value = models.FloatField(null=True)

    class Meta:
        ordering = ["run", "name", "scorer", "reducer", "metric", "group"]

    def __str__(self) -> str:
        return f"{self.name}/{self.reducer or '-'}/{self.metric} = {self.value}"


class RunStatistic(models.Model):
    """What one score of a run counts to, per sample (epochs reduced first; see
    evidence/tally.py): successes k of samples n with 95% Clopper–Pearson and Wilson bounds for a
    binary score, mean and standard error for every score, and the trial-level counts beside."""

    Kind = StatisticKind

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="statistics")
    name = models.CharField(max_length=200, help_text="Score name.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BINARY)
    reducer = models.CharField(
        max_length=100,
        blank=True,
        help_text="How each sample's epochs were reduced to one value; empty for one epoch.",
    )
    k = models.BigIntegerField(
        null=True, blank=True, help_text="Samples whose value is 1; empty for a numeric score."
    )
    n = models.BigIntegerField(help_text="Samples scored (errored and unscored samples excluded).")
    rate = models.FloatField(null=True)
    mean = models.FloatField(null=True, blank=True, help_text="Mean of the samples' values.")
    stderr = models.FloatField(
        null=True, blank=True, help_text="Standard error of that mean (sd / sqrt(n))."
    )
    k_trials = models.IntegerField(
        null=True, blank=True, help_text="Trials (sample x epoch) with value 1."
    )
    n_trials = models.IntegerField(
        null=True, blank=True, help_text="Trials scored (sample x epoch); empty for totals."
    )
    k_any = models.IntegerField(
        null=True, blank=True, help_text="Samples where any epoch had value 1."
    )
    partial_trials = models.IntegerField(default=0, help_text="Trials scored P (partial).")
    no_answer_trials = models.IntegerField(
        default=0, help_text="Trials scored N (no answer, a refusal)."
    )
    unscored = models.IntegerField(default=0, help_text="Samples with no value for this score.")
    cp_lower = models.FloatField(null=True, help_text="Clopper–Pearson two-sided 95% lower.")
    cp_upper = models.FloatField(null=True, help_text="Clopper–Pearson two-sided 95% upper.")
    cp_lower_one_sided = models.FloatField(null=True)
    cp_upper_one_sided = models.FloatField(null=True)
    wilson_lower = models.FloatField(null=True)
    wilson_upper = models.FloatField(null=True)
    wilson_lower_one_sided = models.FloatField(null=True)
    wilson_upper_one_sided = models.FloatField(null=True)

    class Meta:
        ordering = ["run", "name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="one_statistic_per_score"),
            models.CheckConstraint(
                condition=models.Q(kind="numeric", k__isnull=True)
                | models.Q(kind="binary", k__isnull=False),
                name="statistic_k_only_when_binary",
            ),
        ]

    def __str__(self) -> str:
        if self.k is None:
            return f"{self.name}: mean {self.mean} over {self.n}"
        return f"{self.name}: {self.k}/{self.n}"


class SampleResult(models.Model):
    """One sample × epoch of a run with its normalized scores."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="samples")
    sample_id = models.CharField(max_length=300)
    epoch = models.IntegerField(default=1)
    # {score name: {"value": float|null, "correct": bool|null, "raw": json}}
    scores = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "sample_id", "epoch"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "sample_id", "epoch"], name="one_result_per_sample_epoch"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} epoch {self.epoch}"


class GraderAudit(models.Model):
    """A reviewer's check of how one score of one sample was graded: right or wrong, with a
    note. The latest audit of a (sample, score) counts; the earlier ones stay as the trail."""

    class Verdict(models.TextChoices):
        WRONG = "wrong", "graded wrong"
        RIGHT = "right", "graded right"

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="audits")
    sample = models.ForeignKey(SampleResult, on_delete=models.CASCADE, related_name="audits")
    score = models.CharField(max_length=200, help_text="The score name audited.")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    note = models.TextField(blank=True)
    audited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(verdict__in=["wrong", "right"]), name="audit_verdict_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample} {self.score}: {self.verdict}"
