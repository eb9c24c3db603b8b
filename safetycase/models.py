from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from safetycase.choices import (
    AssessmentStatus,
    AssessmentTrigger,
    BindingKind,
    EvidencePolicy,
    LinkType,
    NodeType,
    Role,
)


class SafetyCase(models.Model):
    """One argument about one model in one deployment, in one project (evidence.Project: the
    project lives in the evidence app so that runs can belong to it without that app
    importing this one)."""

    project = models.ForeignKey("evidence.Project", on_delete=models.PROTECT, related_name="cases")
    name = models.CharField(max_length=200)
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    deployment = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    # Module metadata of modular arguments (gsn2x `module:` blocks), keyed by module name.
    modules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="safety_cases"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="case_name_unique_in_project")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("case_detail", args=[self.pk])


class Membership(models.Model):
    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="one_membership_per_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} of {self.case}"


class Node(models.Model):
    """A GSN element of a case."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="nodes")
    identifier = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=NodeType.choices)
    statement = models.TextField(blank=True)
    undeveloped = models.BooleanField(default=False)
    module = models.CharField(max_length=200, blank=True)
    # Interchange extras kept for round-trips: url, additional gsn2x layers, layout hints,
    # acp, defeated markers, challenged relationships.
    attributes = models.JSONField(default=dict, blank=True)
    # Instantiated from a template (GSN pattern R24): "<template id>:<template node id>[#<item>]".
    template_ref = models.CharField(max_length=200, blank=True)
    # How a goal or strategy combines its supported_by children: "all", "any" or "at_least:<k>".
    combination = models.CharField(max_length=20, default="all")
    # For assumptions from the catalogue (A01–A32): the catalogue id, e.g. "A06".
    catalogue_id = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "identifier"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "identifier"], name="node_identifier_unique_in_case"
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=NodeType.values), name="node_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.identifier

    def get_absolute_url(self) -> str:
        return reverse("node_detail", args=[self.case_id, self.identifier])


class Link(models.Model):
    """A typed edge between two nodes of the same case."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="links")
    source = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="outgoing_links")
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="incoming_links")
    type = models.CharField(max_length=20, choices=LinkType.choices)
    # A challenge of a relationship names its other end here; empty for every other link.
    target_relation = models.CharField(max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "source__identifier", "type", "target__identifier"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "type", "target_relation"], name="link_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=LinkType.values), name="link_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.type} {self.target}"


class EvidenceBinding(models.Model):
    """Which runs are a node's evidence and what they must show: an acceptance criterion on a
    solution or a check on an assumption, as CEL over the variables of a run.

    `selector` picks runs: {"task", "task_version", "model" (omitted = the case's model),
    "conditions": {run metadata key: value}, "scorer", "metric"}; an empty selector on a check
    means the runs bound to the solutions in the assumption's scope. A selector may add
    "paired_with" (a selector of the other condition's run) to compare two runs sample by sample
    (safetycase/core/assessment/paired.py).
    """

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="bindings")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="bindings")
    kind = models.CharField(max_length=20, choices=BindingKind.choices)
    selector = models.JSONField(default=dict, blank=True)
    freshness_days = models.PositiveIntegerField(null=True, blank=True)
    expression = models.TextField()
    description = models.TextField(blank=True)
    # How the binding's eligible runs combine (safetycase/core/assessment/ledger.py).
    policy = models.CharField(max_length=20, choices=EvidencePolicy.choices, default="all")
    policy_justification = models.TextField(
        blank=True, help_text="Why only the latest run counts; required for policy 'latest'."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "node__identifier", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=BindingKind.values), name="binding_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(freshness_days__isnull=True) | models.Q(freshness_days__gt=0),
                name="binding_freshness_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(policy__in=EvidencePolicy.values), name="binding_policy_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.node}"


