"""Booking rules on whichever database DATABASE_URL names (PostgreSQL and SQLite in CI)."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from scheduler.booking import (
    booking_by_manage_token,
    booking_cancel,
    booking_create,
    booking_reschedule,
)
from scheduler.exceptions import BookingNotChangeable, IdempotencyKeyReused, SlotUnavailable
from scheduler.models import Booking, BusyBlock, Session
from scheduler.selectors import slot_list
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)


def offered(appointment_type, day=MONDAY, now=NOW):
    return [
        s.start
        for s in slot_list(appointment_type=appointment_type, first_day=day, last_day=day, now=now)
    ]


def at(hour, minute=0, day=MONDAY):
    """A local Amsterdam wall-clock time on `day`, as an aware instant."""
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


@pytest.fixture
def practitioner():
    return factories.practitioner()


@pytest.fixture
def follow_up(practitioner):
    return factories.appointment_type(practitioner, duration_minutes=30)


def test_booking_takes_the_slot_and_stores_sessions_in_utc(follow_up):
    result = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    )
    booking = result.booking
    assert booking.status == Booking.Status.CONFIRMED and not result.replayed
    [session] = booking.sessions.all()
    assert session.start == utc(2027, 3, 1, 9) and session.end == utc(2027, 3, 1, 9, 30)
    assert session.start.utcoffset() == timedelta(0)
    assert at(10) not in offered(follow_up)
    assert at(9, 30) in offered(follow_up) and at(10, 30) in offered(follow_up)


def test_manage_token_is_stored_only_as_a_hash_and_opens_its_booking(follow_up):
    result = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    )
    token = result.manage_token
    assert len(token) >= 40
    stored = Booking.objects.get(pk=result.booking.pk)
    assert token not in {stored.manage_token_hash, stored.request_fingerprint}
    assert booking_by_manage_token(token) == result.booking
    assert booking_by_manage_token(token[:-1] + "x") is None
    assert booking_by_manage_token("") is None


def test_second_booking_of_the_same_slot_is_refused_and_stores_nothing(follow_up):
    booking_create(appointment_type=follow_up, start=at(10), client=factories.client(1), now=NOW)
    with pytest.raises(SlotUnavailable):
        booking_create(
            appointment_type=follow_up, start=at(10), client=factories.client(2), now=NOW
        )
    assert Booking.objects.count() == 1 and Session.objects.count() == 1


def test_times_that_are_not_offered_are_refused(follow_up):
    for start in (at(10, 10), at(12, 30), at(8, 30), at(10, day=date(2027, 3, 6))):
        with pytest.raises(SlotUnavailable):
            booking_create(
                appointment_type=follow_up, start=start, client=factories.client(), now=NOW
            )
    with pytest.raises(SlotUnavailable):  # in the past
        booking_create(
            appointment_type=follow_up,
            start=at(10),
            client=factories.client(),
            now=utc(2027, 3, 1, 12),
        )
    assert not Booking.objects.exists()


def test_buffers_of_an_existing_session_block_its_neighbours(practitioner):
    buffered = factories.appointment_type(
        practitioner, duration_minutes=30, slot_step_minutes=15, buffer_after_minutes=15
    )
    booking_create(appointment_type=buffered, start=at(10), client=factories.client(), now=NOW)
    times = offered(buffered)
    assert at(10, 30) not in times  # inside the 15 minutes after
    assert at(9, 30) not in times  # its own buffer would run into the booking at 10:00
    assert at(9, 15) in times and at(10, 45) in times


def test_busy_block_from_an_external_calendar_blocks_booking(practitioner, follow_up):
    BusyBlock.objects.create(practitioner=practitioner, start=at(10), end=at(11), source="ics:test")
    assert at(10) not in offered(follow_up) and at(11) in offered(follow_up)
    with pytest.raises(SlotUnavailable):
        booking_create(
            appointment_type=follow_up, start=at(10, 30), client=factories.client(), now=NOW
        )


def test_series_is_booked_all_together(practitioner):
    series = factories.intake_series(practitioner)
    result = booking_create(
        appointment_type=series, start=at(9), client=factories.client(), now=NOW
    )
    sessions = list(result.booking.sessions.order_by("position"))
    assert [s.start.astimezone(AMSTERDAM).strftime("%a %d %H:%M") for s in sessions] == [
        "Mon 01 09:00",
        "Thu 04 09:00",
        "Thu 11 09:00",
    ]
    assert [(s.end - s.start).seconds // 60 for s in sessions] == [60, 30, 30]


def test_series_with_one_taken_session_books_nothing(practitioner, follow_up):
    series = factories.intake_series(practitioner)
    booking_create(
        appointment_type=follow_up,
        start=at(9, day=date(2027, 3, 11)),
        client=factories.client(1),
        now=NOW,
    )
    assert at(9) not in offered(series)
    with pytest.raises(SlotUnavailable):
        booking_create(appointment_type=series, start=at(9), client=factories.client(2), now=NOW)
    assert Booking.objects.count() == 1 and Session.objects.count() == 1


def test_cancel_frees_every_session_at_once(practitioner):
    series = factories.intake_series(practitioner)
    booking = booking_create(
        appointment_type=series, start=at(9), client=factories.client(1), now=NOW
    ).booking
    cancelled = booking_cancel(booking=booking, now=NOW)
    assert cancelled.status == Booking.Status.CANCELLED
    assert set(booking.sessions.values_list("status", "sequence")) == {("cancelled", 1)}
    assert at(9) in offered(series)
    again = booking_create(
        appointment_type=series, start=at(9), client=factories.client(2), now=NOW
    )
    assert again.booking.status == Booking.Status.CONFIRMED
    assert booking_cancel(booking=booking, now=NOW).status == Booking.Status.CANCELLED


def test_cancel_after_the_booking_took_place_is_refused(follow_up):
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    ).booking
    with pytest.raises(BookingNotChangeable):
        booking_cancel(booking=booking, now=utc(2027, 3, 2))
    assert Booking.objects.get().status == Booking.Status.CONFIRMED


def test_reschedule_moves_the_booking_and_frees_the_old_time(follow_up):
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    ).booking
    moved = booking_reschedule(booking=booking, start=at(14), now=NOW)
    session = moved.sessions.get()
    assert session.start == at(14) and session.sequence == 1
    assert at(10) in offered(follow_up) and at(14) not in offered(follow_up)


def test_reschedule_to_a_taken_slot_keeps_the_old_time(follow_up):
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(1), now=NOW
    ).booking
    booking_create(appointment_type=follow_up, start=at(14), client=factories.client(2), now=NOW)
    with pytest.raises(SlotUnavailable):
        booking_reschedule(booking=booking, start=at(14), now=NOW)
    session = booking.sessions.get()
    assert session.start == at(10) and session.status == "confirmed" and session.sequence == 0
    assert at(10) not in offered(follow_up)


def test_reschedule_may_overlap_the_bookings_own_old_time(practitioner):
    long = factories.appointment_type(practitioner, duration_minutes=60, slot_step_minutes=30)
    booking = booking_create(
        appointment_type=long, start=at(10), client=factories.client(), now=NOW
    ).booking
    moved = booking_reschedule(booking=booking, start=at(10, 30), now=NOW)
    assert moved.sessions.get().start == at(10, 30)


def test_series_reschedule_onto_its_own_later_session_day():
    series = factories.intake_series(factories.practitioner(days=range(7)))
    booking = booking_create(
        appointment_type=series, start=at(9), client=factories.client(), now=NOW
    ).booking
    thursday = date(2027, 3, 4)  # the day of its own second session, same time
    moved = booking_reschedule(booking=booking, start=at(9, day=thursday), now=NOW)
    days = [s.start.astimezone(AMSTERDAM).date() for s in moved.sessions.order_by("position")]
    assert days == [
        thursday,
        thursday + timedelta(days=3),
        thursday + timedelta(days=10),
    ]


def test_cancelled_booking_cannot_be_rescheduled(follow_up):
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    ).booking
    booking_cancel(booking=booking, now=NOW)
    with pytest.raises(BookingNotChangeable):
        booking_reschedule(booking=booking, start=at(11), now=NOW)


def test_same_idempotency_key_and_request_returns_the_first_booking(follow_up):
    first = booking_create(
        appointment_type=follow_up,
        start=at(10),
        client=factories.client(),
        now=NOW,
        idempotency_key="key-1",
    )
    again = booking_create(
        appointment_type=follow_up,
        start=at(10),
        client=factories.client(),
        now=NOW,
        idempotency_key="key-1",
    )
    assert again.replayed and again.booking.pk == first.booking.pk
    assert again.manage_token == first.manage_token
    assert Booking.objects.count() == 1
    stored = Booking.objects.get()
    assert "key-1" not in (stored.idempotency_key_hash, stored.manage_token_sealed)
    assert first.manage_token not in stored.manage_token_sealed


def test_same_idempotency_key_with_another_request_is_refused(follow_up):
    booking_create(
        appointment_type=follow_up,
        start=at(10),
        client=factories.client(),
        now=NOW,
        idempotency_key="key-1",
    )
    with pytest.raises(IdempotencyKeyReused):
        booking_create(
            appointment_type=follow_up,
            start=at(11),
            client=factories.client(),
            now=NOW,
            idempotency_key="key-1",
        )
    assert Booking.objects.count() == 1


def test_inactive_type_cannot_be_booked(follow_up):
    follow_up.active = False
    follow_up.save()
    with pytest.raises(SlotUnavailable):
        booking_create(appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW)


def test_invalid_client_details_store_nothing(follow_up):
    with pytest.raises(ValidationError):
        booking_create(
            appointment_type=follow_up,
            start=at(10),
            client=factories.client(email="not-an-address"),
            now=NOW,
        )
    assert not Booking.objects.exists() and not Session.objects.exists()
    assert at(10) in offered(follow_up)


def test_bookings_of_other_practitioners_do_not_block(follow_up):
    other = factories.appointment_type(factories.practitioner(), duration_minutes=30)
    booking_create(appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW)
    assert at(10) in offered(other)


def test_client_changes_respect_the_cancellation_window(follow_up):
    booking = booking_create(
        appointment_type=follow_up, start=at(10), client=factories.client(), now=NOW
    ).booking
    day_before = utc(2027, 2, 28, 10)  # 23 hours before 10:00 local on Monday
    with pytest.raises(BookingNotChangeable, match="24 hours"):
        booking_cancel(booking=booking, now=day_before, notice=timedelta(hours=24))
    with pytest.raises(BookingNotChangeable, match="24 hours"):
        booking_reschedule(
            booking=booking, start=at(14), now=day_before, notice=timedelta(hours=24)
        )
    assert Session.objects.get().status == "confirmed"
    early = utc(2027, 2, 27, 8)
    booking_reschedule(booking=booking, start=at(14), now=early, notice=timedelta(hours=24))
    booking_cancel(booking=booking, now=early, notice=timedelta(hours=24))
    assert Booking.objects.get().status == "cancelled"
