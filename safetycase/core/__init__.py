"""The pure domain core: importable without Django, Celery or DRF."""