class RunWithdrawal(models.Model):
    """A reviewer's withdrawal of a run from a binding's evidence, with the reason. The run
    stays in the binding's ledger, marked withdrawn, but no longer counts."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="withdrawals")
    binding = models.ForeignKey(
        EvidenceBinding, on_delete=models.CASCADE, related_name="withdrawals"
    )
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="withdrawals")
    run = models.ForeignKey(
        "evidence.EvaluationRun", on_delete=models.CASCADE, related_name="withdrawals"
    )
    reason = models.TextField()
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="run_withdrawals"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "binding", "run"]
        constraints = [
            models.UniqueConstraint(fields=["binding", "run"], name="one_withdrawal_per_run"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} withdrawn from {self.node}"


class CriterionChange(models.Model):
    """A criterion edited after a run that failed the old criterion was already evidence
    (pre-registration): flagged until a reviewer acknowledges it."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="criterion_changes")
    # Empty once the binding is deleted: the change then stays on its node (deleting a criterion
    # that failing evidence had defeated moves the bar too).
    binding = models.ForeignKey(
        EvidenceBinding,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="criterion_changes",
    )
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="criterion_changes")
    run = models.ForeignKey(
        "evidence.EvaluationRun", on_delete=models.CASCADE, related_name="criterion_changes"
    )
    old_expression = models.TextField()
    new_expression = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="criterion_changes",
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="acknowledged_criterion_changes",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "binding", "changed_at", "id"]

    def __str__(self) -> str:
        return f"criterion of {self.node} changed after run {self.run_id}"


class Attestation(models.Model):
    """A reviewer's signed statement that an assumption holds, for a scope and until an expiry."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="attestations")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="attestations")
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attestations"
    )
    statement = models.TextField()
    scope = models.TextField(blank=True)
    evidence_reference = models.CharField(
        max_length=500, blank=True, help_text="Where the evidence for the statement is."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "node__identifier", "-created_at"]

    def __str__(self) -> str:
        return f"{self.node} attested by {self.attested_by}"


class Assessment(models.Model):
    """One evaluation of a case: a status per node and the flags, with what caused it and what
    changed since the previous assessment. Never edited once stored."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="assessments")
    created_at = models.DateTimeField(auto_now_add=True)
    trigger = models.CharField(max_length=20, choices=AssessmentTrigger.choices)
    trigger_detail = models.CharField(max_length=300, blank=True)
    # The top goal's status: the case's overall verdict.
    overall_status = models.CharField(max_length=20, blank=True)
    statuses = models.JSONField(default=dict)  # {identifier: status}
    reasons = models.JSONField(default=dict)  # {identifier: sentence}
    flags = models.JSONField(default=list)  # [{type, severity, node, run, rule, message}]
    # {binding id: [{run, k, n, holds, role, note}]}: each criterion's ledger of runs.
    evidence = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict)  # counts by status and by flag severity
    # {"nodes": [{identifier, before, after}], "flags_added": [...], "flags_cleared": [...]}
    changes = models.JSONField(default=dict)
    # A failed assessment records only why (`error`); readers of "the latest assessment" skip
    # it, so the case keeps showing its last complete result.
    status = models.CharField(
        max_length=20, choices=AssessmentStatus.choices, default=AssessmentStatus.COMPLETE
    )
    error = models.TextField(blank=True, help_text="Why a failed assessment stopped.")

    class Meta:
        ordering = ["case", "-created_at", "-id"]
        get_latest_by = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(trigger__in=AssessmentTrigger.values),
                name="assessment_trigger_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AssessmentStatus.values),
                name="assessment_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"assessment {self.pk} of {self.case}: {self.overall_status}"


def pdf_export_path(instance: PdfExport, filename: str) -> str:
    return f"exports/case-{instance.case_id}/{instance.pk}-{filename}"


class PdfExport(models.Model):
    """A PDF export of a case, or of one of its signed versions, rendered by a Celery task
    (large cases), with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="pdf_exports")
    version = models.ForeignKey(
        "Version",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="pdf_exports",
        help_text="The signed version exported; empty for the working copy.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pdfa = models.BooleanField(default=False, help_text="PDF/A-2b for archiving.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    stage = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to=pdf_export_path, max_length=300, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker rendering it."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Rendering attempts started.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="pdf_export_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"PDF export {self.pk} of {self.case} ({self.status})"


class OutboxMessage(models.Model):
    """A task that must follow a commit (a re-assessment after an edit, an export job), written
    in the same transaction as the change that calls for it. It is published when the
    transaction commits and deleted once the broker has it; a message the broker refused (down,
    unreachable) stays here and the sweeper (`safetycase.tasks.publish_outbox`) publishes it
    later. So an edit committed while the broker is down still gets its follow-up work."""

    task = models.CharField(max_length=200, help_text="The Celery task's registered name.")
    args = models.JSONField(default=list, help_text="The task's positional arguments.")
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Publications tried.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the last publication failed.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["created_at"], name="outbox_created_at")]

    def __str__(self) -> str:
        return f"outbox message {self.pk}: {self.task}{tuple(self.args)}"


class ApiToken(models.Model):
    """An API key for scripts and harnesses. The key is shown once when created; only its
    sha256 is stored. Scopes limit what the key may do on top of its user's roles."""

    SCOPES = ("read", "write", "ingest")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # Uploads with the token land in this project, and the token reads runs of this project
    # only. Empty only for tokens made before projects whose user was in several (they cannot
    # upload until replaced).
    project = models.ForeignKey(
        "evidence.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(max_length=100, blank=True)
    key_sha256 = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to tell keys apart."
    )
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["user", "-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({', '.join(self.scopes)}) of {self.user}"


# ---------------------------------------------------------------------------------------------
# Review: comments and challenges on nodes, and signed-off immutable versions.


class Comment(models.Model):
    """A remark of an author or reviewer on a node."""

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="comments")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_comments"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "node__identifier", "created_at", "id"]

    def __str__(self) -> str:
        return f"comment by {self.author} on {self.node}"


