"""Structured logs: one JSON object a line, with the request id, and no secrets in paths.

Manage tokens, wait-list leave and claim tokens and feed secrets live in URLs, and query
strings may hold anything (an e-mail address to export, a feed's key), so every message
and argument is scrubbed of them before it is written, whichever logger (Django, gunicorn,
Celery) produced it: secret path segments become [redacted], and so does every query string
after a path or URL. tests/security/test_low_findings.py walks the URLconf: a new path
that carries a token fails there until it is listed here.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# The path segment after each of these is a secret, unless it is one of our own route words
# (/praktijk/agendas/feeds/vernieuwen/ is the workspace's, and stays readable).
_SECRET_PREFIXES = ("manage", "feeds", "waitlist/claim", "waitlist")
_ROUTE_WORDS = ("vernieuwen",)
_SECRET_PATHS = re.compile(
    rf"(/(?:{'|'.join(_SECRET_PREFIXES)})/)(?!(?:{'|'.join(_ROUTE_WORDS)})/)[A-Za-z0-9_\-]{{8,}}"
)
# "?" right after a path ("/x/?a=b", "https://host?a=b") up to a space or quote.
_QUERY_STRINGS = re.compile(r"((?:/|://[^\s/?\"']+)[^\s?\"']*)\?[^\s\"']+")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def logging_config(*, level: str, loggers: tuple[str, ...] = (), root: bool = True) -> dict:
    """A dictConfig: JSON lines on stderr through the redacting filter."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "config.logging.RedactSecrets"}},
        "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["redact"],
            }
        },
        "loggers": {
            name: {"handlers": ["console"], "level": level, "propagate": False} for name in loggers
        },
    }
    if root:
        config["root"] = {"handlers": ["console"], "level": level}
    return config


def redact(text: str) -> str:
    text = _QUERY_STRINGS.sub(r"\1?[redacted]", text)
    return _SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Replace secrets in URL paths, in the message and in its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            # In place: gunicorn's access atoms are a dict subclass that answers "-" for a
            # missing key; a plain copy would lose that.
            for key, value in list(record.args.items()):
                if isinstance(value, str):
                    record.args[key] = redact(value)
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class RequestIdMiddleware:
    """Give every request an id (the proxy's X-Request-ID when sane) for logs and answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response
