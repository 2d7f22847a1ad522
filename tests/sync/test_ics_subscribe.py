"""Subscribed calendars: fetched from a real local server, mirrored as busy time."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from scheduler.booking import booking_create
from scheduler.models import BusyBlock
from scheduler.selectors import slot_list
from sync.calendars import calendar_connection_update, ics_connection_create, ics_connection_sync
from sync.ics.fetch import FeedFetchError
from sync.models import CalendarConnection
from sync.tasks import ics_sync_due
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db

NOW = utc(2027, 2, 22, 7)
MONDAY = date(2027, 3, 1)


def at(hour, minute=0, day=MONDAY):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


def calendar(*events: str) -> bytes:
    body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\n"
    body += "".join(events)
    return (body + "END:VCALENDAR\r\n").encode()


def event(uid: str, start: str, end: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20270101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Amsterdam:{start}\r\nDTEND;TZID=Europe/Amsterdam:{end}\r\n"
        f"{extra}SUMMARY:Private appointment\r\nEND:VEVENT\r\n"
    )


@pytest.fixture
def practice():
    person = factories.practitioner()
    return person, factories.appointment_type(person, duration_minutes=30)


def offered(follow_up, day=MONDAY):
    return [
        s.start for s in slot_list(appointment_type=follow_up, first_day=day, last_day=day, now=NOW)
    ]


def subscribe(person, server, path="calendar.ics"):
    return sync(ics_connection_create(practitioner=person, url=server.url(path)))


def sync(connection):
    ics_connection_sync(connection=connection, now=NOW, force=True)
    connection.refresh_from_db()
    return connection


def test_busy_events_block_slots_and_free_ones_do_not(feed_server, practice):
    person, follow_up = practice
    feed_server.body = calendar(
        event("busy-1", "20270301T100000", "20270301T110000"),
        event("free-1", "20270301T140000", "20270301T150000", "TRANSP:TRANSPARENT\r\n"),
        event("gone-1", "20270301T150000", "20270301T160000", "STATUS:CANCELLED\r\n"),
    )
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    connection = sync(connection)
    assert connection.status == "ok" and connection.last_error == ""
    assert connection.last_success_at == NOW
    assert list(BusyBlock.objects.values_list("start", "end", "source", "external_id")) == [
        (at(10), at(11), connection.busy_source, "busy-1")
    ]
    times = offered(follow_up)
    assert at(10) not in times and at(10, 30) not in times
    assert at(14) in times and at(15) in times


def test_second_sync_is_conditional_and_keeps_the_blocks(feed_server, practice):
    person, _ = practice
    feed_server.body = calendar(event("busy-1", "20270301T100000", "20270301T110000"))
    connection = sync(
        ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    )
    sync(connection)
    assert feed_server.requests[-1][1].get("If-None-Match") == '"v1"'
    assert BusyBlock.objects.count() == 1 and connection.status == "ok"


def test_changed_feed_replaces_the_blocks(feed_server, practice):
    person, _ = practice
    feed_server.body = calendar(event("a", "20270301T100000", "20270301T110000"))
    connection = sync(
        ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    )
    feed_server.body = calendar(event("b", "20270302T100000", "20270302T110000"))
    feed_server.etag = '"v2"'
    sync(connection)
    assert list(BusyBlock.objects.values_list("external_id", flat=True)) == ["b"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        # One wording for every failed download (the reason is in the server log only).
        ("missing.ics", "could not be fetched"),
        ("status500", "could not be fetched"),
        ("slow", "could not be fetched"),
        ("drip", "could not be fetched"),
        ("huge", "could not be fetched"),
        ("html", "not an iCalendar"),
        ("to_private", "could not be fetched"),
    ],
)
def test_failures_are_recorded_and_keep_the_known_busy_time(feed_server, practice, path, message):
    person, _ = practice
    feed_server.body = calendar(event("a", "20270301T100000", "20270301T110000"))
    connection = sync(
        ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    )
    connection.url = feed_server.url(path)
    connection.save()
    connection = sync(connection)
    assert connection.status == "error" and message in connection.last_error
    assert list(BusyBlock.objects.values_list("external_id", flat=True)) == ["a"]
    assert connection.last_success_at == NOW


def test_redirect_within_allowed_addresses_is_followed(feed_server, practice):
    person, _ = practice
    feed_server.body = calendar(event("a", "20270301T100000", "20270301T110000"))
    connection = sync(
        ics_connection_create(practitioner=person, url=feed_server.url("to_calendar"))
    )
    assert connection.status == "ok" and BusyBlock.objects.count() == 1


def test_private_addresses_are_refused_unless_allowed(settings, practice):
    person, _ = practice
    settings.ICS_ALLOW_PRIVATE_URLS = False
    for url in (
        "http://127.0.0.1/x.ics",
        "http://10.0.0.1/x.ics",
        "http://[::1]/x.ics",
        "http://169.254.169.254/latest",
        "ftp://example.com/x.ics",
        "file:///etc/passwd",
    ):
        with pytest.raises(FeedFetchError):
            ics_connection_create(practitioner=person, url=url)
    assert not CalendarConnection.objects.exists()


def test_webcal_address_is_accepted_as_https(feed_server, practice):
    person, _ = practice
    port = feed_server.httpd.server_port
    connection = ics_connection_create(
        practitioner=person, url=f"webcal://127.0.0.1:{port}/calendar.ics"
    )
    assert connection.url == f"https://127.0.0.1:{port}/calendar.ics"


def test_booking_that_now_overlaps_busy_time_is_flagged_not_cancelled(feed_server, practice):
    person, follow_up = practice
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    ).booking
    feed_server.body = calendar(event("clash", "20270301T100000", "20270301T103000"))
    connection = sync(
        ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    )
    assert any(f"Booking {booking.pk}" in w for w in connection.warnings)
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_two_feeds_with_the_same_custom_zone_name_do_not_mix(feed_server, practice):
    person, _ = practice

    def custom(offset):
        return calendar(
            "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\n"
            f"DTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\n"
            "END:STANDARD\r\nEND:VTIMEZONE\r\n",
            "BEGIN:VEVENT\r\nUID:c\r\nDTSTART;TZID=Customized Time Zone:20270301T100000\r\n"
            "DTEND;TZID=Customized Time Zone:20270301T110000\r\nEND:VEVENT\r\n",
        )

    feed_server.body = custom("+0300")
    first = subscribe(person, feed_server)
    feed_server.body, feed_server.etag = custom("-0500"), '"v2"'
    second = subscribe(person, feed_server)
    starts = dict(BusyBlock.objects.values_list("source", "start"))
    assert starts[first.busy_source] == utc(2027, 3, 1, 7)
    assert starts[second.busy_source] == utc(2027, 3, 1, 15)


@time_machine.travel(NOW, tick=True)  # the task reads the real now; the feed is of 2027
def test_beat_dispatch_syncs_only_due_connections(feed_server, practice, settings):
    person, _ = practice
    feed_server.body = calendar(event("a", "20270301T100000", "20270301T110000"))
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    ics_sync_due()  # eager in tests: runs the sync task at once
    connection.refresh_from_db()
    assert connection.status == "ok" and BusyBlock.objects.count() == 1
    hits = len(feed_server.requests)
    ics_sync_due()  # synced a moment ago: not due
    assert len(feed_server.requests) == hits


@time_machine.travel(NOW, tick=True)  # the task reads the real now; the feed is of 2027
def test_synccalendars_command_runs_every_sync_now(feed_server, practice, capsys):
    person, _ = practice
    feed_server.body = calendar(event("a", "20270301T100000", "20270301T110000"))
    ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    call_command("synccalendars", "--practitioner", person.slug)
    assert BusyBlock.objects.count() == 1
    assert "ok" in capsys.readouterr().out


def test_a_trickling_server_is_cut_off_at_the_deadline(feed_server, practice):
    import time

    person, _ = practice
    connection = subscribe(person, feed_server, "drip")
    assert connection.status == "error" and "could not be fetched" in connection.last_error
    for _ in range(30):  # the server notices the hang-up on its next write
        if feed_server.drip_cut:
            break
        time.sleep(0.1)
    assert feed_server.drip_cut


def test_dns_rebinding_to_a_local_address_never_reaches_it(
    feed_server, practice, settings, monkeypatch
):
    """The name passes the check as a public address, then connects to 127.0.0.1."""
    import socket

    person, _ = practice
    settings.ICS_ALLOW_PRIVATE_URLS = False
    feed_server.body = calendar(event("a", "20270301T100000", "20270301T110000"))
    port = feed_server.httpd.server_port
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])  # public for the check, loopback for the connection

    def rebinding(host, *args, **kwargs):
        if host != "calendar.example":
            return real(host, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    from sync.models import CalendarConnection

    connection = CalendarConnection.objects.create(
        practitioner=person, kind="ics", url=f"http://calendar.example:{port}/calendar.ics"
    )
    connection = sync(connection)
    # Pinned to the address that was checked: the local server is never contacted.
    assert connection.status == "error" and "could not be fetched" in connection.last_error
    assert not BusyBlock.objects.exists() and not feed_server.requests


# --- the feed read again when what it depended on changes; deletions stay deleted ---


def weekly_feed() -> bytes:
    return (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:w\r\n"
        b"DTSTART;TZID=Europe/Amsterdam:20270301T100000\r\n"
        b"DTEND;TZID=Europe/Amsterdam:20270301T110000\r\nRRULE:FREQ=WEEKLY\r\n"
        b"END:VEVENT\r\nBEGIN:VEVENT\r\nUID:zero\r\nDTSTART;VALUE=DATE:20270305\r\n"
        b"DTEND;VALUE=DATE:20270305\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_unchanged_feed_is_read_again_when_the_window_moves(feed_server):
    person = factories.practitioner()
    feed_server.body = weekly_feed()
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    first_day = utc(2027, 2, 28, 8)
    ics_connection_sync(connection=connection, now=first_day, force=True)
    later = first_day + timedelta(days=200)  # same bytes, same ETag, a different window
    ics_connection_sync(connection=connection, now=later, force=True)
    future = BusyBlock.objects.filter(start__gt=later)
    assert future.count() >= 15  # the weekly event still blocks the new horizon
    assert "If-None-Match" not in feed_server.requests[-1][1]


def test_zero_length_all_day_event_blocks_its_day_and_never_stops_the_sync(feed_server):
    person = factories.practitioner()
    feed_server.body = weekly_feed()
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    ics_connection_sync(connection=connection, now=utc(2027, 2, 28, 8), force=True)
    connection.refresh_from_db()
    assert connection.status == "ok", connection.last_error
    day = BusyBlock.objects.get(external_id="zero")
    assert day.end - day.start == timedelta(days=1)


def test_changing_a_switch_reads_the_feed_again(feed_server):
    person = factories.practitioner()
    feed_server.body = weekly_feed()
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    now = utc(2027, 2, 28, 8)
    ics_connection_sync(connection=connection, now=now, force=True)
    assert BusyBlock.objects.filter(external_id="zero").exists()
    calendar_connection_update(connection=connection, block_all_day=False)
    ics_connection_sync(connection=connection, now=now, force=True)
    assert not BusyBlock.objects.filter(external_id="zero").exists()


def test_connection_deleted_during_a_sync_stays_deleted(feed_server, monkeypatch):
    person = factories.practitioner()
    feed_server.body = weekly_feed()
    connection = ics_connection_create(practitioner=person, url=feed_server.url("calendar.ics"))
    import sync.calendars

    real = sync.calendars.ics_busy_blocks

    def delete_meanwhile(*args, **kwargs):
        CalendarConnection.objects.filter(pk=connection.pk).delete()
        return real(*args, **kwargs)

    monkeypatch.setattr(sync.calendars, "ics_busy_blocks", delete_meanwhile)
    ics_connection_sync(connection=connection, now=timezone.now(), force=True)
    assert not CalendarConnection.objects.exists() and not BusyBlock.objects.exists()
