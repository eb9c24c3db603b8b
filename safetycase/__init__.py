"""The safety-case tracker: project package and the argument app (cases, GSN nodes and links)."""

from safetycase.celery import app as celery_app

__all__ = ["celery_app"]
