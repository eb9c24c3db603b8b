"""Signals other apps listen to. `evidence` never imports `safetycase`, so the argument app
learns of new evidence through this signal instead of being called."""

from django.dispatch import Signal

# Sent after a run's ingestion has committed, with `run` (an EvaluationRun, status ingested).
run_ingested = Signal()

# Sent after a run's ingestion failed and that has committed, with `run` and `reason` (the
# sentence stored on the run).
run_failed = Signal()
