"""The practitioner's desk in the admin: agenda, quick cancel with a message, alerts."""

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.booking import booking_create
from scheduler.selectors import slot_list
from sync.models import CalendarConnection
from tests import factories
from tests.page.conftest import next_monday

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(frozen_day):
    person = factories.practitioner()
    person.user.is_staff = person.user.is_superuser = True
    person.user.save()
    client = Client()
    client.force_login(person.user)
    follow_up = factories.appointment_type(person, duration_minutes=30, name="Vervolg")
    day = next_monday()
    start = slot_list(appointment_type=follow_up, first_day=day, last_day=day, now=timezone.now())[
        0
    ].start
    booking = booking_create(
        appointment_type=follow_up,
        start=start,
        now=timezone.now(),
        client=factories.client(name="Sanne Jansen", email="sanne@example.nl"),
    ).booking
    return person, client, booking, day


def test_week_and_day_agenda_list_the_bookings(desk):
    _, client, _booking, day = desk
    week = client.get(f"/admin/agenda/?date={day}").content.decode()
    assert "Sanne Jansen" in week and "09:00–09:30" in week
    one_day = client.get(f"/admin/agenda/?span=day&date={day}").content.decode()
    assert "Sanne Jansen" in one_day
    assert "Sanne" not in client.get("/admin/agenda/?span=day&date=2020-01-01").content.decode()
    assert Client().get("/admin/agenda/").status_code == 302  # login required


def test_quick_cancel_sends_the_message_to_the_client(
    desk, mailoutbox, django_capture_on_commit_callbacks
):
    _, client, booking, _ = desk
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/agenda/cancel/{booking.pk}/", {"message": "Ik ben helaas ziek."}
        )
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    to_client = [m for m in mailoutbox if m.to == ["sanne@example.nl"]]
    assert to_client and "Ik ben helaas ziek." in to_client[-1].body
    assert "method=CANCEL" in to_client[-1].attachments[0][2]


def test_banner_when_a_connection_needs_attention(desk):
    person, client, _, _ = desk
    CalendarConnection.objects.create(
        practitioner=person, kind="google", name="Google Calendar", status="reconnect_needed"
    )
    page = client.get("/admin/").content.decode()
    assert "Google Calendar" in page and "opnieuw verbinden nodig" in page
    listing = client.get("/admin/sync/calendarconnection/").content.decode()
    assert "reconnect_needed" in listing or "Reconnect needed" in listing
