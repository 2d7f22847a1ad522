"""Regressions found in review: each once let busy time go missing or a request fail."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from scheduler.models import BusyBlock
from sync.calendars import calendar_connection_update, ics_connection_create, ics_connection_sync
from sync.models import CalendarConnection
from tests import factories
from tests.factories import utc

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("zone", ["Europe", "America", "Etc", "../Europe/Amsterdam"])
def test_a_directory_of_the_zone_database_is_a_400_not_a_500(zone):
    person = factories.practitioner()
    follow_up = factories.appointment_type(person)
    anon = APIClient()
    response = anon.get(
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start=2027-03-01&end=2027-03-02&tz={zone}"
    )
    assert response.status_code == 400 and "tz" in response.json()


def test_malformed_feed_address_is_a_400():
    person = factories.practitioner()
    api = APIClient()
    api.force_authenticate(person.user)
    response = api.post("/api/v1/calendars/", {"kind": "ics", "url": "http://[::1"}, format="json")
    assert response.status_code == 400 and "url" in response.json()
