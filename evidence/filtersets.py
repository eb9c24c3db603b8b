from datetime import UTC

import django_filters

from evidence.choices import RunStatus
from evidence.models import EvaluationRun


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts, compared in UTC (PostgreSQL refuses offsets
    beyond ±15:59)."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(UTC) if value is not None else value)


class EvaluationRunFilterSet(django_filters.FilterSet):
    task = django_filters.CharFilter(help_text="Exact task name.")
    model = django_filters.CharFilter(help_text="Exact model name, e.g. `openai/gpt-4o`.")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    harness = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Uploaded at or after (ISO 8601)."
    )
    created_before = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Uploaded before (ISO 8601)."
    )

    class Meta:
        model = EvaluationRun
        fields = ["task", "model", "status", "harness"]
