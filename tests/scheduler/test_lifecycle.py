"""One lifecycle (scheduler/lifecycle.py): each status moves only as its table allows, by
every way in (the booking service, the wait list, the admin)."""

from datetime import date

import pytest
from django.test import Client

from scheduler.booking import booking_cancel, booking_create
from scheduler.exceptions import StatusMoveRefused
from scheduler.lifecycle import (
    MOVES,
    BookingStatus,
    SessionStatus,
    WaitlistStatus,
    status_move,
    status_update,
)
from scheduler.models import Booking, Session, WaitlistEntry
from scheduler.waitlist import waitlist_join, waitlist_leave
from tests import factories
from tests.factories import AMSTERDAM, local, utc

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)


def test_every_status_has_its_moves_and_they_stay_in_its_kind():
    assert set(MOVES) == {BookingStatus, SessionStatus, WaitlistStatus}
    for statuses, moves in MOVES.items():
        assert set(moves) == set(statuses.values), statuses
        for targets in moves.values():
            assert targets <= set(statuses.values), statuses


def test_the_models_store_the_lifecycle_statuses():
    for model, statuses in (
        (Booking, BookingStatus),
        (Session, SessionStatus),
        (WaitlistEntry, WaitlistStatus),
    ):
        assert model.Status is statuses
        assert model._meta.get_field("status").choices == statuses.choices


@pytest.fixture
def booking(db):
    person = factories.practitioner()
    person.user.is_staff = person.user.is_superuser = True
    person.user.save()
    follow_up = factories.appointment_type(person, duration_minutes=30)
    return booking_create(
        appointment_type=follow_up,
        start=local(AMSTERDAM, 2027, 3, 1, 9),
        client=factories.client(1),
        now=NOW,
    ).booking


def test_a_cancelled_booking_is_not_confirmed_again(booking):
    booking_cancel(booking=booking, now=NOW)
    booking.refresh_from_db()
    with pytest.raises(StatusMoveRefused):
        status_move(booking, BookingStatus.CONFIRMED)
    assert booking.status == BookingStatus.CANCELLED


def test_a_guarded_update_moves_only_rows_whose_status_may_leave(booking):
    entries = [
        waitlist_join(
            appointment_type=booking.appointment_type,
            client=factories.client(n),
            earliest=MONDAY,
            latest=MONDAY,
            now=NOW,
        ).entry
        for n in (2, 3)
    ]
    waitlist_leave(entry=entries[0], now=NOW)
    moved = status_update(WaitlistEntry.objects.all(), WaitlistStatus.EXPIRED, updated_at=NOW)
    assert moved == 1
    assert sorted(WaitlistEntry.objects.values_list("status", flat=True)) == ["expired", "left"]


def test_the_admin_does_not_change_a_status_behind_the_lifecycle(booking):
    """A status set in the admin's form would cancel a booking whose time stays taken, and
    tell nobody: the desk's quick cancel is the way."""
    http = Client()
    http.force_login(booking.practitioner.user)
    session = booking.sessions.get()
    response = http.post(
        f"/admin/scheduler/booking/{booking.pk}/change/",
        {
            "appointment_type": booking.appointment_type_id,
            "client_name": booking.client_name,
            "client_email": booking.client_email,
            "client_phone": "",
            "notes": "",
            "language": "nl",
            "status": "cancelled",
            "sessions-TOTAL_FORMS": "1",
            "sessions-INITIAL_FORMS": "1",
            "sessions-MIN_NUM_FORMS": "0",
            "sessions-MAX_NUM_FORMS": "1000",
            "sessions-0-id": session.pk,
            "sessions-0-booking": booking.pk,
        },
    )
    assert response.status_code == 302  # saved
    booking.refresh_from_db()
    session.refresh_from_db()
    assert (booking.status, session.status) == ("confirmed", "confirmed")
