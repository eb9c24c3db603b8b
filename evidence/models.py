from __future__ import annotations

from django.db import models


class EvaluationRun(models.Model):
    """One evaluation log ingested from a harness. Parsing and statistics arrive with ingestion."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PARSING = "parsing"
        INGESTED = "ingested"
        FAILED = "failed"

    harness = models.CharField(max_length=50, blank=True)
    task = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "parsing", "ingested", "failed"]),
                name="run_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} on {self.model} ({self.status})"
