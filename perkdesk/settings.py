"""PerkDesk settings: one module, read from the environment through django-environ.

Production is the default: unless ``DJANGO_ENV=development`` says otherwise, DEBUG is off, the secrets are
mandatory and the production behaviour is on, so a server started without its environment fails to start
instead of running in debug mode. ``make`` and the test suite say ``DJANGO_ENV=development``; development
then needs nothing else (SQLite, eager Celery, console email). Every variable is listed in ``.env.example``.
"""

from datetime import date, timedelta
from email.utils import parseaddr
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="") or "production"  # unset or empty: production
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
    DEBUG = env.bool("DJANGO_DEBUG", default=False)
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-not-for-production")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
    DEBUG = env.bool("DJANGO_DEBUG", default=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "axes",
    "marketplace",
    "jss",
    "requests_app",
    "outbox",
    "demo",
    "perkdesk.ops",  # issue 13: production checks, heartbeats, metrics
]

MIDDLEWARE = [
    "perkdesk.ops.requestid.RequestIdMiddleware",  # first: every log line of the request carries its id
    "perkdesk.ops.metrics.MetricsMiddleware",  # latency by view for /metrics
    # Then, before anything reads the body: a body larger than any page accepts is refused (413) on its
    # Content-Length, before anything (the CSRF check reads request.POST) makes Django read or spool it.
    "perkdesk.middleware.BodySizeGuard",
    # A NUL character in the path, query, form, headers or cookies is a 400, not a database error.
    "perkdesk.middleware.NulByteGuard",
    "django.middleware.security.SecurityMiddleware",
    "perkdesk.middleware.PermissionsPolicy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "perkdesk.error_pages.MethodNotAllowedPage",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "perkdesk.urls"
WSGI_APPLICATION = "perkdesk.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------
# Unset DATABASE_URL means the embedded SQLite file, so `make run` needs no server.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails in seconds (libpq's minimum is 2), not at the TCP timeout: /healthz answers.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite waits for a writer instead of failing at once when the dev worker and site overlap.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
# A read replica for the scheduled JSS update (docs/capacity.md): with DATABASE_REPLICA_URL set, each chunk reads
# its subjects' figures from the replica, scores them on the worker and writes only the snapshots to the primary.
# Tests and `make run` never set it. In tests the alias mirrors the default database.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **env.db_url("DATABASE_REPLICA_URL"),
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
JSS_UPDATE_READ_DATABASE = "replica" if "replica" in DATABASES else ""
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The desk's covering indexes (INCLUDE columns) are a PostgreSQL optimisation; SQLite simply ignores the extras.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username/IP before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading a user's own and group permissions in one query (every staff page).
    "perkdesk.permissions.ModelBackendOneQuery",
]
# Sign-in limits (perkdesk/logins.py, docs/decisions.md): failures per username + client address, and failures
# per client address across usernames; the client address comes through TRUSTED_PROXY_COUNT reverse proxies.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "perkdesk.logins.LoginLimitHandler"
AXES_CLIENT_IP_CALLABLE = "perkdesk.logins.client_ip"
AXES_LOCKOUT_CALLABLE = "perkdesk.logins.lockout_response"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Reverse proxies in front of the site that append the client's address to X-Forwarded-For; 0 reads REMOTE_ADDR
# only. Production defaults to 1, the TLS-terminating proxy it already assumes (SECURE_PROXY_SSL_HEADER below);
# development to 0. AXES_PROXY_COUNT is its former name.
_proxies = env.str("TRUSTED_PROXY_COUNT", default="") or env.str("AXES_PROXY_COUNT", default="")
TRUSTED_PROXY_COUNT = int(_proxies) if _proxies else (1 if PRODUCTION else 0)
# Sessions live in the database only: with Redis down people still sign in and work (cached_db's cache.set on a
# miss is unguarded, and a logout while Redis is down would leave the cached copy alive once it is back).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and private files -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production whitenoise serves straight from the static folders, so `make run` (DEBUG off, to show
# PerkDesk's own error pages) needs no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Screenshots live outside every web root and are served only through a permission-checked view.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024
# Request bodies (docs/decisions.md): the form fields of any page fit in 256 KiB, so that is the limit on
# everything but files; a body may be at most a screenshot plus that (perkdesk.middleware.BodySizeGuard answers
# 413 above it before it is read); and every body that may be accepted is handled in memory, never spooled to a
# temporary file (the screenshot check reads it whole anyway).
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = SCREENSHOT_MAX_BYTES + DATA_UPLOAD_MAX_MEMORY_SIZE

# --- Email ------------------------------------------------------------------------------------
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="PerkDesk <perks@perkdesk.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Cache ------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Redis away: fail in a second, not at the TCP timeout (callers degrade, see requests_app.throttle).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "perkdesk"}
    )
}

