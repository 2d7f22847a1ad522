"""Admin tenancy: a staff practitioner sees and changes only their own practice's data.

Two staff practitioners, A and B, each hold the permissions a practitioner needs. Every
admin page, action, dropdown, autocomplete, desk view and banner is tried by B on A's data
(direct URLs by id included): 404 or 403, A's data unchanged, no e-mail. A still manages
their own; a superuser sees all.
"""

import json
import re

import pytest
from django.test import Client

from scheduler.models import AppointmentType, Booking, BusyBlock
from sync import tasks
from tests.security.conftest import make_staff

pytestmark = pytest.mark.django_db

URLS = {
    "practitioner": "/admin/scheduler/practitioner/",
    "booking": "/admin/scheduler/booking/",
    "type": "/admin/scheduler/appointmenttype/",
    "override": "/admin/scheduler/dateoverride/",
    "busy": "/admin/scheduler/busyblock/",
    "connection": "/admin/sync/calendarconnection/",
}


def objects(practice) -> dict:
    return {
        "practitioner": practice.person,
        "booking": practice.booking,
        "type": practice.type,
        "override": practice.override,
        "busy": practice.busy,
        "connection": practice.connection,
    }


def change_url(kind, obj) -> str:
    return f"{URLS[kind]}{obj.pk}/change/"


def options(html: str, name: str) -> set[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name}>"
    return set(re.findall(r'<option value="(\d+)"', select.group(1)))


def snapshot(practice) -> list:
    """Everything of A's that B must not be able to change."""
    rows = []
    for obj in objects(practice).values():
        model = type(obj)
        rows.append(list(model.objects.filter(pk=obj.pk).values()))
    return rows


def test_changelists_list_only_own_rows(practices):
    a, b = practices
    for kind, url in URLS.items():
        page = b.client.get(url)
        assert page.status_code == 200, kind
        html = page.content.decode()
        assert change_url(kind, objects(a)[kind]) not in html, kind
        assert change_url(kind, objects(b)[kind]) in html, kind
    assert "Klant-A" not in b.client.get(URLS["booking"]).content.decode()
    assert "Klant-A" in a.client.get(URLS["booking"]).content.decode()


def test_direct_urls_to_another_practices_objects_are_404_and_change_nothing(practices):
    a, b = practices
    before = snapshot(a)
    for kind, obj in objects(a).items():
        base = f"{URLS[kind]}{obj.pk}/"
        for suffix in ("change/", "delete/", "history/"):
            assert b.client.get(base + suffix).status_code == 404, (kind, suffix)
        assert b.client.post(base + "change/", {"name": "taken over"}).status_code == 404, kind
        assert b.client.post(base + "delete/", {"post": "yes"}).status_code == 404, kind
        # A still can, on their own.
        assert a.client.get(base + "change/").status_code == 200, kind
    assert snapshot(a) == before


def test_bulk_actions_ignore_another_practices_ids(
    practices, monkeypatch, django_capture_on_commit_callbacks
):
    a, b = practices
    before = snapshot(a)
    for kind in ("type", "override", "busy", "connection"):
        b.client.post(
            URLS[kind],
            {"action": "delete_selected", "_selected_action": [objects(a)[kind].pk], "post": "yes"},
        )
    synced = []
    monkeypatch.setattr(
        tasks.ics_sync, "apply_async", lambda args=(), **kw: synced.append(tuple(args))
    )
    with django_capture_on_commit_callbacks(execute=True):
        b.client.post(
            URLS["connection"], {"action": "sync_now", "_selected_action": [a.connection.pk]}
        )
    assert synced == []
    assert snapshot(a) == before
    # The same action on one's own works.
    with django_capture_on_commit_callbacks(execute=True):
        a.client.post(
            URLS["connection"], {"action": "sync_now", "_selected_action": [a.connection.pk]}
        )
    assert synced == [(a.connection.pk,)]


