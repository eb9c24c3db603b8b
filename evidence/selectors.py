from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from evidence.models import EvaluationRun, SampleResult


def runs_with_results() -> QuerySet[EvaluationRun]:
    """Runs with their file, metrics and statistics loaded in a fixed number of queries."""
    return EvaluationRun.objects.select_related(
        "log_file", "log_file__uploaded_by", "project", "superseded_by"
    ).prefetch_related("metrics", "statistics")


def runs_visible_to(*, user, token=None) -> QuerySet[EvaluationRun]:
    """`runs_with_results` narrowed to the runs the user (and token) may read; see
    evidence.projects for the rule."""
    from evidence.projects import visible_runs

    return runs_with_results().filter(pk__in=visible_runs(user=user, token=token).values("pk"))


def run_samples(
    *, run: EvaluationRun, score: str = "", outcome: str = "", errors_only: bool = False
) -> QuerySet[SampleResult]:
    """A run's sample results in (sample id, epoch) order, filtered by the outcome of one score
    (`outcome` "correct" or "incorrect" for `score`) and/or to the errored samples."""
    samples = SampleResult.objects.filter(run=run).order_by("sample_id", "epoch", "id")
    if score and outcome in ("correct", "incorrect"):
        # KeyTransform rather than `scores__<name>__correct`: score names may contain "__".
        correct = KeyTransform("correct", KeyTransform(score, "scores"))
        samples = samples.annotate(_correct=correct).filter(_correct=outcome == "correct")
    if errors_only:
        samples = samples.exclude(error="")
    return samples
