from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from evidence.models import EvaluationRun, LogFile, Project, ProjectMembership, Share


class ProjectMembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(SimpleHistoryAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [ProjectMembershipInline]


@admin.register(Share)
class ShareAdmin(SimpleHistoryAdmin):
    """Who shared which runs with whom, and who revoked it (history of each share)."""

    list_display = ["id", "from_project", "to_project", "created_by", "created_at", "revoked_at"]
    list_filter = ["from_project", "to_project"]
    raw_id_fields = ["runs"]


@admin.register(LogFile)
class LogFileAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "format", "size", "sha256", "uploaded_by", "uploaded_at"]
    search_fields = ["name", "sha256"]


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "task",
        "model",
        "harness",
        "status",
        "log_status",
        "superseded_at",
        "created_at",
    ]
    list_filter = ["project", "status", "harness", "log_status"]
    search_fields = ["task", "model", "eval_id"]
    raw_id_fields = ["log_file", "samples_file", "supersedes"]
