"""Settings shared by every environment; every value can come from the environment.

With nothing set the service runs on SQLite and an embedded (filesystem) Celery broker,
so that web, worker and beat work on a fresh machine without any server.
"""

import contextlib
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from config.env import BASE_DIR, env
from config.logging import logging_config

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Where local state lives on the embedded default (SQLite file, broker queue, beat file).
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# ------------------------------------------------------------------------------
# Time: instants are stored in UTC; wall-clock rules carry an IANA zone of their own.
# ------------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_TIMEZONE = env("DEFAULT_TIMEZONE", default="Europe/Amsterdam")
ZoneInfo(DEFAULT_TIMEZONE)  # fail at boot on a zone name that does not exist

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", "Nederlands"), ("en", "English")]
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# ------------------------------------------------------------------------------
# Apps
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "health_check",
    "axes",
]
LOCAL_APPS = [
    "scheduler",
    "sync",
    "api",
    "workspace",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "config.logging.RequestIdMiddleware",
    "api.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "api.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during login into its answer.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],  # project-wide overrides (the admin)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sync.context_processors.connection_alerts",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database: PostgreSQL in production (DATABASE_URL); SQLite by default.
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so a booking's check-then-write cannot
    # interleave with another's; WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# ------------------------------------------------------------------------------
# Cache: shared by all web processes (throttle counters). A folder under VAR_DIR by
# default; Redis in production (CACHE_URL=redis://host:6379/1).
# ------------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A Redis outage makes the cache miss instead of failing requests (config/cache.py).
    CACHES["default"]["BACKEND"] = "config.cache.ResilientRedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(socket_connect_timeout=1, socket_timeout=1)

# ------------------------------------------------------------------------------
# Auth
# ------------------------------------------------------------------------------
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "api.auth_backends.LoginLockoutBackend",
    "api.auth_backends.PasswordBackend",
]
# Login lockout (admin, workspace and POST /api/v1/auth/token/), api/auth_backends.py:
# after AXES_FAILURE_LIMIT failures for one username from one address (an IPv6 /64 is one
# address), that pair is refused, right password or not; after AXES_ACCOUNT_FAILURE_LIMIT
# failures for one username from any addresses, the account is refused from everywhere
# and its owner gets one e-mail per lock. Both last until AXES_COOLOFF_MINUTES have passed
# since the last failure. A successful login clears that address's count.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ACCOUNT_FAILURE_LIMIT = env.int("AXES_ACCOUNT_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "api.auth_backends.LoginLockoutHandler"
# The client address as the throttles see it (X-Forwarded-For behind NUM_PROXIES proxies,
# an IPv6 /64 as one address).
AXES_CLIENT_IP_CALLABLE = "api.auth_backends.client_address"
AXES_HTTP_RESPONSE_CODE = 429

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# ------------------------------------------------------------------------------
# Static files
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# ------------------------------------------------------------------------------
# E-mail: files under VAR_DIR/mail by default (mail holds personal data and manage links,
# so not the log), any backend through EMAIL_URL (smtp+tls://, consolemail://, ...).
# ------------------------------------------------------------------------------
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    # One file per Message-ID (development only: files are not mail, see README).
    EMAIL_BACKEND = "sync.mailfiles.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# How long a worker holds an outbox item it is delivering before another may try it
# (a worker killed mid-delivery delays that item by at most this).
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
# How often beat sweeps the outbox for what was not delivered at once (broker down, retries).
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=60)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="praktijk@localhost")
# Where links in e-mails point (manage links are sent by workers, outside any request).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# ------------------------------------------------------------------------------
# Celery: Redis in production; kombu's filesystem transport by default so that a
# worker and beat really run with no server at all.
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker" / "queue"
    _control_dir = VAR_DIR / "broker" / "control"
    for _folder in (_queue_dir, _control_dir):
        # A broken broker folder must not stop the web from starting: requests never
        # depend on the broker (the outbox waits for it).
        with contextlib.suppress(OSError):
            _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
    }
else:
    # A request that asks a worker for something must not hang on an unreachable broker
    # (the outbox sweep delivers later anyway).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEARTBEAT_INTERVAL_SECONDS = env.int("HEARTBEAT_INTERVAL_SECONDS", default=60)
