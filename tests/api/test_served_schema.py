"""The served OpenAPI schema says what the service accepts: a client generated from
`/api/schema/` sends the names, phone numbers and keys real clients type.

Every request the API tests send through `anon` and `api` is checked the same way
(tests/api/schema_check.py); these tests name the cases that once went wrong."""

from datetime import date, datetime, time, timedelta

import jsonschema
import pytest

from scheduler.models import Booking, WaitlistEntry
from tests.api import schema_check
from tests.factories import AMSTERDAM

pytestmark = pytest.mark.django_db

# FROZEN_CLOCK is Wednesday 2027-03-17; the Monday after next is free and bookable.
MONDAY = date(2027, 3, 22)

NAMES = [
    "José van der Berg-O'Neill",
    "Zoë",
    "Anne-Marie 't Hooft",
    "Łucja Żółtowska",
    "Nguyễn Thị Minh Khai",
    "Søren Ågård",
    "Фёдор Достоевский",
    "محمد الأحمد",
    "田中 太郎",
    "Jan Jansen Jr.",
]


def _booking(kind, name, n, **fields):
    day = MONDAY + timedelta(days=n // 6)  # six half hours a morning
    start = datetime.combine(day, time(9), tzinfo=AMSTERDAM) + timedelta(minutes=30 * (n % 6))
    return {
        "appointment_type": kind.pk,
        "start": start.isoformat(),
        "name": name,
        "email": f"client{n}@example.nl",
        "language": "nl",
        **fields,
    }


def _waitlist(kind, name, n, **fields):
    return {
        "appointment_type": kind.pk,
        "name": name,
        "email": f"client{n}@example.nl",
        "earliest": MONDAY.isoformat(),
        "latest": (MONDAY + timedelta(days=4)).isoformat(),
        **fields,
    }


def _schema_error(label: str, body: dict) -> str | None:
    """What the served schema says against `body` as the request of `label`, or None."""
    method, path = label.split(" ", 1)
    _, operation = schema_check.operation_of(method, path)
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    try:
        schema_check._validate(schema, body, label)
    except AssertionError as error:
        return str(error)
    return None


def test_real_names_are_valid_in_the_served_schema_and_booked(anon, follow_up, frozen_clock):
    for n, name in enumerate(NAMES):
        body = _booking(follow_up, name, n)
        assert _schema_error("POST /api/v1/bookings/", body) is None
        response = anon.post("/api/v1/bookings/", body, format="json")
        assert response.status_code == 201, (name, response.content)
    assert sorted(Booking.objects.values_list("client_name", flat=True)) == sorted(NAMES)


def test_real_names_are_valid_in_the_served_schema_and_wait(anon, follow_up, frozen_clock):
    for n, name in enumerate(NAMES):
        body = _waitlist(follow_up, name, n)
        assert _schema_error("POST /api/v1/waitlist/", body) is None
        response = anon.post("/api/v1/waitlist/", body, format="json")
        assert response.status_code == 201, (name, response.content)
    assert WaitlistEntry.objects.count() == len(NAMES)


@pytest.mark.parametrize("phone", ["", "+31 6 1234 5678", "(020) 555-01.23"])
def test_a_blank_or_typed_phone_is_valid_in_the_served_schema(anon, follow_up, frozen_clock, phone):
    for label, body in [
        ("POST /api/v1/bookings/", _booking(follow_up, "Zoë", 1, phone=phone)),
        ("POST /api/v1/waitlist/", _waitlist(follow_up, "Zoë", 1, phone=phone)),
    ]:
        assert _schema_error(label, body) is None, label
        response = anon.post(label.split(" ")[1], body, format="json")
        assert response.status_code == 201, (label, response.content)


@pytest.mark.parametrize("name", ["<b>Zoë</b>", "Zoë >", "a<b"])
def test_angle_brackets_are_refused_by_the_schema_and_the_service(anon, follow_up, name):
    for label, body in [
        ("POST /api/v1/bookings/", _booking(follow_up, name, 1)),
        ("POST /api/v1/waitlist/", _waitlist(follow_up, name, 1)),
    ]:
        assert "does not match '^[^<>]*$'" in (_schema_error(label, body) or ""), label
        response = anon.post(label.split(" ")[1], body, format="json")
        assert response.status_code == 400 and "name" in response.json(), label


def test_an_idempotency_key_the_schema_allows_is_accepted(anon, follow_up, frozen_clock):
    body = _booking(follow_up, "Zoë", 1)
    key = "order-2027-03-22/zoe~1"
    parameter = next(
        p
        for p in schema_check.served_schema()["paths"]["/api/v1/bookings/"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    jsonschema.validate(key, parameter["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("", parameter["schema"])  # the service refuses it: so does the schema
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("with space", parameter["schema"])
    assert (
        anon.post("/api/v1/bookings/", body, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code
        == 201
    )
    refused = anon.post("/api/v1/bookings/", body, format="json", HTTP_IDEMPOTENCY_KEY="with space")
    assert refused.status_code == 400


def test_the_check_catches_a_schema_that_refuses_what_the_service_accepts(
    anon, follow_up, frozen_clock, monkeypatch
):
    """The schema as it was served: a name had to hold an angle bracket."""
    served = schema_check.served_schema()
    name = served["components"]["schemas"]["BookingInputRequest"]["properties"]["name"]
    monkeypatch.setitem(name, "pattern", "[<>]")
    schema_check._components.cache_clear()
    try:
        with pytest.raises(AssertionError, match="does not match '\\[<>\\]'"):
            anon.post("/api/v1/bookings/", _booking(follow_up, "Zoë", 1), format="json")
    finally:
        monkeypatch.undo()
        schema_check._components.cache_clear()
