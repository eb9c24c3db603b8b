"""Evaluation evidence: runs ingested from evaluation harnesses. Never imports safetycase."""
