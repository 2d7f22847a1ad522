"""Production: secrets are required, cookies and transport are secure."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env

from .base import *  # noqa: F403

SECRET_KEY = env("SECRET_KEY")
# Client mail (confirmations with manage links) must really leave: the file backend that
# base falls back to is for development only.
if not env("EMAIL_URL", default="").strip():
    raise ImproperlyConfigured(
        "Set EMAIL_URL (e.g. smtp+tls://user:password@host:587): production sends client "
        "mail; the file backend is for development only."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Off in production. On (a local trial of this image), it serves plain HTTP on loopback
# without redirects or secure-only cookies.
DEBUG = env.bool("DEBUG", default=False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
