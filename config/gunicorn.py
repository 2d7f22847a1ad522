"""gunicorn settings: JSON logs through the same redacting filter as the application."""

from config.logging import logging_config

accesslog = "-"
# The path without its query string (%(U)s, not the request line %(r)s): a query may hold
# an e-mail address or a key. The redacting filter would also cut one out of any line.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
# The application's own format and redaction, for gunicorn's error and access logs.
logconfig_dict = logging_config(
    level="INFO", loggers=("gunicorn.error", "gunicorn.access"), root=False
)

__all__ = ["access_log_format", "accesslog", "logconfig_dict"]
