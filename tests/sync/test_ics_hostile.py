"""Hostile feeds: each sync ends within its limits, shows why, and keeps the busy time.

Behaviour only; times and peak memory are measured in bench/ics.py.
"""

import pytest
import time_machine

from scheduler.models import BusyBlock
from sync.calendars import ics_connection_create, ics_connection_sync
from tests import factories
from tests.factories import utc

pytestmark = pytest.mark.django_db

NOW = utc(2027, 2, 22, 7)
GOOD = (
    "BEGIN:VEVENT\r\nUID:good\r\nDTSTAMP:20270101T000000Z\r\n"
    "DTSTART:20270301T100000Z\r\nDTEND:20270301T110000Z\r\nEND:VEVENT\r\n"
)


def calendar(*parts: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + "".join(parts)).encode()


def end(body: bytes) -> bytes:
    return body + b"END:VCALENDAR\r\n"


def repeating(freq: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{freq}\r\nDTSTART:20270222T000000Z\r\nDTEND:20270222T000001Z\r\n"
        f"RRULE:FREQ={freq}\r\nEND:VEVENT\r\n"
    )


def hostile_feeds():
    rdates = ",".join(
        f"{20270301 + (i % 28):08d}T{i % 24:02d}{i % 60:02d}00Z" for i in range(10**6)
    )
    nested = "BEGIN:X-A\r\n" * 200_000 + "END:X-A\r\n" * 200_000
    return {
        "secondly": end(calendar(GOOD, repeating("SECONDLY"))),
        "minutely": end(calendar(GOOD, repeating("MINUTELY"))),
        "million_rdates": end(
            calendar(
                GOOD,
                "BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20270301T000000Z\r\nDURATION:PT1M\r\n"
                f"RDATE:{rdates}\r\nEND:VEVENT\r\n",
            )
        ),
        "deep_nesting": end(calendar(GOOD, nested)),
        "one_20mb_line": end(calendar(GOOD, "X-JUNK:" + "A" * (20 * 1024 * 1024) + "\r\n")),
    }


FEEDS = hostile_feeds()
LIMITED = {"secondly", "minutely", "million_rdates"}  # these must hit a limit


@pytest.fixture
def limits(settings):
    settings.ICS_MAX_BYTES = 40 * 1024 * 1024
    settings.ICS_TIMEOUT_SECONDS = 20
    settings.ICS_IMPORT_TIMEOUT_SECONDS = 20
    settings.ICS_IMPORT_MAX_MB = 300


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FEEDS))
def test_hostile_feed_keeps_the_busy_time_and_says_why(feed_server, limits, name):
    person = factories.practitioner()
    feed_server.body = end(calendar(GOOD))
    with time_machine.travel(NOW, tick=False):
        connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
        ics_connection_sync(connection=connection, now=NOW, force=True)
        feed_server.body, feed_server.etag = FEEDS[name], '"hostile"'
        ics_connection_sync(connection=connection, now=NOW, force=True)
    connection.refresh_from_db()
    assert list(BusyBlock.objects.values_list("external_id", flat=True)) == ["good"]
    if name in LIMITED or connection.status == "error":
        assert connection.status == "error"
        assert "te zwaar" in connection.last_error and "too heavy" in connection.last_error
        assert "still applies" in connection.warnings[0]
        assert connection.last_success_at == NOW  # the last good read still stands


def test_a_limit_on_the_first_read_mirrors_nothing_and_says_why(feed_server, limits):
    person = factories.practitioner()
    feed_server.body = FEEDS["secondly"]
    with time_machine.travel(NOW, tick=False):
        connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
        ics_connection_sync(connection=connection, now=NOW, force=True)
    connection.refresh_from_db()
    assert connection.status == "error" and "occurrences" in connection.last_error
    assert not BusyBlock.objects.exists()


def test_the_wall_clock_limit_stops_a_slow_read(feed_server, settings):
    """A limit far below the child's start-up: the parent kills it and says so."""
    settings.ICS_IMPORT_TIMEOUT_SECONDS = 0.01
    person = factories.practitioner()
    feed_server.body = end(calendar(GOOD))
    with time_machine.travel(NOW, tick=False):
        connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
        ics_connection_sync(connection=connection, now=NOW, force=True)
    connection.refresh_from_db()
    assert connection.status == "error" and "longer than 0.01 seconds" in connection.last_error


def test_the_memory_limit_stops_a_greedy_read(feed_server, settings):
    settings.ICS_IMPORT_MAX_MB = 60
    settings.ICS_MAX_BYTES = 40 * 1024 * 1024
    settings.ICS_TIMEOUT_SECONDS = 20
    person = factories.practitioner()
    feed_server.body = FEEDS["one_20mb_line"]
    with time_machine.travel(NOW, tick=False):
        connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
        ics_connection_sync(connection=connection, now=NOW, force=True)
    connection.refresh_from_db()
    assert connection.status == "error" and "60 MB" in connection.last_error
