"""Regressions of the security review: erasing a client leaves nothing behind and tells
them first; a Google authorisation link can only be completed by who started it."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from scheduler.booking import ClientDetails, booking_create
from sync import outbox
from sync.google.push import event_id_for
from sync.models import CalendarConnection, OutboxItem
from tests import factories
from tests.factories import AMSTERDAM, local, utc
from tests.fakes.google_server import FakeGoogleCalendar

pytestmark = pytest.mark.django_db

NOW = utc(2027, 2, 22, 7)


@pytest.fixture
def fake(settings, monkeypatch):
    with FakeGoogleCalendar() as server:  # stopped however the set-up or test ends
        settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = (
            server.client_id,
            server.client_secret,
        )
        settings.GOOGLE_AUTH_URI, settings.GOOGLE_TOKEN_URI = server.auth_uri, server.token_uri
        settings.GOOGLE_REVOKE_URI, settings.GOOGLE_API_ENDPOINT = (
            server.revoke_uri,
            server.api_endpoint,
        )
        settings.PUBLIC_BASE_URL = "http://testserver"
        monkeypatch.setattr("googleapiclient.http.time.sleep", lambda seconds: None)
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
        yield server


def test_erase_tells_the_client_first_and_scrubs_the_google_event_before_deleting(
    fake, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    person = factories.practitioner()
    follow_up = factories.appointment_type(person, duration_minutes=30)
    factories.google_connection(fake, person)
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            appointment_type=follow_up,
            start=local(AMSTERDAM, 2027, 3, 1, 9),
            client=ClientDetails(name="Geheim Persoon", email="geheim@example.nl", notes="rugpijn"),
            now=NOW,
        ).booking
    session = booking.sessions.get()
    assert "Geheim Persoon" in fake.events("primary")[event_id_for(session)]["description"]
    mailoutbox.clear()
    api = APIClient()
    api.force_authenticate(person.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/clients/erase/", {"email": "geheim@example.nl"}, format="json")
    assert response.status_code == 200
    # The cancellation reached the client's real address, not the anonymised one.
    [notice] = [m for m in mailoutbox if "annuleerd" in m.subject or "cancel" in m.subject]
    assert notice.to == ["geheim@example.nl"]
    # Google keeps deleted events in the trash: ours was blanked before it was deleted.
    trashed = fake.events("primary")[event_id_for(session)]
    assert trashed.get("status") == "cancelled"
    assert "Geheim" not in str(trashed) and "rugpijn" not in str(trashed)
    # Nothing of the client stays in the outbox once delivered.
    assert not OutboxItem.objects.filter(done_at__isnull=True).exists()
    assert set(OutboxItem.objects.values_list("message", flat=True)) <= {""}


def _authorisation_link(person) -> str:
    api = APIClient()
    api.force_authenticate(person.user)
    url = api.post("/api/v1/calendars/google/connect/").json()["authorization_url"]
    back = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    return urlsplit(back).path + "?" + urlsplit(back).query


def test_another_user_cannot_complete_a_practitioners_google_authorisation(fake):
    anna, bram = factories.practitioner(), factories.practitioner()
    link = _authorisation_link(anna)  # forwarded, or opened on someone else's machine
    stranger = Client()
    stranger.force_login(bram.user)
    response = stranger.get(link)
    assert response.status_code == 400
    assert not CalendarConnection.objects.filter(kind="google").exists()
    # Not logged in at all: to the login first, then back to the same link.
    anonymous = Client().get(link)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("workspace:login") + "?next=")
    assert not CalendarConnection.objects.filter(kind="google").exists()
    # The practitioner who started it completes it.
    owner = Client()
    owner.force_login(anna.user)
    done = owner.get(link)
    assert done.status_code == 302 and done["Location"].startswith(reverse("workspace:calendars"))
    assert CalendarConnection.objects.get(kind="google").practitioner == anna


def test_outbox_messages_are_encrypted_at_rest(settings, clock_at_now):
    person = factories.practitioner()
    follow_up = factories.appointment_type(person, duration_minutes=30)
    booking_create(
        appointment_type=follow_up,
        start=local(AMSTERDAM, 2027, 3, 1, 9) + timedelta(hours=1),
        client=ClientDetails(name="Zichtbaar Niet", email="zn@example.nl"),
        now=NOW,
    )
    [item] = OutboxItem.objects.filter(kind="mail")
    assert item.message and "Zichtbaar" not in item.message and "zn@example" not in item.message
    assert outbox.deliver_due(now=NOW) == 1


def test_erasing_a_client_drops_their_question_mail_still_waiting():
    from scheduler.privacy import client_data_erase
    from scheduler.questions import question_create

    person = factories.practitioner()
    question_create(
        practitioner=person,
        name="Els Vraag",
        email="els@example.nl",
        message="Helpt BSR bij hoofdpijn?",
        language="nl",
        now=NOW,
    )  # its e-mail waits in the outbox (the broker is down, say)
    assert OutboxItem.objects.filter(kind="mail", done_at__isnull=True).count() == 1
    client_data_erase(practitioner=person, email="els@example.nl", now=NOW)
    assert not OutboxItem.objects.filter(kind="mail").exists()
