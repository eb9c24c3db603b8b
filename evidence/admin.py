from django.contrib import admin

from evidence.models import EvaluationRun


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ["task", "model", "harness", "status", "created_at"]
    list_filter = ["status", "harness"]
