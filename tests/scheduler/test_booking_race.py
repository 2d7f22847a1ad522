"""Concurrent bookings over separate connections: the database state must stay exact.

These run on every backend; PostgreSQL is what CI runs them against first. The tests
marked `postgres` also take the code's own checks away to show the exclusion constraint
alone refuses the overlap.
"""

from collections import Counter
from datetime import date

import pytest
from django.db import IntegrityError, transaction

import scheduler.booking
from scheduler.booking import booking_create, booking_reschedule
from scheduler.exceptions import SlotUnavailable
from scheduler.models import Booking, Session
from tests import factories
from tests.audit import overlapping_live_sessions, race
from tests.factories import AMSTERDAM, local, utc

# Up to 50 connections at once: under xdist these share one worker (see tests/audit.py), so
# two races never together exhaust PostgreSQL's 100 connections.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("connections")]

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)


def at(hour, minute=0, day=MONDAY):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


def kinds(outcomes):
    return Counter(type(o).__name__ for o in outcomes)


def book(appointment_type, start, n):
    return lambda: booking_create(
        appointment_type=appointment_type, start=start, client=factories.client(n), now=NOW
    )


def test_fifty_parallel_attempts_at_one_slot_make_exactly_one_booking():
    follow_up = factories.appointment_type(factories.practitioner(), duration_minutes=30)
    outcomes = race([book(follow_up, at(10), n) for n in range(50)])
    assert kinds(outcomes) == {"BookingResult": 1, "SlotUnavailable": 49}
    assert Booking.objects.count() == 1
    assert Session.objects.filter(status="confirmed").count() == 1
    assert overlapping_live_sessions() == 0


def test_overlapping_starts_with_buffers_make_exactly_one_booking():
    buffered = factories.appointment_type(
        factories.practitioner(),
        duration_minutes=30,
        slot_step_minutes=5,
        buffer_before_minutes=10,
        buffer_after_minutes=15,
    )
    # Starts 10:00 to 10:45: every pair of blocked spans (55 minutes) overlaps.
    outcomes = race([book(buffered, at(10, 5 * (n % 10)), n) for n in range(50)])
    assert kinds(outcomes) == {"BookingResult": 1, "SlotUnavailable": 49}
    assert Session.objects.filter(status="confirmed").count() == 1
    assert overlapping_live_sessions() == 0


def test_two_series_sharing_one_session_date_make_exactly_one_booking():
    series = factories.intake_series(factories.practitioner(days=range(7)))
    thursday = date(2027, 3, 4)  # session 2 of the Monday series, session 1 of the other
    calls = [book(series, at(9), n) for n in range(25)]
    calls += [book(series, at(9, day=thursday), n) for n in range(25, 50)]
    outcomes = race(calls)
    assert kinds(outcomes) == {"BookingResult": 1, "SlotUnavailable": 49}
    assert Booking.objects.count() == 1
    assert Session.objects.filter(status="confirmed").count() == 3
    assert overlapping_live_sessions() == 0


def test_reschedule_racing_new_bookings_never_doubles_or_loses_time():
    follow_up = factories.appointment_type(factories.practitioner(), duration_minutes=30)
    moving = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(0), now=NOW
    ).booking
    calls = [lambda: booking_reschedule(booking=moving, start=at(14), now=NOW)]
    calls += [book(follow_up, at(14), n) for n in range(1, 25)]
    calls += [book(follow_up, at(10), n) for n in range(25, 50)]
    outcomes = race(calls)
    assert not [
        o
        for o in outcomes
        if o is None or (isinstance(o, Exception) and not isinstance(o, SlotUnavailable))
    ]
    live = Session.objects.filter(status="confirmed")
    assert live.filter(start=at(14)).count() == 1
    assert live.filter(start=at(10)).count() <= 1
    assert live.filter(booking=moving).count() == 1  # never lost, never doubled
    moved = isinstance(outcomes[0], Booking)
    assert live.get(booking=moving).start == (at(14) if moved else at(10))
    if not moved:
        assert live.filter(start=at(10)).count() == 1
    assert overlapping_live_sessions() == 0


@pytest.mark.postgres
def test_exclusion_constraint_refuses_overlap_even_when_the_code_checks_nothing(monkeypatch):
    follow_up = factories.appointment_type(factories.practitioner(), duration_minutes=30)
    offered = scheduler.booking._offered_slot(follow_up, at(10), NOW)
    # Simulate a bug: no lock and no re-check, every attempt believes the slot is free.
    monkeypatch.setattr(scheduler.booking, "_lock_practitioner", lambda _pk: None)
    monkeypatch.setattr(scheduler.booking, "_offered_slot", lambda *a, **k: offered)
    outcomes = race([book(follow_up, at(10), n) for n in range(50)])
    assert kinds(outcomes) == {"BookingResult": 1, "SlotUnavailable": 49}
    assert Booking.objects.count() == 1
    assert overlapping_live_sessions() == 0


@pytest.mark.postgres
def test_exclusion_constraint_on_direct_writes():
    person = factories.practitioner()
    follow_up = factories.appointment_type(person, duration_minutes=30)
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    ).booking
    base = {"booking": booking, "practitioner": person, "updated_at": NOW}

    def insert(start, end, **extra):
        with transaction.atomic():
            return Session.objects.create(
                start=start,
                end=end,
                blocked_start=start,
                blocked_end=end,
                position=Session.objects.filter(booking=booking).count(),
                **{**base, **extra},
            )

    with pytest.raises(IntegrityError):
        insert(at(10, 15), at(10, 45))
    insert(at(10, 30), at(11))  # touching is not overlapping
    insert(at(10), at(10, 30), status="cancelled")  # cancelled time is free
    other = factories.practitioner()
    insert(at(10), at(10, 30), practitioner=other)
    assert Session.objects.filter(practitioner=person).exclude(status="cancelled").count() == 2


def test_thirty_clients_over_overlapping_follow_up_windows_never_overlap():
    """Monday and Tuesday intakes share Thursday and Friday in their second windows; half
    the clients choose Thursday 09:00 for it, half take the proposed set."""
    from scheduler.selectors import slot_list

    intake = factories.windowed_intake(factories.practitioner(), slot_step_minutes=30)
    tuesday = date(2027, 3, 2)
    firsts = [
        s.start
        for s in slot_list(appointment_type=intake, first_day=MONDAY, last_day=tuesday, now=NOW)
    ]
    thursday_nine = at(9, day=date(2027, 3, 4))

    def attempt(n):
        start = firsts[n % len(firsts)]
        sessions = None
        if n % 2 == 0:
            proposed = slot_list(
                appointment_type=intake, first_day=MONDAY, last_day=tuesday, now=NOW
            )
            slot = next(s for s in proposed if s.start == start)
            sessions = [start, thursday_nine, slot.sessions[2].start]
        return lambda: booking_create(
            appointment_type=intake,
            start=start,
            client=factories.client(n),
            now=NOW,
            sessions=sessions,
        )

    outcomes = race([attempt(n) for n in range(30)])
    assert set(kinds(outcomes)) <= {"BookingResult", "SlotUnavailable"}, outcomes
    assert kinds(outcomes)["BookingResult"] >= 2
    assert overlapping_live_sessions() == 0
    live = Session.objects.filter(status="confirmed")
    assert live.filter(start=thursday_nine).count() <= 1
    for booking in Booking.objects.all():
        days = [s.start.astimezone(AMSTERDAM).date() for s in booking.sessions.order_by("position")]
        assert days == sorted(set(days))
