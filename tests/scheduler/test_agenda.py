"""The practitioner's agenda (scheduler/agenda.py): one reading of a day or a week, which
the admin's desk and the workspace both show."""

from datetime import date, time, timedelta

import pytest
import time_machine
from django.test import Client

from scheduler.agenda import agenda_days, agenda_window
from scheduler.booking import booking_cancel, booking_create
from scheduler.models import BusyBlock
from scheduler.practice import date_override_save
from tests import factories
from tests.factories import AMSTERDAM, local, utc

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)  # the Monday before


def hours(intervals) -> list[tuple[time, time]]:
    return [(i.start.time(), i.end.time()) for i in intervals]


def test_a_week_runs_from_its_monday_and_steps_a_week():
    window = agenda_window(day=date(2027, 3, 3), span="week", today=NOW.date())
    assert (window.span, window.first, window.last) == ("week", MONDAY, date(2027, 3, 7))
    assert (window.previous, window.next) == (date(2027, 2, 22), date(2027, 3, 8))
    assert agenda_window(day=date(2027, 3, 3), span=None, today=NOW.date()) == window


def test_a_day_is_that_day_and_without_a_date_today():
    window = agenda_window(day=None, span="day", today=date(2027, 3, 3))
    assert (window.first, window.last, window.days) == (date(2027, 3, 3), date(2027, 3, 3), 1)
    assert (window.previous, window.next) == (date(2027, 3, 2), date(2027, 3, 4))


@pytest.fixture
def day_of_work(db):
    """Monday: a live session at 09:00 (15 minutes after it kept free), a cancelled one at
    10:00, busy time 14:00-15:00; Tuesday is a day off."""
    person = factories.practitioner()
    follow_up = factories.appointment_type(person, duration_minutes=30, buffer_after_minutes=15)
    kept, gone = (
        booking_create(
            appointment_type=follow_up,
            start=local(AMSTERDAM, 2027, 3, 1, hour),
            client=factories.client(n),
            now=NOW,
        ).booking
        for n, hour in ((1, 9), (2, 10))
    )
    booking_cancel(booking=gone, now=NOW)
    BusyBlock.objects.create(
        practitioner=person,
        start=local(AMSTERDAM, 2027, 3, 1, 14),
        end=local(AMSTERDAM, 2027, 3, 1, 15),
        source="ics:1",
    )
    date_override_save(practitioner=person, date=date(2027, 3, 2), ranges=[])
    return person, kept, gone


def test_each_day_holds_its_sessions_busy_time_open_and_free_time(day_of_work):
    person, kept, gone = day_of_work
    week = agenda_window(day=MONDAY, span="week", today=NOW.date())
    days = agenda_days(practitioner=person, window=week, now=NOW)
    assert [d.day for d in days] == [MONDAY + timedelta(days=n) for n in range(7)]
    monday, tuesday, saturday = days[0], days[1], days[5]
    assert [s.booking for s in monday.sessions] == [kept, gone]  # the cancelled one too
    assert [(b.start.time(), b.end.time(), b.source) for b in monday.busy] == [
        (time(14), time(15), "ics:1")
    ]
    assert hours(monday.open) == [(time(9), time(12, 30)), (time(13, 30), time(17))]
    assert hours(monday.free) == [
        (time(9, 45), time(12, 30)),
        (time(13, 30), time(14)),
        (time(15), time(17)),
    ]
    assert all(i.start.tzinfo == AMSTERDAM for i in monday.open + monday.free)
    assert tuesday.closed and not tuesday.open and not tuesday.free
    assert saturday.closed  # no weekly hours


def test_free_time_starts_now(day_of_work):
    person, _, _ = day_of_work
    day = agenda_window(day=MONDAY, span="day", today=MONDAY)
    (monday,) = agenda_days(practitioner=person, window=day, now=local(AMSTERDAM, 2027, 3, 1, 11))
    assert hours(monday.free)[0] == (time(11), time(12, 30))
    assert hours(monday.open)[0] == (time(9), time(12, 30))


def test_the_desk_and_the_workspace_show_the_same_day(day_of_work):
    person, kept, gone = day_of_work
    person.user.is_staff = person.user.is_superuser = True
    person.user.save()
    with time_machine.travel(NOW):
        http = Client()
        http.force_login(person.user)
        desk = http.get("/admin/agenda/?span=day&date=2027-03-01").content.decode()
        workspace = http.get("/praktijk/?span=day&date=2027-03-01").content.decode()
    for page, between in ((desk, "–"), (workspace, "</time>–")):
        assert f"09:00{between}09:30" in page and f"10:00{between}10:30" in page
        assert "Client 1" in page and "Client 2" in page
    # Only the live booking can be cancelled from the desk; the workspace greys the other.
    assert f"/admin/agenda/cancel/{kept.pk}/" in desk
    assert f"/admin/agenda/cancel/{gone.pk}/" not in desk
    assert workspace.count('<li class="cancelled">') == 1


@pytest.mark.parametrize("query", ["date=0001-01-01", "date=9999-12-31&span=day", "date=x"])
def test_the_desk_takes_any_date_without_failing(day_of_work, query):
    person, _, _ = day_of_work
    person.user.is_staff = person.user.is_superuser = True
    person.user.save()
    http = Client()
    http.force_login(person.user)
    assert http.get(f"/admin/agenda/?{query}").status_code == 200
