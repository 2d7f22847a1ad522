"""Leftovers of the privacy review: the export without the address in the URL, and no
query string (an address, a key) in any log line, gunicorn's access log included."""

import io
import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

import config.gunicorn
from config.logging import JsonFormatter, RedactSecrets, redact
from scheduler.booking import booking_create
from tests import factories
from tests.security.conftest import at, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(practitioner, follow_up, monday):
    from django.utils import timezone

    booking_create(
        appointment_type=follow_up,
        start=at(monday, 9),
        client=factories.client(email="geheim@example.nl", name="Geheim Persoon"),
        now=timezone.now(),
    )
    return practitioner


def test_export_by_post_keeps_the_address_out_of_the_url(booked):
    api = token_client(booked)
    posted = api.post("/api/v1/clients/export/", {"email": "geheim@example.nl"}, format="json")
    assert posted.status_code == 200
    assert posted.json()["email"] == "geheim@example.nl"
    assert [b["name"] for b in posted.json()["bookings"]] == ["Geheim Persoon"]
    assert "no-store" in posted["Cache-Control"]
    # GET stays for compatibility, with the same answer.
    got = api.get("/api/v1/clients/export/", {"email": "geheim@example.nl"})
    assert got.status_code == 200 and got.json() == posted.json()
    bad = api.post("/api/v1/clients/export/", {"email": "not an address"}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()
    assert (
        token_client(factories.practitioner())
        .post("/api/v1/clients/export/", {"email": "geheim@example.nl"}, format="json")
        .json()["bookings"]
        == []
    )
    anon = api.__class__()
    assert anon.post("/api/v1/clients/export/", {"email": "x@example.nl"}).status_code in (401, 403)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1 "GET /api/v1/clients/export/?email=geheim%40example.nl HTTP/1.1" 200',
            '127.0.0.1 "GET /api/v1/clients/export/?[redacted] HTTP/1.1" 200',
        ),
        (
            "Fetching https://cal.example.nl/x.ics?key=s3cret",
            "Fetching https://cal.example.nl/x.ics?[redacted]",
        ),
        ("/feeds/abcdefghijkl/busy.ics?x=1", "/feeds/[redacted]/busy.ics?[redacted]"),
        ("Is this a question? Yes.", "Is this a question? Yes."),
    ],
)
def test_every_query_string_is_redacted(line, expected):
    assert redact(line) == expected


def test_django_request_logs_keep_no_query_string(booked, caplog):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("django")
    logger.addHandler(handler)
    try:
        api = token_client(booked)
        api.get("/api/v1/clients/export/", {"email": "geheim@example.nl", "x": "1"})
        api.get("/api/v1/clients/export/", {"email": "broken-geheim@"})  # a 400, logged
        logging.getLogger("django.server").info(
            '"GET /api/v1/clients/export/?email=geheim@example.nl HTTP/1.1" 200 5'
        )
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert output and "geheim" not in output
    assert all(json.loads(line) for line in output.splitlines())


def test_gunicorn_access_log_shows_the_path_and_no_query_string(capsys):
    cfg = Config()
    cfg.set("accesslog", config.gunicorn.accesslog)
    cfg.set("access_log_format", config.gunicorn.access_log_format)
    cfg.set("logconfig_dict", config.gunicorn.logconfig_dict)
    log = Logger(cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/clients/export/?email=geheim%40example.nl",
        "PATH_INFO": "/api/v1/clients/export/",
        "QUERY_STRING": "email=geheim%40example.nl",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "https://afspraak.example.nl/?email=geheim@example.nl",
    }
    response = SimpleNamespace(status="200 OK", sent=12, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    log.access(response, request, environ, timedelta(milliseconds=7))
    # The filter alone also redacts the full request line, should the format change.
    log.access_log.info(
        '"%(r)s" %(s)s',
        log.atoms_wrapper_class(log.atoms(response, request, environ, timedelta(milliseconds=7))),
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    messages = [line["message"] for line in lines if line["logger"] == "gunicorn.access"]
    assert len(messages) == 2, lines
    assert '"GET /api/v1/clients/export/ HTTP/1.1" 200 12 7ms' in messages[0]
    assert "/api/v1/clients/export/?[redacted]" in messages[1]
    assert not any("geheim" in m for m in messages)
