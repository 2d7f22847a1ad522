"""The wait list's HTTP contract (api-contract.md, "Wait list", version 1.1)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.models import WaitlistEntry
from tests import factories

pytestmark = pytest.mark.django_db


def body(kind, **fields):
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    values = {
        "appointment_type": kind.pk,
        "name": "Sanne Jansen",
        "email": "sanne@example.nl",
        "phone": "",
        "language": "nl",
        "earliest": (today + timedelta(days=2)).isoformat(),
        "latest": (today + timedelta(days=9)).isoformat(),
    }
    values.update(fields)
    return values


def test_join_answers_id_and_manage_url_and_delete_leaves(anon, follow_up, frozen_clock):
    response = anon.post("/api/v1/waitlist/", body(follow_up), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == {"id", "manage_url"}
    assert "no-store" in response["Cache-Control"]
    entry = WaitlistEntry.objects.get(pk=data["id"])
    assert entry.status == "waiting"
    path = data["manage_url"].removeprefix("http://testserver")
    assert path.split("/")[-2] not in entry.manage_token_hash  # only the hash is stored
    page = anon.get(path)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert anon.delete(path).status_code == 204
    entry.refresh_from_db()
    assert entry.status == "left"
    assert anon.delete(path[:-5] + "xxxx/").status_code == 404


def test_practitioner_lists_only_own_entries(anon, api, follow_up, frozen_clock):
    other = factories.appointment_type(factories.practitioner())
    mine = anon.post("/api/v1/waitlist/", body(follow_up), format="json").json()
    anon.post("/api/v1/waitlist/", body(other, email="x@example.nl"), format="json")
    response = api.get("/api/v1/waitlist/")
    assert response.status_code == 200
    (entry,) = response.json()
    assert set(entry) == {
        "id",
        "appointment_type",
        "name",
        "email",
        "earliest",
        "latest",
        "status",
        "created_at",
    }
    assert entry["id"] == mine["id"] and entry["appointment_type"] == follow_up.pk
    assert entry["status"] == "waiting" and entry["created_at"].endswith(("+01:00", "+02:00"))
    assert api.get("/api/v1/waitlist/?status=left").json() == []
    assert api.get("/api/v1/waitlist/?status=nonsense").status_code == 400
    assert anon.get("/api/v1/waitlist/").status_code in (401, 403)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"earliest": "2000-01-01"}, "earliest"),  # in the past
        ({"earliest": "2999-01-02", "latest": "2999-01-01"}, "latest"),  # latest < earliest
        ({"latest": "2999-01-01"}, "latest"),  # beyond the type's horizon
        ({"earliest": "01-02-2027"}, "earliest"),
        ({"latest": None}, "latest"),
        ({"name": "Visit www.example.com"}, "name"),
        ({"name": "<b>Sanne</b>"}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"email": ["a@example.nl"]}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"language": "de"}, "language"),
        ({"appointment_type": "1"}, "appointment_type"),
        ({"appointment_type": 999999}, "appointment_type"),
    ],
)
def test_bad_input_is_a_400_with_the_field(anon, follow_up, frozen_clock, fields, field):
    response = anon.post("/api/v1/waitlist/", body(follow_up, **fields), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not WaitlistEntry.objects.exists()


def test_not_json_objects_are_400s(anon, follow_up):
    for payload in ([], "x", 3, None):
        response = anon.post("/api/v1/waitlist/", payload, format="json")
        assert response.status_code == 400


def test_too_many_entries_for_one_address_is_a_409(anon, follow_up, frozen_clock, settings):
    settings.WAITLIST_MAX_ENTRIES_PER_EMAIL = 1
    assert anon.post("/api/v1/waitlist/", body(follow_up), format="json").status_code == 201
    response = anon.post("/api/v1/waitlist/", body(follow_up, language="en"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "too_many_waitlist_entries"


def test_joining_is_limited_per_address(anon, follow_up, frozen_clock, settings):
    settings.THROTTLE_ENABLED = True
    settings.PUBLIC_THROTTLE_RATES = {**settings.PUBLIC_THROTTLE_RATES, "booking": "2/min"}
    codes = [
        anon.post(
            "/api/v1/waitlist/", body(follow_up, email=f"c{n}@example.nl"), format="json"
        ).status_code
        for n in range(3)
    ]
    assert codes == [201, 201, 429]
