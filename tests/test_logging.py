"""Logs are JSON lines with a request id and never hold a client's e-mail, phone or token."""

import io
import json
import logging
from datetime import datetime, time

import pytest
from rest_framework.test import APIClient

from config.logging import JsonFormatter, RedactSecrets, redact
from tests import factories
from tests.page.conftest import next_monday

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output():
    """What our log handler writes, attached where settings.LOGGING attaches it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    loggers = [logging.getLogger(), logging.getLogger("django")]
    for logger in loggers:
        logger.addHandler(handler)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    yield stream
    logging.getLogger().setLevel(previous)
    for logger in loggers:
        logger.removeHandler(handler)


def test_booking_flow_leaves_no_personal_data_or_token_in_logs(frozen_day, log_output):
    owner = factories.practitioner()
    follow_up = factories.appointment_type(owner, duration_minutes=30)
    client = APIClient()
    start = datetime.combine(next_monday(), time(10), tzinfo=factories.AMSTERDAM)
    created = client.post(
        "/api/v1/bookings/",
        {
            "appointment_type": follow_up.pk,
            "start": start.isoformat(),
            "name": "Geheim Persoon",
            "email": "geheim@example.nl",
            "phone": "0698765432",
        },
        format="json",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert created.status_code == 201 and created["X-Request-ID"] == "req-123"
    token = created.json()["manage_url"].rstrip("/").rsplit("/", 1)[1]
    client.get(f"/api/v1/manage/{token}/")
    client.get(f"/manage/{token}/")
    client.get(f"/api/v1/manage/{token[:-2]}xx/")  # a 404 that Django logs with its path
    client.post(f"/api/v1/manage/{token}/cancel/")
    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines, "the flow logged nothing to check"
    assert any("/manage/[redacted]" in line["message"] for line in lines)
    for secret in (token, token[:-2], "geheim@example.nl", "0698765432", "Geheim Persoon"):
        assert secret not in output
    assert all({"time", "level", "logger", "request_id", "message"} <= set(line) for line in lines)


def test_access_log_lines_are_redacted_too():
    line = '127.0.0.1 "GET /manage/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd/ HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1 "GET /manage/[redacted]/ HTTP/1.1" 200'
    assert redact("/feeds/s3cr3tT0k3nValue1234567/busy.ics") == "/feeds/[redacted]/busy.ics"
