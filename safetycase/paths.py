from pathlib import Path

from django.conf import settings


def var_dir() -> Path:
    """Where the embedded set-up keeps its SQLite file, uploads and generated secrets."""
    return Path(settings.VAR_DIR)
