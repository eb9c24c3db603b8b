from django.contrib import admin

from evidence.models import EvaluationRun, LogFile


@admin.register(LogFile)
class LogFileAdmin(admin.ModelAdmin):
    list_display = ["name", "format", "size", "sha256", "uploaded_by", "uploaded_at"]
    search_fields = ["name", "sha256"]


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "model", "harness", "status", "log_status", "created_at"]
    list_filter = ["status", "harness", "log_status"]
    search_fields = ["task", "model", "eval_id"]
    raw_id_fields = ["log_file", "samples_file"]
