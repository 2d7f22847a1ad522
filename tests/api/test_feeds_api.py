"""Feed URLs over HTTP: secrets, content type, ETag/Last-Modified and 304, rotation."""

from datetime import datetime, time

import icalendar
import pytest

from tests.factories import AMSTERDAM

pytestmark = pytest.mark.django_db


def book(anon, follow_up, day, hour):
    return anon.post(
        "/api/v1/bookings/",
        {
            "appointment_type": follow_up.pk,
            "start": datetime.combine(day, time(hour), tzinfo=AMSTERDAM).isoformat(),
            "name": "Sanne Jansen",
            "email": "sanne@example.nl",
            "phone": "0612345678",
        },
        format="json",
    )


def test_feed_urls_serve_calendars_with_validators(api, anon, follow_up, monday):
    assert book(anon, follow_up, monday, 10).status_code == 201
    urls = api.get("/api/v1/feeds/").json()
    assert set(urls) == {"bookings_url", "busy_url"}
    assert urls["bookings_url"] != urls["busy_url"].replace("busy.ics", "bookings.ics")
    response = anon.get(urls["bookings_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["ETag"] and response["Last-Modified"]
    [event] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert "Sanne Jansen" in str(event["SUMMARY"])
    busy = anon.get(urls["busy_url"]).content.decode()
    assert "Sanne" not in busy and "0612345678" not in busy and "VEVENT" in busy


def test_conditional_get_answers_304_until_something_changes(api, anon, follow_up, monday):
    url = api.get("/api/v1/feeds/").json()["busy_url"]
    first = anon.get(url)
    again = anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    since = anon.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    book(anon, follow_up, monday, 10)
    changed = anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert b"VEVENT" in changed.content


def test_rotation_kills_the_old_urls(api, anon):
    old = api.get("/api/v1/feeds/").json()
    new = api.post("/api/v1/feeds/rotate/").json()
    assert new["bookings_url"] != old["bookings_url"]
    assert anon.get(old["bookings_url"]).status_code == 404
    assert anon.get(old["busy_url"]).status_code == 404
    assert anon.get(new["bookings_url"]).status_code == 200
    assert api.get("/api/v1/feeds/").json() == new


def test_unknown_or_mismatched_feed_token_is_a_404(api, anon):
    urls = api.get("/api/v1/feeds/").json()
    busy_token = urls["busy_url"].split("/feeds/")[1].split("/")[0]
    assert anon.get(f"/feeds/{busy_token}/bookings.ics").status_code == 404
    assert anon.get("/feeds/not-a-token/busy.ics").status_code == 404
    assert anon.post(urls["busy_url"]).status_code == 405


def test_feeds_need_a_practitioner(anon):
    assert anon.get("/api/v1/feeds/").status_code == 401
    assert anon.post("/api/v1/feeds/rotate/").status_code == 401
