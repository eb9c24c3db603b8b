"""Settings for the safety-case tracker.

Every knob is read once from the environment (django-environ). The defaults give the embedded
set-up of `make run` and `make test`: a SQLite file under ./var and Celery tasks run in-process,
so a fresh checkout works with no other services. Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, DEBUG=0 and ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SAFETYCASE_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from NAME or from the file named by NAME_FILE (docker-compose secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


DEBUG = env.bool("DEBUG", default=False)
# The embedded set-up of `make run`: no DATABASE_URL (SQLite under VAR_DIR) and no broker.
EMBEDDED = not os.environ.get("DATABASE_URL") and not os.environ.get("CELERY_BROKER_URL")


def embedded_secret_key(var_dir: Path) -> str:
    """A random key generated once into VAR_DIR, so that in a `make run` checkout every
    `manage.py` command works with no environment typed in front, and sessions survive restarts.
    Only the embedded set-up uses it: a deployment must be given SECRET_KEY."""
    import secrets

    path = var_dir / "secret-key"
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        import time

        for _ in range(50):  # another process may have created it and be writing it now
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.1)
        return key
    except OSError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and no key can be kept in {var_dir} ({exc.strerror})."
        ) from exc
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(50) + "\n")
    return path.read_text().strip()


# A deployment (DATABASE_URL or CELERY_BROKER_URL set) must be given a secret; with DEBUG a
# fixed development key serves one that has none.
SECRET_KEY = env_secret("SECRET_KEY") or (
    embedded_secret_key(VAR_DIR)
    if EMBEDDED
    else "django-insecure-development-key-only-for-debug"
    if DEBUG
    else None
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off. Only the embedded set-up (no DATABASE_URL "
        "and no CELERY_BROKER_URL) generates its own, in SAFETYCASE_VAR_DIR."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",
    "rules.apps.AutodiscoverRulesConfig",
    "csp",
    "axes",
    "evidence",
    "safetycase",
    "notifications",
]

MIDDLEWARE = [
    # Outermost, so that it compresses what every other middleware has finished with.
    "safetycase.compression.CompressNonHtmlMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so it turns a lockout flagged during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "safetycase.urls"
WSGI_APPLICATION = "safetycase.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rendered diagrams are cached by content hash; several web processes should share one cache.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before any password is checked.
    "safetycase.login_limits.LoginAttemptBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "case_list"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

# The Ed25519 key that signs versions (safetycase.signing); empty means `version-signing-key`
# in VAR_DIR. Keep it out of the database and its backups: see the README's threat model.
VERSION_SIGNING_KEY_FILE = env.str("VERSION_SIGNING_KEY_FILE", default="")

# Production hardening; all of these are inert while DEBUG is on.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, so
# injected markup can neither run script nor restyle the page. Pages keep no inline <script>,
# <style> or style=/on*= attributes (tests/test_web_security.py renders every page to check,
# tests/browser/test_csp.py records violations in Chromium); htmx's own indicator <style> is
# switched off in base.html and its rules live in app.css.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Login rate limiting (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username
# from one client address, further attempts for that username from that address are refused
# (429, the lockout page) until LOGIN_LOCKOUT_SECONDS have passed without another failure; a
# successful login clears the count. The pair, not the username alone: otherwise anyone could
# lock a colleague out from everywhere with five wrong passwords. One address failing that
# often over any usernames is locked as well. Axes rather than a hand-made cache counter: it
# hooks Django's own authentication signals (so the admin login is covered too), and its
# database handler keeps the counts in PostgreSQL, shared by every gunicorn worker even where
# CACHE_URL is a per-process cache.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=900))
# An address that fails for many usernames is locked too (it only locks itself out).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind the reverse proxy every request comes from the proxy's address: the client's is in
# the header the proxy sets (deploy/nginx.conf sets X-Real-IP). Leave empty when clients
# reach gunicorn directly, or they could claim any address.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
AXES_CLIENT_IP_CALLABLE = "safetycase.login_limits.client_ip"
# The API's equivalent: requests with unknown or revoked tokens from one address, counted in the
# cache (CACHE_URL; Redis in compose, so shared by the gunicorn workers), after which that
# address gets 429 for LOGIN_LOCKOUT_SECONDS. 0 switches it off.
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", default=20)

# Request size: EVIDENCE_MAX_UPLOAD_BYTES bounds a log upload (413 from the API before the
# body is read, and while streaming it); deploy/nginx.conf's client_max_body_size is that
# limit plus a margin for the multipart envelope, so nginx refuses anything larger before it
# reaches gunicorn. Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE are spooled to disk, not memory.

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "safetycase.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "safetycase.api.permissions.TokenScopePermission",
    ],
    # JSON only: no browsable API. Its pages carry inline styles the Content-Security-Policy
    # refuses, and the Swagger UI at /api/docs/ is the API's page for people.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "safetycase.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Safety-case tracker API",
    "DESCRIPTION": (
        "Read and edit GSN safety cases about AI scheming, check their well-formedness and "
        "render their diagrams. Authenticate with `Authorization: Token <key>` "
        "(see `manage.py create_token`) or a browser session."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "NodeTypeEnum": "safetycase.choices.NodeType",
        "LinkTypeEnum": "safetycase.choices.LinkType",
        "BindingKindEnum": "safetycase.choices.BindingKind",
        "StatisticKindEnum": "evidence.choices.StatisticKind",
        "RunStatusEnum": "evidence.choices.RunStatus",
        "EventKindEnum": "notifications.choices.EventKind",
        "DeliveryStateEnum": "notifications.choices.DeliveryState",
    },
}

# Celery: with no broker configured tasks run in-process (eager), so `make run` needs no
# services. Setting CELERY_BROKER_URL (redis://…, or filesystem:// for a single host) switches
# to real workers.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing gives up quickly when the broker is down, so an upload is not held up; the run
# stays queued and the sweeper re-sends it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
    # A job whose worker died without acknowledging it (acks_late) is delivered again after
    # this many seconds; keep it above the longest ingestion.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_TIMEZONE = TIME_ZONE
# Every task stops at its soft limit (SoftTimeLimitExceeded: the run or export is marked failed
# with the reason) and is killed at the hard limit, so no job holds a worker for ever. Only the
# prefork pool (the default, used in compose) enforces them.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("TASK_SOFT_TIME_LIMIT", default=900)
CELERY_TASK_TIME_LIMIT = env.int("TASK_TIME_LIMIT", default=CELERY_TASK_SOFT_TIME_LIMIT + 60)
# Daily re-assessment of every case, so stale evidence and expired attestations are flagged
# even when no new run arrives (run by the `beat` service).
CELERY_BEAT_SCHEDULE = {
    # Uploads accepted while the broker was down stay `queued`; this sends their jobs again,
    # and recovers runs whose worker died while parsing; the export sweeper does the same for
    # PDF exports.
    "requeue-queued-runs": {
        "task": "evidence.tasks.requeue_queued_runs",
        "schedule": 300,
    },
    "sweep-stale-exports": {
        "task": "safetycase.tasks.sweep_stale_exports",
        "schedule": 300,
    },
    # Webhook deliveries lost to a broker outage, and retries after back-off.
    "send-due-webhook-deliveries": {
        "task": "notifications.tasks.send_due_webhook_deliveries",
        "schedule": 60,
    },
    "remind-of-expiring-attestations": {
        "task": "notifications.tasks.send_attestation_reminders",
        "schedule": 6 * 3600,
    },
    # Work recorded with an edit or an export (re-assessments, export jobs) that the broker
    # could not take when the change committed.
    "publish-outbox": {
        "task": "safetycase.tasks.publish_outbox",
        "schedule": 60,
    },
    "reassess-all-cases-daily": {
        "task": "safetycase.tasks.assess_all_cases",
        "schedule": 24 * 3600,
    },
}

# Notification e-mail: printed on the console by default (the embedded set-up of `make run`);
# a deployment sets EMAIL_BACKEND (smtp) and EMAIL_HOST etc. SAFETYCASE_SITE_URL makes the
# links in e-mails absolute (e.g. https://cases.example.org).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="safetycase@localhost")
SAFETYCASE_SITE_URL = env.str("SAFETYCASE_SITE_URL", default="")

# Project knobs, read through safetycase.conf.setting().
SAFETYCASE = {
    # "auto" uses graphviz-pure when installed, else `dot` on PATH; or "graphviz-pure" / "dot".
    "DOT_RENDERER": env.str("SAFETYCASE_DOT_RENDERER", default="auto"),
    "DIAGRAM_CACHE_SECONDS": env.int("SAFETYCASE_DIAGRAM_CACHE_SECONDS", default=7 * 24 * 3600),
    # How long the case page drawn for a session is kept under its ETag for that session's
    # next full read (views.conditional); 0 keeps none.
    "PAGE_CACHE_SECONDS": env.int("SAFETYCASE_PAGE_CACHE_SECONDS", default=300),
    "OUTBOX_RETRY_SECONDS": env.int("SAFETYCASE_OUTBOX_RETRY_SECONDS", default=60),
}

# Evaluation-log ingestion limits (evidence.conf): protect workers from huge or hostile uploads.
EVIDENCE = {
    "MAX_UPLOAD_BYTES": env.int("EVIDENCE_MAX_UPLOAD_BYTES", default=1024**3),
    "MAX_UNCOMPRESSED_BYTES": env.int("EVIDENCE_MAX_UNCOMPRESSED_BYTES", default=4 * 1024**3),
    "MAX_MEMBER_BYTES": env.int("EVIDENCE_MAX_MEMBER_BYTES", default=256 * 1024**2),
    "MAX_MEMBERS": env.int("EVIDENCE_MAX_MEMBERS", default=200_000),
    "MAX_JSON_DEPTH": env.int("EVIDENCE_MAX_JSON_DEPTH", default=200),
    "SAMPLE_BATCH_SIZE": env.int("EVIDENCE_SAMPLE_BATCH_SIZE", default=2000),
    "HEADER_READ_BYTES": env.int("EVIDENCE_HEADER_READ_BYTES", default=1024 * 1024),
    "MAX_SCORE_NAMES": env.int("EVIDENCE_MAX_SCORE_NAMES", default=1000),
    "MAX_METRICS": env.int("EVIDENCE_MAX_METRICS", default=5000),
    "MAX_SAMPLE_ID_CHARS": env.int("EVIDENCE_MAX_SAMPLE_ID_CHARS", default=300),
    "MAX_METADATA_BYTES": env.int("EVIDENCE_MAX_METADATA_BYTES", default=65536),
    "MAX_METADATA_DEPTH": env.int("EVIDENCE_MAX_METADATA_DEPTH", default=20),
    "REQUEUE_AFTER_SECONDS": env.int("EVIDENCE_REQUEUE_AFTER_SECONDS", default=120),
    "RESEND_SENT_AFTER_SECONDS": env.int("EVIDENCE_RESEND_SENT_AFTER_SECONDS", default=3600),
    "STALE_PARSING_SECONDS": env.int("EVIDENCE_STALE_PARSING_SECONDS", default=600),
    "MAX_INGEST_ATTEMPTS": env.int("EVIDENCE_MAX_INGEST_ATTEMPTS", default=3),
    "MAX_TRANSCRIPT_BYTES": env.int("EVIDENCE_MAX_TRANSCRIPT_BYTES", default=32 * 1024**2),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# PDF export (safetycase.export): cases with more nodes than this are rendered by a Celery task
# instead of within the request; font directories for the scripts the fonts bundled with Typst
# lack. By default the Debian directories of fonts-noto-cjk (Chinese, Japanese, Korean),
# fonts-noto-color-emoji and fonts-dejavu-core (Arabic, and the diagrams' own font) that exist
# here; an empty SAFETYCASE_PDF_FONT_PATHS= means the bundled fonts only.
PDF_DEBIAN_FONT_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/truetype/dejavu",
)
SAFETYCASE["PDF_SYNC_MAX_NODES"] = env.int("SAFETYCASE_PDF_SYNC_MAX_NODES", default=300)
SAFETYCASE["PDF_FONT_PATHS"] = env.list(
    "SAFETYCASE_PDF_FONT_PATHS",
    default=[path for path in PDF_DEBIAN_FONT_DIRS if os.path.isdir(path)],
)
