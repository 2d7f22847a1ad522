"""Contract 1.1, "Series with follow-up windows": types, options, booking and moving."""

from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest

from scheduler.models import Booking, BusyBlock
from tests import factories
from tests.factories import AMSTERDAM, local

pytestmark = pytest.mark.django_db

WEDNESDAY = date(2027, 4, 7)  # the clock is frozen at Wednesday 2027-03-17 10:00


def at(day, hour, minute=0):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


def iso(instant):
    return instant.astimezone(AMSTERDAM).isoformat()


@pytest.fixture
def intake(frozen_clock, practitioner):
    return factories.windowed_intake(practitioner)


def body(intake, start, **extra):
    return {
        "appointment_type": intake.pk,
        "start": iso(start),
        "name": "Sanne",
        "email": "sanne@example.nl",
        **extra,
    }


def options(anon, intake, start):
    return anon.get(
        f"/api/v1/slots/options/?appointment_type={intake.pk}&start={quote(iso(start))}"
    )


def test_types_carry_windows_per_follow_up(api):
    sessions = [
        {"offset_days": 0, "duration_minutes": 60},
        {"offset_days": 3, "duration_minutes": 30, "window_before_days": 1, "window_after_days": 1},
        {
            "offset_days": 10,
            "duration_minutes": 30,
            "window_before_days": 1,
            "window_after_days": 2,
        },
    ]
    response = api.post(
        "/api/v1/appointment-types/", {"name": "Intake", "sessions": sessions}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["sessions"] == sessions
    assert api.get(f"/api/v1/appointment-types/{response.json()['id']}/").json()["sessions"] == (
        sessions
    )


@pytest.mark.parametrize(
    "sessions",
    [
        [{"offset_days": 0, "duration_minutes": 60, "window_after_days": 1}],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window_after_days": 3},
            {"offset_days": 6, "duration_minutes": 30},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 2, "duration_minutes": 30, "window_before_days": 2},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window_before_days": -1},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 30, "duration_minutes": 30, "window_after_days": 99},
        ],
    ],
)
def test_bad_windows_are_a_400_on_sessions(api, sessions):
    response = api.post(
        "/api/v1/appointment-types/", {"name": "Intake", "sessions": sessions}, format="json"
    )
    assert response.status_code == 400
    assert "sessions" in response.json()


def test_wednesday_and_thursday_start_an_intake(anon, intake):
    week = anon.get(
        f"/api/v1/slots/?appointment_type={intake.pk}&start={WEDNESDAY - timedelta(days=2)}"
        f"&end={WEDNESDAY + timedelta(days=2)}"
    ).json()["slots"]
    weekdays = {datetime.fromisoformat(s["start"]).weekday() for s in week}
    assert weekdays == {0, 1, 2, 3, 4}
    wednesday = next(s for s in week if s["start"] == iso(at(WEDNESDAY, 10)))
    assert [s["start"] for s in wednesday["sessions"]] == [
        iso(at(WEDNESDAY, 10)),
        iso(at(WEDNESDAY + timedelta(days=2), 10)),  # Friday: Saturday is closed
        iso(at(WEDNESDAY + timedelta(days=9), 10)),  # Friday of the week after
    ]


def test_options_list_each_sessions_window(anon, intake):
    response = options(anon, intake, at(WEDNESDAY, 10))
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["timezone"] == "Europe/Amsterdam"
    assert [s["offset_days"] for s in data["sessions"]] == [0, 3, 10]
    first, second, third = data["sessions"]
    assert first["options"] == [first["proposed"]]
    assert first["proposed"]["start"] == iso(at(WEDNESDAY, 10))
    assert second["proposed"] in second["options"] and third["proposed"] in third["options"]
    second_days = {datetime.fromisoformat(o["start"]).date() for o in second["options"]}
    assert second_days == {WEDNESDAY + timedelta(days=d) for d in (2,)}  # Fri; Sat, Sun closed
    third_days = {datetime.fromisoformat(o["start"]).date() for o in third["options"]}
    assert third_days == {WEDNESDAY + timedelta(days=d) for d in (9, 12)}  # Fri, Mon


def test_options_for_a_start_not_offered_is_a_409(anon, intake):
    response = options(anon, intake, at(WEDNESDAY, 7))
    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"


def test_options_need_an_offset(anon, intake):
    response = anon.get(
        f"/api/v1/slots/options/?appointment_type={intake.pk}&start=2027-04-07T10:00:00"
    )
    assert response.status_code == 400


