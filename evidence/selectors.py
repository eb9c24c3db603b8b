from __future__ import annotations

from django.db.models import QuerySet

from evidence.models import EvaluationRun


def runs_with_results() -> QuerySet[EvaluationRun]:
    """Runs with their file, metrics and statistics loaded in a fixed number of queries."""
    return EvaluationRun.objects.select_related(
        "log_file", "log_file__uploaded_by"
    ).prefetch_related("metrics", "statistics")
