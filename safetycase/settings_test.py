"""Settings for the test suite: the production settings with test-only speed-ups.

The database and broker still come from DATABASE_URL / CELERY_BROKER_URL, so CI runs the same
suite on SQLite and on PostgreSQL + Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-suite-only-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from safetycase.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests kill workers on purpose: look for their abandoned (unacknowledged) jobs every second
# instead of kombu's default of about every 100 seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

# Axes announces itself and logs every login at INFO; the suite logs in thousands of times.
AXES_VERBOSE = False
LOGGING = {
    **LOGGING,  # noqa: F405
    "loggers": {"axes": {"level": "WARNING"}},
}
