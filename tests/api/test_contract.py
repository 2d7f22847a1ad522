"""One test per line of the HTTP contract (shared/spec/api-contract.md)."""

from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler.models import Booking, BusyBlock, Practitioner
from tests import factories
from tests.factories import AMSTERDAM

pytestmark = pytest.mark.django_db


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=AMSTERDAM)


def book(client, appointment_type, start, **extra):
    body = {
        "appointment_type": appointment_type.pk,
        "start": start if isinstance(start, str) else start.isoformat(),
        "name": "Sanne Jansen",
        "email": "sanne@example.nl",
        "phone": "+31 6 1234 5678",
        "notes": "",
        "language": "nl",
    }
    body.update(extra)
    return client.post("/api/v1/bookings/", body, format="json")


# --- set-up and auth -------------------------------------------------------------


def test_token_endpoint_exchanges_credentials_for_the_api_token(anon, practitioner):
    response = anon.post(
        "/api/v1/auth/token/",
        {"username": practitioner.user.username, "password": "a-long-test-password"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=practitioner.user).key}
    wrong = anon.post(
        "/api/v1/auth/token/",
        {"username": practitioner.user.username, "password": "nope"},
        format="json",
    )
    assert wrong.status_code == 400 and "non_field_errors" in wrong.json()


def test_practitioner_endpoints_need_a_token_or_session(anon, practitioner):
    assert anon.get("/api/v1/availability/weekly/").status_code == 401
    user = get_user_model().objects.create_user("assistant", password="pw-long-enough")
    other = APIClient()
    other.force_authenticate(user)
    assert other.get("/api/v1/availability/weekly/").status_code == 403
    session = APIClient()
    session.force_login(practitioner.user)
    assert session.get("/api/v1/availability/weekly/").status_code == 200


# --- weekly availability ---------------------------------------------------------


def test_weekly_get_shows_zone_and_rules(api):
    body = api.get("/api/v1/availability/weekly/").json()
    assert body["timezone"] == "Europe/Amsterdam"
    assert {"weekday": 0, "start": "09:00", "end": "12:30"} in body["rules"]
    assert len(body["rules"]) == 10


def test_weekly_put_replaces_all_rules_and_zone(api, practitioner):
    rules = [
        {"weekday": 1, "start": "09:00", "end": "12:30"},
        {"weekday": 1, "start": "13:30", "end": "17:00"},
        {"weekday": 3, "start": "10:00", "end": "16:00"},
    ]
    response = api.put(
        "/api/v1/availability/weekly/",
        {"timezone": "Europe/Brussels", "rules": rules},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"timezone": "Europe/Brussels", "rules": rules}
    practitioner.refresh_from_db()
    assert practitioner.timezone == "Europe/Brussels"
    assert practitioner.weekly_rules.count() == 3


@pytest.mark.parametrize(
    "rules",
    [
        [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "11:00", "end": "13:00"},
        ],
        [{"weekday": 7, "start": "09:00", "end": "12:00"}],
        [{"weekday": 0, "start": "12:00", "end": "09:00"}],
        [{"weekday": 0, "start": "9", "end": "12:00"}],
    ],
)
def test_weekly_put_refuses_bad_rules_and_keeps_the_old_ones(api, practitioner, rules):
    response = api.put("/api/v1/availability/weekly/", {"rules": rules}, format="json")
    assert response.status_code == 400
    assert practitioner.weekly_rules.count() == 10


def test_weekly_put_refuses_an_unknown_zone(api, practitioner):
    response = api.put(
        "/api/v1/availability/weekly/", {"timezone": "Mars/Base", "rules": []}, format="json"
    )
    assert response.status_code == 400 and "timezone" in response.json()
    assert practitioner.weekly_rules.count() == 10


# --- date overrides --------------------------------------------------------------


def test_override_with_no_ranges_closes_the_day(api, anon, follow_up, monday):
    response = api.post(
        "/api/v1/availability/overrides/", {"date": str(monday), "ranges": []}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], "date": str(monday), "ranges": []}
    slots = anon.get(
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}"
    ).json()
    assert slots["slots"] == []


