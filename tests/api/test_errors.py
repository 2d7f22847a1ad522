"""Bad input gets a clean 4xx with field errors, and nothing is stored half-way."""

from datetime import datetime, time

import pytest
from rest_framework.test import APIClient

from scheduler.models import AppointmentType, Booking, DateOverride, Session, WeeklyRule
from tests import factories
from tests.factories import AMSTERDAM

pytestmark = pytest.mark.django_db


@pytest.fixture
def good(follow_up, monday):
    return {
        "appointment_type": follow_up.pk,
        "start": datetime.combine(monday, time(10), tzinfo=AMSTERDAM).isoformat(),
        "name": "Sanne Jansen",
        "email": "sanne@example.nl",
        "phone": "+31 6 1234 5678",
        "notes": "",
        "language": "nl",
    }


def assert_nothing_booked():
    assert not Booking.objects.exists() and not Session.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [b"{", b"[]", b'"text"', b"null", b"\xff\xfe", b'{"name": "A"', b"1e999999"],
)
def test_malformed_json_is_a_400(anon, payload):
    response = anon.post("/api/v1/bookings/", payload, content_type="application/json")
    assert response.status_code == 400
    assert_nothing_booked()


def test_non_json_body_is_refused(anon, good):
    response = anon.post("/api/v1/bookings/", good)  # multipart form
    assert response.status_code == 415
    assert_nothing_booked()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("appointment_type", "1"),
        ("appointment_type", 1.5),
        ("appointment_type", True),
        ("appointment_type", None),
        ("appointment_type", 2**70),
        ("start", 1234567890),
        ("start", "tomorrow"),
        ("start", "2027-03-29T09:00:00"),
        ("start", "2027-03-29"),
        ("start", "9999-12-31T23:59:59-12:00"),
        ("start", "0001-01-01T00:00:00+14:00"),
        ("name", ""),
        ("name", 42),
        ("name", ["a"]),
        ("name", "A" * 201),
        ("name", "Jan\r\nBcc: x@example.nl"),
        ("name", "Jan\x00"),
        ("name", "Jan\x1b[31m"),
        ("name", "<script>alert(1)</script>"),
        ("email", "not-an-address"),
        ("email", 5),
        ("email", "a@example.nl\r\nBcc: b@example.nl"),
        ("phone", "06-12<b>"),
        ("phone", "1" * 41),
        ("notes", "x" * 2001),
        ("notes", "bad\x00byte"),
        ("language", "de"),
    ],
)
def test_bad_booking_fields_are_400s_naming_the_field(anon, good, field, value):
    response = anon.post("/api/v1/bookings/", {**good, field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert_nothing_booked()


def test_missing_fields_are_listed(anon):
    response = anon.post("/api/v1/bookings/", {}, format="json")
    assert response.status_code == 400
    assert {"appointment_type", "start", "name", "email"} <= set(response.json())


def test_sql_and_markup_in_free_text_are_kept_as_plain_text(anon, good):
    notes = "'); DROP TABLE scheduler_booking; -- <b>bold</b>\nline two"
    name = "Robert'); DROP TABLE scheduler_booking;--"
    response = anon.post("/api/v1/bookings/", {**good, "name": name, "notes": notes}, format="json")
    assert response.status_code == 201
    stored = Booking.objects.get()
    assert stored.client_name == name and stored.notes == notes


def test_bad_idempotency_key_is_a_400(anon, good):
    response = anon.post("/api/v1/bookings/", good, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert_nothing_booked()


@pytest.mark.parametrize(
    "query",
    [
        "appointment_type=abc&start=2027-01-01&end=2027-01-02",
        "appointment_type=-1&start=2027-01-01&end=2027-01-02",
        "appointment_type=99999999999999999999999&start=2027-01-01&end=2027-01-02",
        "appointment_type={pk}&start=1&end=2",
        "appointment_type={pk}&start=0001-01-01&end=0001-01-02",
        "appointment_type={pk}&start=9999-12-30&end=9999-12-31",
        "appointment_type={pk}&start=2027-01-01&end=2027-01-02&tz=../../etc/passwd",
        "appointment_type={pk}&start=2027-01-01&end=2027-01-02&tz=%00",
        "appointment_type={pk}&start=2027-01-01%00&end=2027-01-02",
        "appointment_type={pk}",
    ],
)
def test_bad_slot_queries_are_400s(anon, follow_up, query):
    response = anon.get("/api/v1/slots/?" + query.format(pk=follow_up.pk))
    assert response.status_code == 400, response.content


def test_bad_availability_input_changes_nothing(api, practitioner):
    for body in (
        {"rules": "all week"},
        {"rules": [{"weekday": "0", "start": "09:00", "end": "12:00"}]},
        {"rules": [{"weekday": 0, "start": "25:00", "end": "26:00"}]},
        {"rules": [{"weekday": 0, "start": "09:00"}]},
        {"timezone": "Europe/Amsterdam\n", "rules": []},
        {"rules": [{"weekday": 0, "start": "09:00", "end": "10:00"}] * 201},
    ):
        response = api.put("/api/v1/availability/weekly/", body, format="json")
        assert response.status_code == 400, body
    assert WeeklyRule.objects.filter(practitioner=practitioner).count() == 10


def test_bad_override_input_changes_nothing(api):
    for body in (
        {"date": "2027-02-30", "ranges": []},
        {"date": "0001-01-01", "ranges": []},
        {"date": "2027-03-01"},
        {"date": "2027-03-01", "ranges": [{"start": "10:00", "end": "09:00"}]},
        {
            "date": "2027-03-01",
            "ranges": [{"start": "09:00", "end": "11:00"}, {"start": "10:00", "end": "12:00"}],
        },
    ):
        response = api.post("/api/v1/availability/overrides/", body, format="json")
        assert response.status_code == 400, body
    assert not DateOverride.objects.exists()


def test_bad_appointment_type_input_changes_nothing(api, practitioner, follow_up):
    before = AppointmentType.objects.count()
    for body in (
        {"name": "X"},
        {"name": "X", "duration_minutes": 0},
        {"name": "X", "duration_minutes": 10_000},
        {"name": "X", "duration_minutes": 30, "slug": "not a slug"},
        {"name": "X", "duration_minutes": 30, "slug": follow_up.slug},
        {"name": "X", "duration_minutes": 30, "max_days_ahead": 0},
        {"name": "X", "duration_minutes": 30, "buffer_after_minutes": -5},
        {"name": "X\r\n", "duration_minutes": 30},
    ):
        response = api.post("/api/v1/appointment-types/", body, format="json")
        assert response.status_code == 400, body
    assert AppointmentType.objects.count() == before
    response = api.patch(
        f"/api/v1/appointment-types/{follow_up.pk}/", {"duration_minutes": "thirty"}, format="json"
    )
    assert response.status_code == 400
    follow_up.refresh_from_db()
    assert follow_up.duration_minutes == 30


def test_unknown_paths_and_methods(anon, api):
    assert anon.get("/api/v1/nothing/").status_code == 404
    assert anon.delete("/api/v1/slots/").status_code == 405
    assert api.patch("/api/v1/availability/weekly/", {}, format="json").status_code == 405


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
