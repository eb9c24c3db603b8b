from django.db import models

from safetycase.core.gsn.model import ElementType, RelationType


class NodeType(models.TextChoices):
    GOAL = ElementType.GOAL.value, "Goal"
    STRATEGY = ElementType.STRATEGY.value, "Strategy"
    SOLUTION = ElementType.SOLUTION.value, "Solution"
    CONTEXT = ElementType.CONTEXT.value, "Context"
    ASSUMPTION = ElementType.ASSUMPTION.value, "Assumption"
    JUSTIFICATION = ElementType.JUSTIFICATION.value, "Justification"
    COUNTER_GOAL = ElementType.COUNTER_GOAL.value, "Counter-goal"
    COUNTER_SOLUTION = ElementType.COUNTER_SOLUTION.value, "Counter-solution"


class LinkType(models.TextChoices):
    SUPPORTED_BY = RelationType.SUPPORTED_BY.value, "supported by"
    IN_CONTEXT_OF = RelationType.IN_CONTEXT_OF.value, "in context of"
    CHALLENGES = RelationType.CHALLENGES.value, "challenges"


class Role(models.TextChoices):
    # An owner is an author who also manages the case's memberships.
    OWNER = "owner", "Owner"
    AUTHOR = "author", "Author"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"


class BindingKind(models.TextChoices):
    CRITERION = "criterion", "Acceptance criterion (on a solution)"
    CHECK = "check", "Check (on an assumption)"


class EvidencePolicy(models.TextChoices):
    ALL = "all", "every run must meet the criterion"
    POOLED = "pooled", "k and n pooled per task and model version"
    LATEST = "latest", "only the latest run (with a justification)"


class AssessmentTrigger(models.TextChoices):
    RUN_INGESTED = "run_ingested", "new evidence"
    CASE_EDITED = "case_edited", "case edited"
    ATTESTATION = "attestation", "attestation"
    SCHEDULED = "scheduled", "scheduled check"
    MANUAL = "manual", "requested"


class AssessmentStatus(models.TextChoices):
    COMPLETE = "complete", "complete"
    # The assessment stopped before a result (e.g. past the task's time limit); its `error`
    # says why, and the previous complete assessment stays the case's latest.
    FAILED = "failed", "failed"