# Wait list (scheduler/waitlist.py): offers go out in waves of WAITLIST_WAVE_SIZE per freed
# time, the next wave WAITLIST_WAVE_MINUTES later if nobody claimed it.
WAITLIST_WAVE_SIZE = env.int("WAITLIST_WAVE_SIZE", default=3)
WAITLIST_WAVE_MINUTES = env.float("WAITLIST_WAVE_MINUTES", default=10)
WAITLIST_SWEEP_SECONDS = env.int("WAITLIST_SWEEP_SECONDS", default=120)
WAITLIST_MAX_ENTRIES_PER_EMAIL = env.int("WAITLIST_MAX_ENTRIES_PER_EMAIL", default=3)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "sync.tasks.heartbeat",
        "schedule": HEARTBEAT_INTERVAL_SECONDS,
    },
    # Every kind of calendar reads the connections that are due (sync/connectors.py): ICS
    # feeds every ICS_POLL_MINUTES, Google every GOOGLE_POLL_MINUTES (the fallback behind push
    # notifications), CalDAV every CALDAV_POLL_MINUTES; and renews what it must hourly
    # (Google's watch channels).
    "calendars-read-due": {"task": "sync.tasks.calendars_read_due", "schedule": 60},
    "calendars-upkeep": {"task": "sync.tasks.calendars_upkeep", "schedule": 3600},
    # Reminders go out 12 to 36 hours ahead, so an hourly run reaches everyone once.
    "reminders": {"task": "sync.tasks.reminders_send", "schedule": 3600},
    # Sweep the outbox (e-mail and calendar pushes).
    "outbox-drain": {"task": "sync.tasks.outbox_drain", "schedule": OUTBOX_SWEEP_SECONDS},
    "privacy-retention": {"task": "sync.tasks.privacy_retention", "schedule": 24 * 3600},
    # Key rotation: everything under the newest TOKEN_ENCRYPTION_KEYS key (README).
    "secrets-reencrypt": {"task": "sync.tasks.secrets_reencrypt", "schedule": 7 * 24 * 3600},
    # Wait list: expire past entries, offer freed times (new hours, removed busy time too).
    "waitlist-sweep": {"task": "sync.tasks.waitlist_sweep", "schedule": WAITLIST_SWEEP_SECONDS},
}

# ------------------------------------------------------------------------------
# REST framework
# ------------------------------------------------------------------------------
# Trusted proxies in front, for the client address in X-Forwarded-For (API and pages).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exception_handler.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BSR scheduling API",
    "DESCRIPTION": "Slots, bookings and the practitioner's availability. Version 1.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",  # the default
        "api.schema_hooks.blank_alternative_as_any_of",
    ],
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "scheduler.lifecycle.BookingStatus.values",
        "ConnectionStatusEnum": ["ok", "error", "reconnect_needed"],
    },
}
# Public endpoints are limited per client address; THROTTLE_ENABLED=0 turns that off.
THROTTLE_ENABLED = env.bool("THROTTLE_ENABLED", default=True)
PUBLIC_THROTTLE_RATES = {
    "slots": env("THROTTLE_RATE_SLOTS", default="120/min"),
    "booking": env("THROTTLE_RATE_BOOKING", default="20/min"),
    "manage": env("THROTTLE_RATE_MANAGE", default="60/min"),
    "public": env("THROTTLE_RATE_PUBLIC", default="120/min"),
    "auth": env("THROTTLE_RATE_AUTH", default="10/min"),
    "question": env("THROTTLE_RATE_QUESTION", default="5/hour"),
}
# Slot answers are cached under the practitioner's schedule version, so any change misses
# at once; this limit only bounds the drift of "now" (notice, horizon). 0 turns it off.
SLOTS_CACHE_SECONDS = env.int("SLOTS_CACHE_SECONDS", default=15)
# Requests with a declared body over this size are answered 413 before being read.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# ------------------------------------------------------------------------------
# iCalendar feeds
# ------------------------------------------------------------------------------
ICS_FEED_PAST_DAYS = env.int("ICS_FEED_PAST_DAYS", default=30)  # and all of the future
ICS_UID_DOMAIN = env("ICS_UID_DOMAIN", default="bsr-scheduler")
# Subscribed calendars (feeds in): how often, how long, how big.
ICS_POLL_MINUTES = env.int("ICS_POLL_MINUTES", default=15)
ICS_TIMEOUT_SECONDS = env.float("ICS_TIMEOUT_SECONDS", default=20)
ICS_MAX_BYTES = env.int("ICS_MAX_BYTES", default=20 * 1024 * 1024)
ICS_MAX_REDIRECTS = env.int("ICS_MAX_REDIRECTS", default=5)
# Each feed is read in a child process with these limits (sync/ics/limits.py): a feed over
# them keeps the busy time read before and says so on the connection.
ICS_IMPORT_TIMEOUT_SECONDS = env.float("ICS_IMPORT_TIMEOUT_SECONDS", default=30)
ICS_IMPORT_MAX_MB = env.int("ICS_IMPORT_MAX_MB", default=300)
# Feed URLs on private, loopback or link-local addresses are refused unless allowed:
# ICS_ALLOW_PRIVATE_URLS=1 allows them all; ICS_ALLOWED_NETWORKS narrows that to a list.
ICS_ALLOW_PRIVATE_URLS = env.bool("ICS_ALLOW_PRIVATE_URLS", default=False)
ICS_ALLOWED_NETWORKS = env.list("ICS_ALLOWED_NETWORKS", default=[])