def test_override_ranges_replace_the_day_and_can_be_edited_and_deleted(
    api, anon, follow_up, monday
):
    created = api.post(
        "/api/v1/availability/overrides/",
        {"date": str(monday), "ranges": [{"start": "13:00", "end": "14:00"}]},
        format="json",
    ).json()
    url = f"/api/v1/availability/overrides/{created['id']}/"
    slots_url = f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}"
    starts = [s["start"] for s in anon.get(slots_url).json()["slots"]]
    assert starts == [at(monday, 13).isoformat(), at(monday, 13, 30).isoformat()]
    assert api.get(url).json()["ranges"] == [{"start": "13:00", "end": "14:00"}]
    assert api.get("/api/v1/availability/overrides/").json() == [created]
    edited = api.put(
        url, {"date": str(monday), "ranges": [{"start": "15:00", "end": "15:30"}]}, format="json"
    )
    assert edited.status_code == 200
    assert [s["start"] for s in anon.get(slots_url).json()["slots"]] == [at(monday, 15).isoformat()]
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert len(anon.get(slots_url).json()["slots"]) == 14


def test_override_for_a_date_that_has_one_is_a_400(api, monday):
    body = {"date": str(monday), "ranges": []}
    assert api.post("/api/v1/availability/overrides/", body, format="json").status_code == 201
    again = api.post("/api/v1/availability/overrides/", body, format="json")
    assert again.status_code == 400 and "date" in again.json()


def test_another_practitioners_override_is_a_404(api, monday):
    other = factories.practitioner()
    from scheduler.practice import date_override_save

    theirs = date_override_save(practitioner=other, date=monday, ranges=[])
    assert api.get(f"/api/v1/availability/overrides/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/v1/availability/overrides/{theirs.pk}/").status_code == 404


# --- appointment types -----------------------------------------------------------