def test_quick_cancel_of_another_practices_booking_is_404_and_sends_nothing(
    practices, mailoutbox, django_capture_on_commit_callbacks
):
    a, b = practices
    url = f"/admin/agenda/cancel/{a.booking.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        assert b.client.get(url).status_code == 404
        assert b.client.post(url, {"message": "Bericht van B"}).status_code == 404
    a.booking.refresh_from_db()
    assert a.booking.status == "confirmed"
    assert set(a.booking.sessions.values_list("status", flat=True)) == {"confirmed"}
    assert mailoutbox == []
    # A cancels their own.
    with django_capture_on_commit_callbacks(execute=True):
        assert a.client.post(url, {"message": "Bericht van A"}).status_code == 302
    a.booking.refresh_from_db()
    assert a.booking.status == "cancelled"
    assert [m.to for m in mailoutbox if "Bericht van A" in m.body] == [["klant-a@example.nl"]]


def test_agenda_shows_only_own_sessions(practices, superuser_client):
    a, b = practices
    url = f"/admin/agenda/?span=day&date={a.day}"
    page_b = b.client.get(url).content.decode()
    assert "Klant-B" in page_b and "Klant-A" not in page_b
    assert f"/admin/agenda/cancel/{a.booking.pk}/" not in page_b
    # B cannot pick A's agenda either.
    page_b = b.client.get(url + f"&practitioner={a.person.pk}").content.decode()
    assert "Klant-A" not in page_b
    assert "Klant-A" in a.client.get(url).content.decode()
    chosen = superuser_client.get(url + f"&practitioner={a.person.pk}").content.decode()
    assert "Klant-A" in chosen


def test_banner_lists_only_own_broken_connections(practices):
    a, b = practices
    page_b = b.client.get("/admin/").content.decode()
    for secret in ("Kalender-A", "calendar-a.example.com", "Foutmelding-A"):
        assert secret not in page_b
    assert "Kalender-B" in page_b and "Foutmelding-B" in page_b
    page_a = a.client.get("/admin/").content.decode()
    assert "Kalender-A" in page_a and "Foutmelding-A" in page_a and "Kalender-B" not in page_a


