from __future__ import annotations

from rest_framework import serializers

from evidence.models import EvaluationRun, LogFile, RunMetric, RunStatistic


class LogFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = LogFile
        fields = ["name", "size", "sha256", "format", "uploaded_at"]


class RunMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunMetric
        fields = ["name", "scorer", "reducer", "metric", "group", "value"]


class RunStatisticSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunStatistic
        fields = [
            "name",
            "kind",
            "reducer",
            "k",
            "n",
            "rate",
            "mean",
            "stderr",
            "k_trials",
            "n_trials",
            "k_any",
            "partial_trials",
            "no_answer_trials",
            "unscored",
            "cp_lower",
            "cp_upper",
            "cp_lower_one_sided",
            "cp_upper_one_sided",
            "wilson_lower",
            "wilson_upper",
            "wilson_lower_one_sided",
            "wilson_upper_one_sided",
        ]


class RunSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api_run_detail")
    project = serializers.CharField(source="project.name", read_only=True)
    supersedes = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The run this one replaced, if any."
    )
    superseded_by = serializers.SerializerMethodField(
        help_text="The run that replaced this one (same harness id, newer content), if any."
    )
    file = LogFileSerializer(source="log_file", read_only=True)
    uploaded_by = serializers.CharField(
        source="log_file.uploaded_by", allow_null=True, read_only=True
    )
    metrics = RunMetricSerializer(many=True, read_only=True)
    statistics = RunStatisticSerializer(many=True, read_only=True)

    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "url",
            "project",
            "status",
            "error",
            "log_status",
            "log_error",
            "format",
            "harness",
            "harness_version",
            "eval_id",
            "task",
            "task_version",
            "model",
            "model_version",
            "started_at",
            "completed_at",
            "total_samples",
            "completed_samples",
            "sample_count",
            "error_count",
            "progress",
            "metadata",
            "details",
            "created_at",
            "ingested_at",
            "file",
            "uploaded_by",
            "metrics",
            "statistics",
            "supersedes",
            "superseded_at",
            "superseded_by",
        ]

    def get_superseded_by(self, run) -> int | None:
        successor = getattr(run, "superseded_by", None)
        return successor.pk if successor is not None else None


class RunSummarySerializer(serializers.ModelSerializer):
    """A run in a list: identity, status and counts, but none of its nested data (metrics,
    statistics, provenance), whose size the uploader decides; those are on the run's own
    page and its paged statistics."""

    url = serializers.HyperlinkedIdentityField(view_name="api_run_detail")
    uploaded_by = serializers.CharField(
        source="log_file.uploaded_by", allow_null=True, read_only=True
    )

    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "url",
            "status",
            "error",
            "log_status",
            "format",
            "harness",
            "harness_version",
            "eval_id",
            "task",
            "task_version",
            "model",
            "model_version",
            "started_at",
            "completed_at",
            "total_samples",
            "completed_samples",
            "sample_count",
            "error_count",
            "progress",
            "created_at",
            "ingested_at",
            "uploaded_by",
        ]


class RunUploadSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(),
        help_text=(
            "The log: an Inspect `.eval` or `.json` log, an lm-evaluation-harness "
            "`results_*.json` (optionally with its `samples_*.jsonl` files as further `file` "
            "parts), or a generic run file (docs/evidence-formats.md)."
        ),
    )
    project = serializers.CharField(
        required=False,
        help_text=(
            "The project to upload into, by name. An API token's uploads always go to the "
            "token's project; with a browser session it is needed when you are a member of "
            "several projects."
        ),
    )
    metadata = serializers.JSONField(
        required=False,
        help_text=(
            "A JSON object of provenance the log does not carry: elicitation, access level, "
            "conditions, deployment configuration, free-form notes."
        ),
    )

    def validate_metadata(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("metadata must be a JSON object.")
        return value


class RunUploadResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    url = serializers.URLField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    project = serializers.CharField(help_text="The project the log was stored in.")
    runs = RunSerializer(many=True)
    notes = serializers.ListField(
        child=serializers.CharField(),
        help_text="What happened beyond storing: superseded runs, samples kept pending.",
    )