class Challenge(models.Model):
    """A reviewer's counter-claim on a node. While open it is a flag of type `challenge`."""

    class State(models.TextChoices):
        OPEN = "open", "open"
        RESOLVED = "resolved", "resolved"

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="challenges")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="challenges")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_challenges"
    )
    claim = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resolved_case_challenges",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    # An author answers a challenge; a reviewer then closes it or rejects the response.
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="responded_case_challenges",
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    response_rejection = models.TextField(
        blank=True, help_text="Why a reviewer did not accept the latest response."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "node__identifier", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["open", "resolved"]), name="challenge_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.state} challenge by {self.raised_by} on {self.node}"


class ImmutableVersionError(Exception):
    """Raised on any attempt to change or delete a stored Version."""


class Version(models.Model):
    """A signed-off, immutable snapshot of the whole case (nodes, links, bindings, runs,
    attestations, challenges and the latest assessment) with the reviewer's verdict.

    `content_hash` is sha256 over the canonical signed content (safetycase.core.versions:
    snapshot, verdict, reasons, conditions, open items, note, signer, time and the previous
    version's hash), so the versions of a case form a chain; `server_signature` is the
    server's Ed25519 signature of that hash with the key in VERSION_SIGNING_KEY_FILE, which
    the database does not hold."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", "approve"
        APPROVE_WITH_CONDITIONS = "approve_with_conditions", "approve with conditions"
        REJECT = "reject", "reject"

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    verdict = models.CharField(max_length=30, choices=Verdict.choices, default=Verdict.APPROVE)
    reasons = models.TextField(blank=True, help_text="Why the reviewer rejected the case.")
    # What was open when the version was signed: defeated and at-risk nodes, flags by severity,
    # open challenges, rule errors (safetycase.selectors.open_items).
    open_items = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=64)
    server_signature = models.CharField(max_length=128, blank=True)
    key_id = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_versions"
    )
    # Set before saving (not auto_now_add) because the signed content includes it.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"version {self.number} of {self.case}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableVersionError(f"Version {self.number} of a case is immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableVersionError(f"Version {self.number} of a case cannot be deleted.")


class Condition(models.Model):
    """A condition of an `approve with conditions` verdict, pinned to a node. Its text and node
    are part of the signed version; whether it is closed is tracked here afterwards."""

    class State(models.TextChoices):
        OPEN = "open", "open"
        CLOSED = "closed", "closed"

    case = models.ForeignKey(SafetyCase, on_delete=models.CASCADE, related_name="conditions")
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="conditions")
    # The node's identifier, not a key: the condition outlives a node removed from the case.
    node_identifier = models.CharField(max_length=100)
    text = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="closed_case_conditions",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "version", "id"]

    def __str__(self) -> str:
        return f"{self.state} condition on {self.node_identifier} of {self.version}"


class Signature(models.Model):
    """A reviewer's sign-off of a version."""

    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="signatures")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="version_signatures"
    )
    signed_at = models.DateTimeField(default=timezone.now)
    # The version's content hash this signature covers, and the server's Ed25519 signature of
    # the signature record (version, hash, signer, time); see safetycase.core.versions.
    signed_hash = models.CharField(max_length=64, blank=True)
    server_signature = models.CharField(max_length=128, blank=True)
    key_id = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["version", "signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="one_signature_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} signed {self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableVersionError("A signature of a version is never changed.")
        super().save(*args, **kwargs)