def test_dropdowns_offer_only_own_rows_and_refuse_anothers_id(practices):
    a, b = practices
    mine, theirs = str(b.person.pk), str(a.person.pk)
    for kind in ("type", "override", "busy", "connection"):
        html = b.client.get(URLS[kind] + "add/").content.decode()
        assert options(html, "practitioner") == {mine}, kind
    html = b.client.get(change_url("booking", b.booking)).content.decode()
    assert options(html, "appointment_type") == {str(b.type.pk)}
    # Posting A's ids anyway: refused by the form, nothing created or moved.
    response = b.client.post(
        URLS["type"] + "add/",
        {
            "practitioner": theirs,
            "name": "Ingeschoven",
            "slug": "ingeschoven",
            "duration_minutes": 30,
            "buffer_before_minutes": 0,
            "buffer_after_minutes": 0,
            "min_notice_minutes": 0,
            "max_days_ahead": 90,
            "sessions": "null",
            "active": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert not AppointmentType.objects.filter(name="Ingeschoven").exists()
    response = b.client.post(
        change_url("booking", b.booking),
        {
            "appointment_type": a.type.pk,
            "client_name": "Klant-B",
            "client_email": "klant-b@example.nl",
            "client_phone": "",
            "notes": "",
            "language": "nl",
            "status": "confirmed",
            "sessions-TOTAL_FORMS": "1",
            "sessions-INITIAL_FORMS": "1",
            "sessions-MIN_NUM_FORMS": "0",
            "sessions-MAX_NUM_FORMS": "1000",
            "sessions-0-id": b.booking.sessions.get().pk,
            "sessions-0-booking": b.booking.pk,
        },
    )
    assert response.status_code == 200
    b.booking.refresh_from_db()
    assert b.booking.appointment_type == b.type
    # A new row of B's is B's, whatever the form said.
    b.client.post(
        URLS["busy"] + "add/",
        {
            "practitioner": mine,
            "start_0": "2030-01-07",
            "start_1": "10:00:00",
            "end_0": "2030-01-07",
            "end_1": "11:00:00",
            "source": "handmatig-B",
            "external_id": "",
        },
    )
    assert BusyBlock.objects.get(source="handmatig-B").practitioner == b.person


def test_autocomplete_searches_only_own_rows(practices):
    _, b = practices
    response = b.client.get(
        "/admin/autocomplete/",
        {
            "app_label": "scheduler",
            "model_name": "booking",
            "field_name": "appointment_type",
            "term": "Behandeling",
        },
    )
    assert response.status_code == 200
    ids = {row["id"] for row in json.loads(response.content)["results"]}
    assert ids == {str(b.type.pk)}


def test_a_staff_user_without_a_practice_sees_nothing(practices):
    a, _ = practices
    from django.contrib.auth import get_user_model

    helper = get_user_model().objects.create_user("helper", password="helper-password")
    helper.is_staff = True
    helper.save()
    # Give them every practice permission, but no practitioner profile.
    helper.practitioner = None
    for perm in a.person.user.user_permissions.all():
        helper.user_permissions.add(perm)
    http = Client()
    http.force_login(helper)
    assert http.get(change_url("booking", a.booking)).status_code in (403, 404)
    assert http.get(f"/admin/agenda/cancel/{a.booking.pk}/").status_code == 404
    assert "Kalender-A" not in http.get("/admin/").content.decode()


def test_superuser_sees_every_practice(practices, superuser_client):
    a, b = practices
    for kind, url in URLS.items():
        html = superuser_client.get(url).content.decode()
        assert change_url(kind, objects(a)[kind]) in html, kind
        assert change_url(kind, objects(b)[kind]) in html, kind
        assert superuser_client.get(change_url(kind, objects(a)[kind])).status_code == 200
    banner = superuser_client.get("/admin/").content.decode()
    assert "Kalender-A" in banner and "Kalender-B" in banner
    # Even a superuser cannot move A's booking onto B's appointment type.
    response = superuser_client.post(
        change_url("booking", a.booking),
        {
            "appointment_type": b.type.pk,
            "client_name": "Klant-A",
            "client_email": "klant-a@example.nl",
            "language": "nl",
            "status": "confirmed",
            "sessions-TOTAL_FORMS": "0",
            "sessions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Kies een soort afspraak van deze behandelaar." in response.content.decode()
    a.booking.refresh_from_db()
    assert a.booking.appointment_type == a.type


def test_accounts_and_api_tokens_are_for_superusers_only(practices):
    a, b = practices
    make_staff(b.person, extra=["auth.view_user", "auth.change_user", "authtoken.view_tokenproxy"])
    for url in (
        "/admin/auth/user/",
        f"/admin/auth/user/{a.person.user.pk}/change/",
        "/admin/authtoken/tokenproxy/",
    ):
        assert b.client.get(url).status_code == 403, url
    # and B cannot make themselves superuser through their own practitioner page either
    html = b.client.get(change_url("practitioner", b.person)).content.decode()
    assert 'name="user"' not in html


def test_internal_booking_fields_are_not_in_the_form(practices):
    _, b = practices
    booking = Booking.objects.get(pk=b.booking.pk)
    booking.manage_token_sealed = "sealed-secret"
    booking.idempotency_key_hash = "f" * 64
    booking.request_fingerprint = "e" * 64
    booking.save()
    html = b.client.get(change_url("booking", booking)).content.decode()
    for internal in (
        "manage_token_hash",
        "manage_token_sealed",
        "idempotency_key",
        "request_fingerprint",
        booking.manage_token_hash,
        "sealed-secret",
        "f" * 64,
    ):
        assert internal not in html, internal
    practitioner_page = b.client.get(change_url("practitioner", b.person)).content.decode()
    assert 'name="schedule_version"' not in practitioner_page
    assert 'name="schedule_changed_at"' not in practitioner_page
    connection_page = b.client.get(change_url("connection", b.connection)).content.decode()
    for internal in ("google_refresh_token", "google_access_token", "content_hash", "etag"):
        assert f'name="{internal}"' not in connection_page


def test_admin_forms_need_the_csrf_token(practices):
    a, _ = practices
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(a.person.user)
    response = strict.post(f"/admin/agenda/cancel/{a.booking.pk}/", {"message": "x"})
    assert response.status_code == 403
    response = strict.post(change_url("type", a.type), {"name": "x"})
    assert response.status_code == 403
    a.booking.refresh_from_db()
    assert a.booking.status == "confirmed"
