"""CalDAV connections over the API, against a real Radicale: add, see, change, remove."""

import logging

import pytest

from scheduler.models import BusyBlock
from sync.admin import CalendarConnectionAdmin
from sync.google.tokens import decrypt_token
from sync.models import CalendarConnection
from tests import factories
from tests.factories import utc
from tests.sync.test_caldav import account, proxy  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def add(api, proxy, account, django_capture_on_commit_callbacks, **extra):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):  # the discovery task runs
        return api.post(
            "/api/v1/calendars/",
            {
                "kind": "caldav",
                "url": proxy.url + "/",
                "username": account.user,
                "password": account.password,
                "name": "iCloud",
                **extra,
            },
            format="json",
        )


def test_add_see_change_and_remove_a_caldav_connection(
    api,
    practitioner,
    account,  # noqa: F811
    proxy,  # noqa: F811
    django_capture_on_commit_callbacks,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    created = add(api, proxy, account, django_capture_on_commit_callbacks)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "caldav" and body["username"] == account.user
    assert body["setup_pending"] is True  # the answer comes before discovery
    assert "password" not in body and account.password not in created.content.decode()
    connection = CalendarConnection.objects.get()
    assert account.password not in connection.caldav_password
    assert decrypt_token(connection.caldav_password) == account.password
    url = f"/api/v1/calendars/{body['id']}/"
    seen = api.get(url).json()
    work, private = proxy.url + account.work, proxy.url + account.private
    assert seen["setup_pending"] is False and seen["status"] == "ok"
    assert {(c["id"], c["name"]) for c in seen["available_calendars"]} == {
        (work, "Werk"),
        (private, "Privé"),
    }
    assert seen["last_success_at"] is not None and seen["busy_age_seconds"] is not None
    with django_capture_on_commit_callbacks(execute=True):
        patched = api.patch(
            url,
            {"push_calendar_id": work, "busy_calendar_ids": [private], "password": "new-one"},
            format="json",
        )
    assert patched.status_code == 200
    assert patched.json()["push_calendar_id"] == work
    assert patched.json()["busy_calendar_ids"] == [private]
    assert "new-one" not in patched.content.decode()
    for answer in (api.get("/api/v1/calendars/"), api.get(url)):
        assert account.password not in answer.content.decode() and "password" not in answer.json()
    connection.refresh_from_db()
    assert decrypt_token(connection.caldav_password) == "new-one"
    assert connection.status == "reconnect_needed"  # Radicale still has the old password
    wrong = api.patch(url, {"push_calendar_id": "https://elsewhere.example/cal/"}, format="json")
    assert wrong.status_code == 400 and "push_calendar_id" in wrong.json()
    BusyBlock.objects.create(
        practitioner=practitioner,
        start=utc(2027, 3, 1, 9),
        end=utc(2027, 3, 1, 10),
        source=f"caldav:{connection.pk}:{account.private}",
    )
    assert api.delete(url).status_code == 204
    assert not BusyBlock.objects.exists() and api.get(url).status_code == 404
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert account.password not in logged and "new-one" not in logged


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.8/dav/",
        "http://localhost/dav/",
        "ftp://example.com/dav/",
        "not a url",
        "http://169.254.169.254/",
    ],
)
def test_bad_or_unsafe_addresses_are_400s_worded_as_for_ics(api, url):
    caldav = api.post(
        "/api/v1/calendars/",
        {"kind": "caldav", "url": url, "username": "u", "password": "p"},
        format="json",
    )
    ics = api.post("/api/v1/calendars/", {"kind": "ics", "url": url}, format="json")
    assert caldav.status_code == ics.status_code == 400
    assert caldav.json() == ics.json() and "url" in caldav.json()
    assert not CalendarConnection.objects.exists()


def test_username_and_password_are_required(api):
    response = api.post(
        "/api/v1/calendars/", {"kind": "caldav", "url": "https://example.com/"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_another_practitioners_caldav_connection_is_a_404(api):
    other = factories.practitioner()
    theirs = CalendarConnection.objects.create(
        practitioner=other,
        kind="caldav",
        url="https://caldav.example.com/",
        caldav_username="them",
    )
    url = f"/api/v1/calendars/{theirs.pk}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"password": "mine now"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    assert CalendarConnection.objects.filter(pk=theirs.pk, caldav_password="").exists()


def test_password_fields_only_for_caldav_and_never_in_the_admin(api, practitioner):
    ics = CalendarConnection.objects.create(
        practitioner=practitioner, kind="ics", url="https://example.com/x.ics"
    )
    answer = api.patch(f"/api/v1/calendars/{ics.pk}/", {"password": "x"}, format="json")
    assert answer.status_code == 400 and "password" in answer.json()
    assert "caldav_password" not in CalendarConnectionAdmin.fields


def test_plain_http_is_a_400_unless_private_addresses_are_allowed(api, settings):
    """Basic authentication over http:// would send the password in clear."""
    settings.ICS_ALLOW_PRIVATE_URLS = False
    answer = api.post(
        "/api/v1/calendars/",
        {"kind": "caldav", "url": "http://93.184.216.34/dav/", "username": "u", "password": "p"},
        format="json",
    )
    assert answer.status_code == 400
    [message] = answer.json()["url"]
    assert "https://" in message and "password" in message
    assert not CalendarConnection.objects.exists()


def test_the_admin_refuses_a_plain_http_caldav_address(practitioner, settings):
    from django.contrib.auth import get_user_model
    from django.test import Client

    settings.ICS_ALLOW_PRIVATE_URLS = False
    connection = CalendarConnection.objects.create(
        practitioner=practitioner,
        kind="caldav",
        url="https://93.184.216.34/dav/",
        caldav_username="me",
    )
    root = get_user_model().objects.create_superuser("root", "root@example.nl", "root-pw")
    admin = Client()
    admin.force_login(root)
    page = admin.post(
        f"/admin/sync/calendarconnection/{connection.pk}/change/",
        {
            "name": "",
            "url": "http://93.184.216.34/dav/",
            "block_all_day": "on",
            "push_calendar_id": "",
            "busy_calendar_ids": "[]",
        },
    )
    assert page.status_code == 200 and "https://" in page.content.decode()
    connection.refresh_from_db()
    assert connection.url == "https://93.184.216.34/dav/"
    # The same form takes the https:// address.
    saved = admin.post(
        f"/admin/sync/calendarconnection/{connection.pk}/change/",
        {
            "name": "Werk",
            "url": "https://93.184.216.34/dav/",
            "block_all_day": "on",
            "push_calendar_id": "",
            "busy_calendar_ids": "[]",
        },
    )
    assert saved.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Werk"
