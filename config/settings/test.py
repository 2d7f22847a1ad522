"""Tests: the database from DATABASE_URL (PostgreSQL in CI), fast hashing, mail in memory."""

from .base import *  # noqa: F403
from .base import DATABASES, STATIC_ROOT, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that threads in concurrency tests share one database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing

# Close connections after each request: the concurrency tests open 50 at once and
# PostgreSQL's default limit is 100.
DATABASES["default"]["CONN_MAX_AGE"] = 0