# --- Celery -----------------------------------------------------------------------------------
# No broker configured means tasks run eagerly in the web process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Nothing reads task results: no result backend unless one is asked for (a backend on a dead Redis stalled
# every queued task ~19 s, issue 13), and results are not stored even then unless a call asks.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Off: an eager task that fails is retried in process (as a worker would) and logged, not raised at the caller.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers unacknowledged (acks_late) messages after this; longer than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2 * 60 * 60,
    # Broker away: a publish fails within a second (connect 1 s, a bounded retry), the state change stands and
    # the sweep does the work later; the agent's page answers at once with the warning.
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# Beat leaves a heartbeat (database row and file) at least this often: compose's healthcheck reads the file.
CELERY_BEAT_SCHEDULER = "perkdesk.ops.beat:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 30
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "jss-scheduled-update": {
        "task": "jss.run_scheduled_update",
        "schedule": crontab(hour=2, minute=0),
    },
    "top-rated-evaluation": {
        "task": "jss.evaluate_top_rated",
        "schedule": crontab(hour=3, minute=0, day_of_week="saturday"),
    },
    "perk-sla-sweep": {
        "task": "requests_app.sweep",
        "schedule": crontab(minute="*/15"),
        # A sweep queued while every worker was down is stale by the next one: don't let them pile up.
        "options": {"expires": 14 * 60},
    },
}

# --- Policy numbers (SPEC §2) -------------------------------------------------------------------
PERK_COOLDOWN_MONTHS = env.int("PERK_COOLDOWN_MONTHS", default=3)
PERK_COOLDOWN_JOBS = env.int("PERK_COOLDOWN_JOBS", default=10)
PERK_GRACE_DAYS = env.int("PERK_GRACE_DAYS", default=14)
PERK_SLA_DAYS = env.int("PERK_SLA_DAYS", default=7)
PERK_SLA_WARNING_DAYS = env.int("PERK_SLA_WARNING_DAYS", default=5)
PERK_REPLY_DAYS = env.int("PERK_REPLY_DAYS", default=7)
JSS_UPDATE_EVERY_DAYS = env.int("JSS_UPDATE_EVERY_DAYS", default=14)
# Score only the subjects whose score can have changed since the last update and carry the others' snapshots
# forward (docs/capacity.md, "Incremental update"); off: every update scores every subject.
JSS_UPDATE_INCREMENTAL = env.bool("JSS_UPDATE_INCREMENTAL", default=True)
_perk_end = env.str("PERK_END_DATE", default="")
PERK_END_DATE = date.fromisoformat(_perk_end) if _perk_end else None
PERK_SUBMISSIONS_PER_HOUR = env.int("PERK_SUBMISSIONS_PER_HOUR", default=10)
# The scheduled update's chunks: ranges of this many subject ids, or wider when that would make more than
# JSS_UPDATE_MAX_CHUNKS: about 4-8 chunks per Celery worker process (docs/capacity.md). The default fits the
# shipped deployment (one worker, concurrency 2); a fleet of 32 worker processes sets 128-256.
JSS_UPDATE_CHUNK_SIZE = env.int("JSS_UPDATE_CHUNK_SIZE", default=1000)
JSS_UPDATE_MAX_CHUNKS = env.int("JSS_UPDATE_MAX_CHUNKS", default=16)

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "perkdesk.views.csrf_failure"  # the site's own page: nothing changed, reload and retry
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Content-Security-Policy (django-csp): scripts and styles from our own origin only. Inline style
# attributes stay allowed because the admin and our server-rendered SVG charts use them; no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# Sentry (issue 13): errors and failed tasks go there when set; the release is the image's git commit.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
GIT_COMMIT = env.str("GIT_COMMIT", default="")

# --- Logging: one JSON object per line on stdout -------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "perkdesk.logformat.JsonFormatter"}},
    "filters": {
        "context": {"()": "perkdesk.logformat.ContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["context"],
        },
        # A 500 is mailed to ADMINS (when Sentry is not set up); the line also goes to stdout.
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's default "django" handlers (console, mail_admins): one line each, no double mail.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.request": {"handlers": [] if SENTRY_DSN else ["mail_admins"], "level": "ERROR", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        "axes": {"level": "WARNING"},
    },
}

# --- Operations (issue 13): errors, heartbeats, health and metrics access ---------------------------------
# Who is mailed a 500 or a task out of retries: "Name <mail@example.com>, Other <other@example.com>".
ADMINS = [parseaddr(a.strip()) for a in env.str("DJANGO_ADMINS", default="").split(",") if a.strip()]
# Rotating DJANGO_SECRET_KEY: the previous keys, still accepted for sessions and signatures (README).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# Bearer token that opens /healthz details and /metrics to a monitoring system (staff see them signed in).
OPS_TOKEN = env.str("OPS_TOKEN", default="")
# Touched by beat on every tick (the compose healthcheck reads its age).
BEAT_HEARTBEAT_FILE = Path(env.str("BEAT_HEARTBEAT_FILE", default=str(VAR_DIR / "beat-heartbeat")))
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        release=GIT_COMMIT or None,
        environment=DJANGO_ENV,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
