from django.db import models


class RunStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    PARSING = "parsing", "parsing"
    INGESTED = "ingested", "ingested"
    FAILED = "failed", "failed"


class LogFormat(models.TextChoices):
    INSPECT_EVAL = "inspect_eval", "Inspect .eval"
    INSPECT_JSON = "inspect_json", "Inspect .json"
    LM_EVAL = "lm_eval", "lm-evaluation-harness results"
    LM_EVAL_SAMPLES = "lm_eval_samples", "lm-evaluation-harness samples"
    GENERIC = "generic", "generic run file"
    UNKNOWN = "unknown", "unknown"


class StatisticKind(models.TextChoices):
    BINARY = "binary", "binary (every sample's value is 0 or 1)"
    NUMERIC = "numeric", "numeric (mean and standard error; no k)"


class ProjectRole(models.TextChoices):
    """A project member's role, which applies to every case of the project unless the case
    gives the member another one. The same four roles as a case's (safetycase.choices.Role)."""

    OWNER = "owner", "Owner"
    AUTHOR = "author", "Author"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"
