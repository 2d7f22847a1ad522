"""Real-world-shaped calendars (tests/data/ics/) read exactly as expected.json says."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.models import BusyBlock
from sync.calendars import ics_connection_create, ics_connection_sync
from sync.ics.subscribe import ics_busy_blocks
from tests import factories

CORPUS = Path(__file__).resolve().parent.parent / "data" / "ics"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
WINDOW = tuple(
    datetime.fromisoformat(EXPECTED["window"][k].replace("Z", "+00:00")) for k in ("start", "end")
)
ZONE = ZoneInfo(EXPECTED["zone"])


def spans(blocks):
    return [
        [b.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for b in block[:2]] for block in blocks
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_corpus_file_gives_exactly_the_expected_busy_time(name):
    result = ics_busy_blocks(
        (CORPUS / name).read_bytes(), zone=ZONE, start=WINDOW[0], end=WINDOW[1]
    )
    assert spans(result.blocks) == EXPECTED["files"][name]["busy"]


def test_broken_feed_keeps_the_good_events_and_says_what_it_skipped():
    result = ics_busy_blocks(
        (CORPUS / "broken_lines.ics").read_bytes(), zone=ZONE, start=WINDOW[0], end=WINDOW[1]
    )
    uids = {uid for *_, uid in result.blocks}
    assert set(EXPECTED["files"]["broken_lines.ics"]["good"]) <= uids
    assert not uids & set(EXPECTED["files"]["broken_lines.ics"]["broken"])
    text = " ".join(result.warnings)
    assert "malformed line" in text and "Mars/Olympus" in text and "skipped" in text


def test_all_day_blocking_can_be_switched_off():
    body = (CORPUS / "all_day.ics").read_bytes()
    result = ics_busy_blocks(body, zone=ZONE, start=WINDOW[0], end=WINDOW[1], block_all_day=False)
    assert result.blocks == []


@pytest.mark.django_db
def test_corpus_served_over_http_is_mirrored(feed_server):
    person = factories.practitioner()
    feed_server.body = (CORPUS / "google.ics").read_bytes()
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    ics_connection_sync(connection=connection, now=WINDOW[0] + timedelta(days=1), force=True)
    # "now" is a day into the window, so the mirror (from a day before now) starts with it.
    stored = BusyBlock.objects.filter(start__lt=WINDOW[1], end__gt=WINDOW[0]).order_by("start")
    assert spans([(b.start, b.end) for b in stored]) == EXPECTED["files"]["google.ics"]["busy"]


@pytest.mark.django_db
def test_ten_thousand_event_feed_over_http(feed_server, settings):
    settings.ICS_MAX_BYTES = 20 * 1024 * 1024
    person = factories.practitioner()
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//big//EN"]
    first = datetime(2027, 3, 1, 6, tzinfo=UTC)
    for i in range(10_000):
        begin = first + timedelta(minutes=15 * i)  # 104 days: inside the mirrored horizon
        lines += [
            "BEGIN:VEVENT",
            f"UID:big-{i}",
            "DTSTAMP:20270101T000000Z",
            f"DTSTART:{begin:%Y%m%dT%H%M%SZ}",
            f"DTEND:{begin + timedelta(minutes=10):%Y%m%dT%H%M%SZ}",
            "END:VEVENT",
        ]
    feed_server.body = ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    ics_connection_sync(connection=connection, now=first, force=True)
    connection.refresh_from_db()
    assert connection.status == "ok", connection.last_error
    assert BusyBlock.objects.filter(source=connection.busy_source).count() == 10_000
