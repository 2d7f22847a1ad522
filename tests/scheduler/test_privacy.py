"""Client data: anonymised after the retention period, exported and erased on request."""

from datetime import date, timedelta

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler.booking import booking_create
from scheduler.models import Booking, Question, Session
from scheduler.privacy import ANONYMOUS_NAME, client_data_anonymise_expired
from scheduler.questions import question_create
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db
NOW = utc(2027, 2, 22, 7)


def at(day, hour):
    return local(AMSTERDAM, day.year, day.month, day.day, hour)


@pytest.fixture
def practice():
    person = factories.practitioner()
    return person, factories.appointment_type(person, duration_minutes=30)


def book(follow_up, start, email="sanne@example.nl"):
    return booking_create(
        appointment_type=follow_up,
        start=start,
        now=NOW,
        client=factories.client(name="Sanne Jansen", email=email, notes="rug"),
    ).booking


def test_bookings_past_the_retention_period_are_anonymised(practice):
    person, follow_up = practice
    old = book(follow_up, at(date(2027, 3, 1), 10))
    recent = book(follow_up, at(date(2027, 3, 2), 10), email="other@example.nl")
    question_create(
        practitioner=person, name="Els", email="els@example.nl", message="?", language="nl", now=NOW
    )
    two_years_later = utc(2029, 3, 1, 8)  # 730 days after 2027-03-02 08:00Z: between the two
    counts = client_data_anonymise_expired(now=two_years_later, retention=timedelta(days=730))
    assert counts == {"bookings": 1, "questions": 1}
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.client_name == ANONYMOUS_NAME and old.client_phone == "" and old.notes == ""
    assert "sanne" not in old.client_email and old.anonymised_at == two_years_later
    assert Session.objects.filter(booking=old).get().start == at(date(2027, 3, 1), 10)
    assert recent.client_name == "Sanne Jansen"
    assert not Question.objects.exists()


@time_machine.travel(NOW, tick=True)  # the API erases at the real now: the booking is ahead
def test_export_and_erase_one_client_through_the_api(practice, settings):
    person, follow_up = practice
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=person.user).key}")
    upcoming = book(follow_up, at(date(2027, 3, 1), 10))
    other_practice = factories.appointment_type(factories.practitioner(), duration_minutes=30)
    book(other_practice, at(date(2027, 3, 1), 10))
    question_create(
        practitioner=person,
        name="Sanne",
        email="SANNE@example.nl",
        message="?",
        language="nl",
        now=NOW,
    )
    exported = api.get("/api/v1/clients/export/?email=sanne@example.nl").json()
    assert [b["id"] for b in exported["bookings"]] == [upcoming.pk]
    assert exported["bookings"][0]["notes"] == "rug" and len(exported["questions"]) == 1
    assert exported["bookings"][0]["sessions"][0]["status"] == "confirmed"
    erased = api.post("/api/v1/clients/erase/", {"email": "sanne@example.nl"}, format="json")
    assert erased.json() == {"bookings": 1, "questions": 1}
    upcoming.refresh_from_db()
    assert upcoming.client_name == ANONYMOUS_NAME and upcoming.status == "cancelled"
    assert Booking.objects.filter(client_name="Sanne Jansen").count() == 1  # the other practice
    assert api.get("/api/v1/clients/export/?email=sanne@example.nl").json()["bookings"] == []
    assert api.get("/api/v1/clients/export/?email=nope").status_code == 400