# ------------------------------------------------------------------------------
# Google Calendar (two-way). Endpoints can point at any compatible server (tests, proxies).
# ------------------------------------------------------------------------------
GOOGLE_CLIENT_ID = env("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env("GOOGLE_CLIENT_SECRET", default="")
GOOGLE_AUTH_URI = env("GOOGLE_AUTH_URI", default="https://accounts.google.com/o/oauth2/auth")
GOOGLE_TOKEN_URI = env("GOOGLE_TOKEN_URI", default="https://oauth2.googleapis.com/token")
GOOGLE_REVOKE_URI = env("GOOGLE_REVOKE_URI", default="https://oauth2.googleapis.com/revoke")
GOOGLE_API_ENDPOINT = env("GOOGLE_API_ENDPOINT", default="https://www.googleapis.com/calendar/v3/")
GOOGLE_POLL_MINUTES = env.int("GOOGLE_POLL_MINUTES", default=15)
GOOGLE_TIMEOUT_SECONDS = env.float("GOOGLE_TIMEOUT_SECONDS", default=30)
# CalDAV (iCloud, Nextcloud, Fastmail...): how often the busy calendars are read. Addresses
# obey the ICS_* rules above (ICS_ALLOW_PRIVATE_URLS, ICS_ALLOWED_NETWORKS, timeouts).
CALDAV_POLL_MINUTES = env.int("CALDAV_POLL_MINUTES", default=5)
# Fernet keys for OAuth tokens and CalDAV passwords at rest, newest first (rotation: add a
# new one in front).
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])

# ------------------------------------------------------------------------------
# Practice policy
# ------------------------------------------------------------------------------
# Clients may cancel or reschedule online until this many hours before the appointment.
CLIENT_CHANGE_NOTICE_HOURS = env.int("CLIENT_CHANGE_NOTICE_HOURS", default=24)
DEFAULT_PRACTITIONER = env("DEFAULT_PRACTITIONER", default="")
# One client e-mail address may hold at most this many upcoming bookings (a series counts
# once) with one practitioner, online; the practitioner's own bookings are not limited.
# 0 turns the cap off.
MAX_UPCOMING_BOOKINGS_PER_EMAIL = env.int("MAX_UPCOMING_BOOKINGS_PER_EMAIL", default=3)
# Client data of bookings that ended longer ago than this is anonymised (AVG/GDPR); questions
# older than this are deleted.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=730)
# Shown as the location of appointments in the practitioner's Google Calendar.
PRACTICE_LOCATION = env("PRACTICE_LOCATION", default="")

# ------------------------------------------------------------------------------
# Logging
# ------------------------------------------------------------------------------
# JSON lines with the request id; manage tokens and feed secrets are redacted everywhere.
# Django's own console handler would print paths unredacted when DEBUG is on: replaced.
LOGGING = logging_config(level=env("LOG_LEVEL", default="INFO"), loggers=("django",))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
