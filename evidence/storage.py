"""Stored log files as local paths, for the parsers (which read files, not storage objects)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from evidence.models import LogFile


@contextlib.contextmanager
def local_path(log_file: LogFile) -> Iterator[Path]:
    """A local path for a stored log: the file itself on local storage, else a temporary copy."""
    try:
        path = Path(log_file.file.path)
    except NotImplementedError:  # remote storage (S3 and the like)
        path = None
    if path is not None:
        yield path
        return
    with log_file.file.open("rb") as source, tempfile.NamedTemporaryFile(delete=False) as tmp:
        shutil.copyfileobj(source, tmp, 1 << 20)
    try:
        yield Path(tmp.name)
    finally:
        os.unlink(tmp.name)