def test_create_single_type_with_defaults(api):
    response = api.post(
        "/api/v1/appointment-types/",
        {"name": "Vervolg", "slug": "vervolg", "duration_minutes": 30},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body | {"id": None, "practitioner": None} == {
        "id": None,
        "practitioner": None,
        "name": "Vervolg",
        "slug": "vervolg",
        "duration_minutes": 30,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "slot_step_minutes": 30,
        "min_notice_minutes": 0,
        "max_days_ahead": 90,
        "sessions": None,
        "active": True,
    }


def test_create_series_type(api):
    sessions = [
        {"offset_days": 0, "duration_minutes": 60},
        {"offset_days": 3, "duration_minutes": 30},
        {"offset_days": 10, "duration_minutes": 30},
    ]
    response = api.post(
        "/api/v1/appointment-types/",
        {"name": "Eerste reeks", "slug": "reeks", "sessions": sessions, "slot_step_minutes": 30},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["sessions"] == sessions
    assert response.json()["duration_minutes"] == 60


@pytest.mark.parametrize(
    "sessions",
    [
        [{"offset_days": 1, "duration_minutes": 60}],
        [{"offset_days": 0, "duration_minutes": 60}, {"offset_days": 0, "duration_minutes": 30}],
        [{"offset_days": 0, "duration_minutes": "60"}],
        [{"offset_days": 0}],
        [],
    ],
)
def test_invalid_series_is_a_400(api, sessions):
    response = api.post(
        "/api/v1/appointment-types/",
        {"name": "X", "slug": "x", "sessions": sessions},
        format="json",
    )
    assert response.status_code == 400 and "sessions" in response.json()


def test_own_types_listed_and_public_list_shows_only_active(api, anon, practitioner, follow_up):
    hidden = factories.appointment_type(practitioner, active=False)
    own = api.get("/api/v1/appointment-types/").json()
    assert {t["id"] for t in own} == {follow_up.pk, hidden.pk}
    public = anon.get(f"/api/v1/appointment-types/?practitioner={practitioner.slug}")
    assert public.status_code == 200
    assert [t["id"] for t in public.json()] == [follow_up.pk]
    assert anon.get("/api/v1/appointment-types/?practitioner=nobody").status_code == 404
    assert anon.get("/api/v1/appointment-types/").status_code == 401


def test_patch_and_delete_type(api, follow_up):
    url = f"/api/v1/appointment-types/{follow_up.pk}/"
    patched = api.patch(url, {"buffer_after_minutes": 10, "active": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["buffer_after_minutes"] == 10 and patched.json()["active"] is False
    assert patched.json()["duration_minutes"] == 30
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_booked_type_cannot_be_deleted(api, anon, follow_up, monday):
    assert book(anon, follow_up, at(monday, 10)).status_code == 201
    response = api.delete(f"/api/v1/appointment-types/{follow_up.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "appointment_type_in_use"


def test_another_practitioners_type_is_a_404(api):
    theirs = factories.appointment_type(factories.practitioner())
    url = f"/api/v1/appointment-types/{theirs.pk}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404


# --- public: practitioner, slots ---------------------------------------------------


def test_practitioner_public_profile(anon, practitioner):
    response = anon.get(f"/api/v1/practitioners/{practitioner.slug}/")
    assert response.json() == {
        "slug": practitioner.slug,
        "name": practitioner.name,
        "timezone": "Europe/Amsterdam",
    }
    assert anon.get("/api/v1/practitioners/nobody/").status_code == 404


def test_slots_shape_order_offsets_and_cache_header(anon, follow_up, monday):
    tuesday = monday + timedelta(days=1)
    response = anon.get(
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={tuesday}"
    )
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    body = response.json()
    assert body["timezone"] == "Europe/Amsterdam"
    starts = [s["start"] for s in body["slots"]]
    assert starts == sorted(starts) and len(starts) == 28
    first = body["slots"][0]
    assert first == {
        "start": at(monday, 9).isoformat(),
        "end": at(monday, 9, 30).isoformat(),
        "sessions": [{"start": at(monday, 9).isoformat(), "end": at(monday, 9, 30).isoformat()}],
    }
    assert first["start"][-6:] in {"+01:00", "+02:00"}


def test_slots_in_another_zone_use_its_offsets_and_dates(anon, follow_up, monday):
    response = anon.get(
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}&tz=America/New_York"
    )
    body = response.json()
    assert body["timezone"] == "America/New_York"
    ny = factories.ZoneInfo("America/New_York")
    for slot in body["slots"]:
        instant = datetime.fromisoformat(slot["start"])
        assert instant.utcoffset() == instant.astimezone(ny).utcoffset()
        assert instant.astimezone(ny).date() == monday
    # 09:00 Amsterdam is 03:00 or 04:00 in New York: the whole Monday is the same date there.
    assert len(body["slots"]) == 14


def test_series_slots_list_every_session(anon, practitioner, monday):
    series = factories.intake_series(practitioner)
    body = anon.get(
        f"/api/v1/slots/?appointment_type={series.pk}&start={monday}&end={monday}"
    ).json()
    first = body["slots"][0]
    assert [s["start"] for s in first["sessions"]] == [
        at(monday, 9).isoformat(),
        at(monday + timedelta(days=3), 9).isoformat(),
        at(monday + timedelta(days=10), 9).isoformat(),
    ]
    assert first["start"] == first["sessions"][0]["start"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start={d}&end={d62}", "end"),
        ("start={d}&end={d}&tz=Mars/Base", "tz"),
        ("start={d1}&end={d}", "end"),
        ("start=2027-02-30&end={d}", "start"),
        ("start={d}", "end"),
    ],
)
def test_slot_query_errors_are_400s(anon, follow_up, monday, query, field):
    query = query.format(d=monday, d1=monday + timedelta(days=1), d62=monday + timedelta(days=62))
    response = anon.get(f"/api/v1/slots/?appointment_type={follow_up.pk}&{query}")
    assert response.status_code == 400 and field in response.json()


def test_slot_range_of_62_days_is_allowed(anon, follow_up, monday):
    end = monday + timedelta(days=61)
    response = anon.get(f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={end}")
    assert response.status_code == 200


def test_slots_of_unknown_or_inactive_type_are_a_404(anon, practitioner, monday):
    inactive = factories.appointment_type(practitioner, active=False)
    for pk in (inactive.pk, 999999):
        response = anon.get(f"/api/v1/slots/?appointment_type={pk}&start={monday}&end={monday}")
        assert response.status_code == 404


def test_slot_query_uses_the_same_number_of_queries_for_any_range(anon, follow_up, monday):
    counts = []
    for days in (0, 61):
        with CaptureQueriesContext(connection) as queries:
            anon.get(
                f"/api/v1/slots/?appointment_type={follow_up.pk}"
                f"&start={monday}&end={monday + timedelta(days=days)}"
            )
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 7


# --- bookings ----------------------------------------------------------------------


def test_booking_returns_201_with_sessions_and_manage_url(anon, follow_up, monday):
    response = book(anon, follow_up, at(monday, 10))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["start"] == at(monday, 10).isoformat()
    assert body["end"] == at(monday, 10, 30).isoformat()
    assert body["sessions"] == [{"start": body["start"], "end": body["end"], "status": "confirmed"}]
    assert body["manage_url"].startswith("http://testserver/manage/")
    assert Booking.objects.get(pk=body["id"]).client_email == "sanne@example.nl"


def test_booking_a_taken_slot_is_a_409_with_code(anon, follow_up, monday):
    assert book(anon, follow_up, at(monday, 10)).status_code == 201
    response = book(anon, follow_up, at(monday, 10), email="other@example.nl")
    assert response.status_code == 409
    assert response.json() == {"code": "slot_unavailable", "detail": response.json()["detail"]}
    assert Booking.objects.count() == 1


def test_booking_a_series_books_all_sessions(anon, practitioner, monday):
    series = factories.intake_series(practitioner)
    body = book(anon, series, at(monday, 9)).json()
    assert [s["start"] for s in body["sessions"]] == [
        at(monday, 9).isoformat(),
        at(monday + timedelta(days=3), 9).isoformat(),
        at(monday + timedelta(days=10), 9).isoformat(),
    ]


def test_instant_without_offset_is_a_400(anon, follow_up, monday):
    response = book(anon, follow_up, f"{monday}T10:00:00")
    assert response.status_code == 400 and "start" in response.json()
    assert not Booking.objects.exists()


def test_same_idempotency_key_and_body_replays_the_first_response(anon, follow_up, monday):
    first = anon.post(
        "/api/v1/bookings/",
        {
            "appointment_type": follow_up.pk,
            "start": at(monday, 10).isoformat(),
            "name": "A",
            "email": "a@example.nl",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="8a4c1c0e-2f6e-4d33-9a5b-4f3f0c7c2d11",
    )
    again = anon.post(
        "/api/v1/bookings/",
        {
            "appointment_type": follow_up.pk,
            "start": at(monday, 10).isoformat(),
            "name": "A",
            "email": "a@example.nl",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="8a4c1c0e-2f6e-4d33-9a5b-4f3f0c7c2d11",
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Booking.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_a_422(anon, follow_up, monday):
    key = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    body = {
        "appointment_type": follow_up.pk,
        "start": at(monday, 10).isoformat(),
        "name": "A",
        "email": "a@example.nl",
    }
    assert anon.post("/api/v1/bookings/", body, format="json", **key).status_code == 201
    other = anon.post("/api/v1/bookings/", {**body, "name": "B"}, format="json", **key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Booking.objects.count() == 1


def test_booking_unknown_type_is_a_400(anon, monday):
    response = anon.post(
        "/api/v1/bookings/",
        {
            "appointment_type": 999999,
            "start": at(monday, 10).isoformat(),
            "name": "A",
            "email": "a@example.nl",
        },
        format="json",
    )
    assert response.status_code == 400 and "appointment_type" in response.json()


def test_practitioner_lists_own_bookings_by_range_and_status(api, anon, follow_up, monday):
    first = book(anon, follow_up, at(monday, 10)).json()
    second = book(anon, follow_up, at(monday + timedelta(days=1), 10)).json()
    theirs_type = factories.appointment_type(factories.practitioner())
    book(anon, theirs_type, at(monday, 10))
    listed = api.get(f"/api/v1/bookings/?start={monday}&end={monday + timedelta(days=1)}").json()
    assert [b["id"] for b in listed] == [first["id"], second["id"]]
    assert listed[0]["name"] == "Sanne Jansen" and listed[0]["email"] == "sanne@example.nl"
    only_monday = api.get(f"/api/v1/bookings/?start={monday}&end={monday}").json()
    assert [b["id"] for b in only_monday] == [first["id"]]
    token = first["manage_url"].rstrip("/").rsplit("/", 1)[1]
    anon.post(f"/api/v1/manage/{token}/cancel/")
    cancelled = api.get(f"/api/v1/bookings/?start={monday}&end={monday}&status=cancelled").json()
    assert [b["id"] for b in cancelled] == [first["id"]]
    assert api.get("/api/v1/bookings/?status=lost").status_code == 400


def test_busy_lists_mirrored_blocks_without_titles(api, practitioner, monday):
    BusyBlock.objects.create(
        practitioner=practitioner, start=at(monday, 10), end=at(monday, 11), source="ics:3"
    )
    BusyBlock.objects.create(
        practitioner=factories.practitioner(),
        start=at(monday, 10),
        end=at(monday, 11),
        source="ics:4",
    )
    body = api.get(f"/api/v1/busy/?start={monday}&end={monday}").json()
    assert body == [
        {
            "start": at(monday, 10).astimezone(factories.UTC).isoformat().replace("+00:00", "Z"),
            "end": at(monday, 11).astimezone(factories.UTC).isoformat().replace("+00:00", "Z"),
            "source": "ics:3",
        }
    ]


# --- manage ------------------------------------------------------------------------


def manage_token(response):
    return response.json()["manage_url"].rstrip("/").rsplit("/", 1)[1]


def test_manage_shows_cancels_and_frees_the_slot(anon, follow_up, monday):
    token = manage_token(book(anon, follow_up, at(monday, 10)))
    shown = anon.get(f"/api/v1/manage/{token}/")
    assert shown.status_code == 200 and shown.json()["status"] == "confirmed"
    assert shown.json()["changeable_until"] == (at(monday, 10) - timedelta(hours=24)).isoformat()
    cancelled = anon.post(f"/api/v1/manage/{token}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    slots = anon.get(
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}"
    ).json()
    assert at(monday, 10).isoformat() in [s["start"] for s in slots["slots"]]


def test_manage_reschedule_moves_or_answers_409(anon, follow_up, monday):
    token = manage_token(book(anon, follow_up, at(monday, 10)))
    book(anon, follow_up, at(monday, 11), email="other@example.nl")
    taken = anon.post(
        f"/api/v1/manage/{token}/reschedule/", {"start": at(monday, 11).isoformat()}, format="json"
    )
    assert taken.status_code == 409 and taken.json()["code"] == "slot_unavailable"
    moved = anon.post(
        f"/api/v1/manage/{token}/reschedule/", {"start": at(monday, 14).isoformat()}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["start"] == at(monday, 14).isoformat()


def test_unknown_manage_token_is_a_404(anon):
    assert anon.get("/api/v1/manage/" + "x" * 43 + "/").status_code == 404
    assert anon.post("/api/v1/manage/" + "x" * 43 + "/cancel/").status_code == 404
    assert anon.get("/api/v1/manage/short/").status_code == 404


def test_changes_inside_the_cancellation_window_are_refused(
    frozen_day, anon, practitioner, settings
):
    from django.utils import timezone as tz

    settings.CLIENT_CHANGE_NOTICE_HOURS = 24 * 30
    follow_up = factories.appointment_type(practitioner, duration_minutes=30)
    day = tz.localdate(timezone=AMSTERDAM) + timedelta(days=7)
    while day.weekday() > 4:
        day += timedelta(days=1)
    token = manage_token(book(anon, follow_up, at(day, 10)))
    response = anon.post(f"/api/v1/manage/{token}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "booking_not_changeable"
    assert Booking.objects.get().status == "confirmed"


# --- operations ----------------------------------------------------------------------


def test_schema_and_docs_are_served(anon):
    schema = anon.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/slots/", "/api/v1/bookings/", "/api/v1/manage/{token}/reschedule/"):
        assert path in text
    docs = anon.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_public_endpoints_are_throttled_per_address(anon, follow_up, monday, settings):
    settings.PUBLIC_THROTTLE_RATES = {**settings.PUBLIC_THROTTLE_RATES, "slots": "3/min"}
    url = f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}"
    codes = [anon.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other_address = anon.get(url, REMOTE_ADDR="10.1.2.3")
    assert other_address.status_code == 200
    settings.THROTTLE_ENABLED = False
    assert anon.get(url).status_code == 200


def test_oversized_body_is_a_413(anon, follow_up, monday):
    response = book(anon, follow_up, at(monday, 10), notes="x" * 100_000)
    assert response.status_code == 413
    assert not Booking.objects.exists()
    assert Practitioner.objects.exists()


def test_cached_slot_answers_follow_every_change_at_once(api, anon, follow_up, monday):
    url = f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}"

    def starts():
        return [s["start"] for s in anon.get(url).json()["slots"]]

    ten = at(monday, 10).isoformat()
    assert ten in starts()
    token = manage_token(book(anon, follow_up, at(monday, 10)))
    assert ten not in starts()
    anon.post(f"/api/v1/manage/{token}/cancel/")
    assert ten in starts()
    api.patch(
        f"/api/v1/appointment-types/{follow_up.pk}/", {"slot_step_minutes": 60}, format="json"
    )
    assert at(monday, 9, 30).isoformat() not in starts()
    api.post("/api/v1/availability/overrides/", {"date": str(monday), "ranges": []}, format="json")
    assert starts() == []
