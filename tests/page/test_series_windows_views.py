"""Follow-up windows on the pages without JavaScript: one labelled <select> per follow-up."""

import re
from datetime import date

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_create
from scheduler.models import Booking
from scheduler.selectors import slot_list, slot_options
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

MONDAY = date(2027, 4, 5)  # the clock is frozen at Wednesday 2027-03-17 10:00
CONSENT = {"name": "Sanne", "email": "sanne@example.nl", "consent": "on"}


@pytest.fixture
def windowed(frozen_clock, practice):
    person, _, _ = practice
    return person, factories.windowed_intake(person, slot_step_minutes=60)


def first_slot(intake, day=MONDAY):
    return slot_list(appointment_type=intake, first_day=day, last_day=day, now=timezone.now())[0]


def test_confirm_offers_a_select_per_follow_up_and_books_the_choice(windowed):
    person, intake = windowed
    slot = first_slot(intake)
    url = f"/p/{person.slug}/book/{intake.pk}/confirm/?start={int(slot.start.timestamp())}"
    page = Client().get(url).content.decode()
    for n in (1, 2):
        assert re.search(rf'<label for="id_session_{n}">Behandeling {n + 1}</label>', page)
        assert f'<select name="session_{n}" id="id_session_{n}">' in page
    offered = slot_options(appointment_type=intake, start=slot.start, now=timezone.now())
    other = next(o for o in offered.options[1] if o != slot.sessions[1])
    response = Client().post(
        url,
        {
            **CONSENT,
            "start": int(slot.start.timestamp()),
            "session_1": int(other.start.timestamp()),
        },
    )
    assert response.status_code == 302
    sessions = list(Booking.objects.get().sessions.order_by("position"))
    assert [s.start for s in sessions] == [slot.start, other.start, slot.sessions[2].start]


def test_a_choice_outside_the_window_is_refused_on_the_page(windowed):
    person, intake = windowed
    slot = first_slot(intake)
    url = f"/p/{person.slug}/book/{intake.pk}/confirm/?start={int(slot.start.timestamp())}"
    outside = int(slot.sessions[2].start.timestamp())  # the third session's day for the second
    response = Client().post(
        url, {**CONSENT, "start": int(slot.start.timestamp()), "session_1": outside}
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert Booking.objects.count() == 0


def test_the_manage_page_moves_one_follow_up_and_keeps_the_others(windowed):
    _, intake = windowed
    slot = first_slot(intake)
    result = booking_create(
        appointment_type=intake,
        start=slot.start,
        client=ClientDetails(name="Sanne", email="sanne@example.nl"),
        now=timezone.now(),
    )
    client = Client()
    page = client.get(f"/manage/{result.manage_token}/").content.decode()
    assert '<select name="session_2" id="id_session_2">' in page
    offered = slot_options(
        appointment_type=intake,
        start=slot.start,
        now=timezone.now(),
        exclude_booking_id=result.booking.pk,
    )
    other = next(o for o in offered.options[2] if o != slot.sessions[2])
    moved = client.post(
        f"/manage/{result.manage_token}/reschedule/",
        {"start": int(slot.start.timestamp()), "session_2": int(other.start.timestamp())},
    )
    assert moved.status_code == 302 and moved["Location"].endswith("?moved=1")
    sessions = [s.start for s in result.booking.sessions.order_by("position")]
    assert sessions == [slot.start, slot.sessions[1].start, other.start]
