"""Calendar connections over the API: subscribe, see status, change, remove."""

import pytest

from scheduler.models import BusyBlock
from sync.models import CalendarConnection
from tests import factories
from tests.factories import utc

pytestmark = pytest.mark.django_db


def test_subscribe_shows_status_and_can_be_changed_and_removed(api, practitioner, settings):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    created = api.post(
        "/api/v1/calendars/",
        {"kind": "ics", "url": "webcal://127.0.0.1:9/cal.ics", "name": "iCloud"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["kind"] == "ics" and body["url"] == "https://127.0.0.1:9/cal.ics"
    assert body["status"] in {"ok", "error", "reconnect_needed"}
    assert {"last_synced_at", "last_error", "warnings", "block_all_day"} <= set(body)
    url = f"/api/v1/calendars/{body['id']}/"
    assert api.get("/api/v1/calendars/").json()[0]["id"] == body["id"]
    patched = api.patch(url, {"name": "Werk", "block_all_day": False}, format="json")
    assert patched.json()["name"] == "Werk" and patched.json()["block_all_day"] is False
    connection = CalendarConnection.objects.get()
    BusyBlock.objects.create(
        practitioner=practitioner,
        start=utc(2027, 3, 1, 9),
        end=utc(2027, 3, 1, 10),
        source=connection.busy_source,
    )
    assert api.delete(url).status_code == 204
    assert not BusyBlock.objects.exists() and api.get(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.8/cal.ics",
        "http://localhost/cal.ics",
        "ftp://example.com/cal.ics",
        "not a url",
        "http://169.254.169.254/",
    ],
)
def test_unsafe_or_bad_addresses_are_400s(api, url):
    response = api.post("/api/v1/calendars/", {"kind": "ics", "url": url}, format="json")
    assert response.status_code == 400 and "url" in response.json()
    assert not CalendarConnection.objects.exists()


def test_only_ics_can_be_added_directly(api):
    response = api.post(
        "/api/v1/calendars/", {"kind": "google", "url": "https://example.com"}, format="json"
    )
    assert response.status_code == 400 and "kind" in response.json()


def test_another_practitioners_connection_is_a_404(api):
    other = factories.practitioner()
    theirs = CalendarConnection.objects.create(
        practitioner=other, kind="ics", url="https://example.com/x.ics"
    )
    assert api.get(f"/api/v1/calendars/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/v1/calendars/{theirs.pk}/").status_code == 404
    assert CalendarConnection.objects.filter(pk=theirs.pk).exists()