def test_booking_with_a_chosen_follow_up(anon, intake):
    monday = WEDNESDAY + timedelta(days=12)
    chosen = [at(WEDNESDAY, 10), at(WEDNESDAY + timedelta(days=2), 14, 30), at(monday, 9)]
    response = anon.post(
        "/api/v1/bookings/",
        body(intake, chosen[0], sessions=[{"start": iso(s)} for s in chosen]),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert [s["start"] for s in response.json()["sessions"]] == [iso(s) for s in chosen]


def test_booking_without_a_choice_books_the_proposed_set(anon, intake):
    proposed = options(anon, intake, at(WEDNESDAY, 10)).json()["sessions"]
    response = anon.post("/api/v1/bookings/", body(intake, at(WEDNESDAY, 10)), format="json")
    assert response.status_code == 201
    assert [s["start"] for s in response.json()["sessions"]] == [
        s["proposed"]["start"] for s in proposed
    ]


@pytest.mark.parametrize(
    "days",
    [
        (0, 5, 9),  # day 5 is outside 2..4
        (0, 9, 2),  # out of order
        (0, 2),  # too few
        (1, 2, 9),  # the first is not `start`
    ],
)
def test_a_choice_outside_the_windows_or_out_of_order_is_a_400(anon, intake, days):
    chosen = [{"start": iso(at(WEDNESDAY + timedelta(days=d), 10))} for d in days]
    response = anon.post(
        "/api/v1/bookings/", body(intake, at(WEDNESDAY, 10), sessions=chosen), format="json"
    )
    assert response.status_code == 400
    assert "sessions" in response.json()
    assert Booking.objects.count() == 0


def test_a_chosen_session_that_is_busy_is_a_409_and_nothing_is_booked(anon, intake, practitioner):
    friday = WEDNESDAY + timedelta(days=2)
    BusyBlock.objects.create(
        practitioner=practitioner, start=at(friday, 14, 30), end=at(friday, 15), source="test"
    )
    chosen = [at(WEDNESDAY, 10), at(friday, 14, 30), at(WEDNESDAY + timedelta(days=9), 10)]
    response = anon.post(
        "/api/v1/bookings/",
        body(intake, chosen[0], sessions=[{"start": iso(s)} for s in chosen]),
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert Booking.objects.count() == 0


def test_the_idempotency_fingerprint_includes_the_chosen_sessions(anon, intake):
    friday, friday2 = WEDNESDAY + timedelta(days=2), WEDNESDAY + timedelta(days=9)
    one = [at(WEDNESDAY, 10), at(friday, 14, 30), at(friday2, 10)]
    other = [at(WEDNESDAY, 10), at(friday, 15, 30), at(friday2, 10)]
    headers = {"HTTP_IDEMPOTENCY_KEY": "series-key-1"}

    def post(chosen):
        return anon.post(
            "/api/v1/bookings/",
            body(intake, chosen[0], sessions=[{"start": iso(s)} for s in chosen]),
            format="json",
            **headers,
        )

    first = post(one)
    assert first.status_code == 201
    again = post(one)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert post(other).status_code == 422
    assert Booking.objects.count() == 1


def test_reschedule_moves_one_follow_up_inside_its_window(anon, intake):
    created = anon.post("/api/v1/bookings/", body(intake, at(WEDNESDAY, 10)), format="json").json()
    token = created["manage_url"].rstrip("/").rsplit("/", 1)[1]
    starts = [s["start"] for s in created["sessions"]]
    monday = iso(at(WEDNESDAY + timedelta(days=12), 11))
    response = anon.post(
        f"/api/v1/manage/{token}/reschedule/",
        {
            "start": starts[0],
            "sessions": [{"start": starts[0]}, {"start": starts[1]}, {"start": monday}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [s["start"] for s in response.json()["sessions"]] == [starts[0], starts[1], monday]
    outside = anon.post(
        f"/api/v1/manage/{token}/reschedule/",
        {
            "start": starts[0],
            "sessions": [
                {"start": starts[0]},
                {"start": starts[1]},
                {"start": iso(at(WEDNESDAY + timedelta(days=14), 11))},
            ],
        },
        format="json",
    )
    assert outside.status_code == 400 and "sessions" in outside.json()


def test_the_schema_describes_options_and_chosen_sessions(anon):
    schema = anon.get("/api/schema/?format=json").json()
    assert "/api/v1/slots/options/" in schema["paths"]
    components = schema["components"]["schemas"]
    assert "sessions" in components["BookingInputRequest"]["properties"]
    assert "sessions" in components["RescheduleInputRequest"]["properties"]
    assert "window_before_days" in components["SeriesSession"]["properties"]
    assert "options" in components["SessionOptions"]["properties"]
