"""Google Calendar both ways, with the official client against the fake Google server."""

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler.booking import ClientDetails, booking_cancel, booking_create, booking_reschedule
from scheduler.models import BusyBlock, Session
from sync import outbox
from sync.google.pull import google_connection_pull, google_connection_setup
from sync.google.push import OWN_EVENT_PROPERTY, event_id_for
from sync.google.tokens import decrypt_token
from sync.google.watch import channels_renew
from sync.models import CalendarConnection, GoogleCalendarSync, OutboxItem
from tests import factories
from tests.fakes.google_server import FakeGoogleCalendar
from tests.page.conftest import next_monday
from tests.sync.conftest import free_starts

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings, monkeypatch):
    with FakeGoogleCalendar() as server:  # stopped however the set-up or test ends
        settings.GOOGLE_CLIENT_ID = server.client_id
        settings.GOOGLE_CLIENT_SECRET = server.client_secret
        settings.GOOGLE_AUTH_URI = server.auth_uri
        settings.GOOGLE_TOKEN_URI = server.token_uri
        settings.GOOGLE_REVOKE_URI = server.revoke_uri
        settings.GOOGLE_API_ENDPOINT = server.api_endpoint
        settings.GOOGLE_TIMEOUT_SECONDS = 0.5
        settings.PUBLIC_BASE_URL = "http://testserver"
        # The client sleeps up to seconds between its own retries; tests need not wait.
        monkeypatch.setattr("googleapiclient.http.time.sleep", lambda seconds: None)
        yield server


@pytest.fixture
def connection(fake, practice):
    person, _ = practice
    return factories.google_connection(fake, person)


def live_events(fake):
    return {i: e for i, e in fake.events("primary").items() if e.get("status") != "cancelled"}


def drain(until_empty=True):
    later = timezone.now()
    for _ in range(60):
        outbox.deliver_due(now=later)
        if not until_empty or not pending_pushes().exists():
            return
        later += timedelta(hours=7)  # past any backoff
    raise AssertionError(list(pending_pushes().values("last_error")))


def pending_pushes():
    return OutboxItem.objects.filter(kind="google", done_at__isnull=True)


def test_oauth_connect_with_pkce_stores_encrypted_tokens(
    fake, practice, monkeypatch, django_capture_on_commit_callbacks
):
    person, _ = practice
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=person.user).key}")
    url = api.post("/api/v1/calendars/google/connect/").json()["authorization_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
    assert query["redirect_uri"] == ["http://testserver/sync/google/callback/"]
    back = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    browser = Client()
    browser.force_login(person.user)  # the callback is for the user who started it
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert response.status_code == 302
    connection = CalendarConnection.objects.get(kind="google")
    refresh = decrypt_token(connection.google_refresh_token)
    assert refresh and refresh not in connection.google_refresh_token
    assert connection.status == "ok" and connection.busy_calendar_ids == ["primary"]
    assert {c["id"] for c in connection.available_calendars} >= {fake.primary_calendar_id}
    assert GoogleCalendarSync.objects.get(connection=connection).channel_id
    replay = browser.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert replay.status_code == 400  # the state is used up


def test_booking_pushes_one_private_event_per_session(
    frozen_day, fake, practice, connection, django_capture_on_commit_callbacks
):
    person, _follow_up = practice
    series = factories.intake_series(person)
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            appointment_type=series,
            start=free_starts(series)[0],
            client=ClientDetails(name="Geheim Persoon", email="g@example.nl"),
            now=timezone.now(),
        ).booking
    events = live_events(fake)
    sessions = list(booking.sessions.order_by("position"))
    assert set(events) == {event_id_for(s) for s in sessions}
    first = events[event_id_for(sessions[0])]
    assert "Geheim" not in first["summary"] and "Geheim Persoon" in first["description"]
    assert first["extendedProperties"]["private"][OWN_EVENT_PROPERTY] == "1"
    assert datetime.fromisoformat(first["start"]["dateTime"]) == sessions[0].start
    assert not OutboxItem.objects.filter(kind="google", done_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=free_starts(series)[3], now=timezone.now())
    moved = live_events(fake)[event_id_for(sessions[0])]
    booking.refresh_from_db()
    new_first = booking.sessions.order_by("position").first()
    assert datetime.fromisoformat(moved["start"]["dateTime"]) == new_first.start
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, now=timezone.now())
    assert live_events(fake) == {}


@pytest.mark.slow
def test_random_faults_over_200_changes_end_with_exactly_the_live_sessions(
    frozen_clock, fake, practice, connection
):
    _person, follow_up = practice
    rng = random.Random(20261128)
    starts = free_starts(follow_up, days=7)
    faults = [
        lambda: fake.fail_next(status=500),
        lambda: fake.fail_next(status=503, count=5),
        lambda: fake.fail_next(status=429),
        lambda: fake.fail_next(status=403, reason="rateLimitExceeded"),
        lambda: fake.drop_after_write_next(),
        lambda: fake.drop_after_write_next(graceful=True),
        lambda: fake.delay_next(1, after_processing=True),
        lambda: None,
    ]
    live = []
    for n in range(200):
        action = rng.random()
        if action < 0.5 or not live:
            taken = {s.start for s in Session.objects.filter(status="confirmed")}
            free = [s for s in starts if s not in taken]
            booking = booking_create(
                appointment_type=follow_up,
                start=rng.choice(free),
                client=ClientDetails(name=f"C{n}", email=f"c{n}@example.nl"),
                now=timezone.now(),
            ).booking
            live.append(booking)
        elif action < 0.75:
            booking = live.pop(rng.randrange(len(live)))
            booking_cancel(booking=booking, now=timezone.now())
        else:
            booking = rng.choice(live)
            taken = {s.start for s in Session.objects.filter(status="confirmed")}
            free = [s for s in starts if s not in taken]
            booking_reschedule(booking=booking, start=rng.choice(free), now=timezone.now())
        rng.choice(faults)()
        outbox.deliver_due(now=timezone.now())  # the drain that follows each commit
        fake.clear_faults()
    drain()  # the beat sweep, as often as it takes
    sessions = Session.objects.filter(status="confirmed", booking__status="confirmed")
    events = live_events(fake)
    assert set(events) == {event_id_for(s) for s in sessions}
    for session in sessions:
        event = events[event_id_for(session)]
        assert datetime.fromisoformat(event["start"]["dateTime"]) == session.start
        assert datetime.fromisoformat(event["end"]["dateTime"]) == session.end
    assert len(events) == sessions.count()


def test_other_4xx_stops_and_shows_on_the_connection(frozen_day, fake, practice, connection):
    _, follow_up = practice
    booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[0],
        client=ClientDetails(name="A", email="a@example.nl"),
        now=timezone.now(),
    )
    fake.fail_next(status=400, reason="invalid")
    outbox.deliver_due(now=timezone.now())
    connection.refresh_from_db()
    assert connection.status == "error" and "400" in connection.last_error
    item = OutboxItem.objects.get(kind="google")
    assert item.done_at is None and item.next_attempt_at > timezone.now() + timedelta(minutes=50)


def pull(connection):
    google_connection_pull(connection=connection, now=timezone.now())
    connection.refresh_from_db()


def busy_spans():
    return sorted((b.start, b.end) for b in BusyBlock.objects.all())


def at(day_offset, hour, minute=0):
    base = datetime.combine(next_monday() + timedelta(days=day_offset), datetime.min.time())
    return base.replace(hour=hour, minute=minute, tzinfo=factories.AMSTERDAM)


def event(start, end, **extra):
    return {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}, **extra}


def test_pull_follows_created_moved_freed_and_deleted_events(
    frozen_day, fake, practice, connection
):
    _, follow_up = practice
    created = fake.insert_event("primary", event(at(0, 10), at(0, 11), summary="Tandarts"))
    fake.insert_event("primary", event(at(0, 14), at(0, 15), transparency="transparent"))
    fake.insert_event(
        "primary",
        event(
            at(0, 16),
            at(0, 17),
            attendees=[{"email": "me@example.com", "self": True, "responseStatus": "declined"}],
        ),
    )
    fake.insert_event(
        "primary",
        event(at(1, 9), at(1, 10), extendedProperties={"private": {OWN_EVENT_PROPERTY: "1"}}),
    )
    fake.insert_event(
        "primary",
        {
            "start": {"date": str(next_monday() + timedelta(days=2))},
            "end": {"date": str(next_monday() + timedelta(days=3))},
        },
    )
    pull(connection)
    assert connection.status == "ok"
    day2 = datetime.combine(
        next_monday() + timedelta(days=2), datetime.min.time(), tzinfo=factories.AMSTERDAM
    )
    assert busy_spans() == sorted([(at(0, 10), at(0, 11)), (day2, day2 + timedelta(days=1))])
    assert at(0, 10) not in free_starts(follow_up)
    fake.patch_event("primary", created["id"], event(at(0, 12), at(0, 13)))
    pull(connection)
    assert (at(0, 12), at(0, 13)) in busy_spans() and (at(0, 10), at(0, 11)) not in busy_spans()
    assert at(0, 10) in free_starts(follow_up)
    fake.patch_event("primary", created["id"], {"transparency": "transparent"})
    pull(connection)
    assert (at(0, 12), at(0, 13)) not in busy_spans()
    fake.patch_event("primary", created["id"], {"transparency": "opaque"})
    pull(connection)
    fake.delete_event("primary", created["id"])
    pull(connection)
    assert busy_spans() == [(day2, day2 + timedelta(days=1))]


def test_expired_sync_token_mid_sync_recovers_with_a_full_sync(
    frozen_day, fake, practice, connection
):
    first = fake.insert_event("primary", event(at(0, 10), at(0, 11)))
    pull(connection)
    fake.insert_event("primary", event(at(1, 10), at(1, 11)))
    fake.delete_event("primary", first["id"])
    fake.invalidate_sync_tokens()
    pull(connection)
    assert connection.status == "ok"
    assert busy_spans() == [(at(1, 10), at(1, 11))]
    assert GoogleCalendarSync.objects.get().sync_token


def test_revoked_access_alerts_once_and_stops_retrying(
    frozen_day, fake, practice, connection, mailoutbox
):
    _, follow_up = practice
    fake.insert_event("primary", event(at(0, 10), at(0, 11)))
    pull(connection)
    fake.revoke(decrypt_token(connection.google_refresh_token))
    fake.expire_access_tokens()
    CalendarConnection.objects.filter(pk=connection.pk).update(
        google_token_expiry=timezone.now() - timedelta(minutes=1)
    )
    booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[-1],
        client=ClientDetails(name="A", email="a@example.nl"),
        now=timezone.now(),
    )
    outbox.deliver_due(now=timezone.now())
    connection.refresh_from_db()
    assert connection.status == "reconnect_needed" and connection.alerted_at
    outbox.deliver_due(now=timezone.now())  # the alert itself leaves through the outbox
    alerts = [m for m in mailoutbox if m.to == ["praktijk@example.nl"] and "Google" in m.subject]
    assert len(alerts) == 1
    hits = len(fake.requests)
    outbox.deliver_due(now=timezone.now() + timedelta(days=1))
    pull(connection)
    assert len(fake.requests) == hits  # no more calls while it needs the practitioner
    assert len([m for m in mailoutbox if "Google" in m.subject]) == 1
    assert at(0, 10) not in free_starts(follow_up)  # the last known busy time still holds
    assert OutboxItem.objects.filter(kind="google", done_at__isnull=True).count() == 1


def test_disconnect_revokes_and_removes_the_mirror(
    frozen_day, fake, practice, connection, django_capture_on_commit_callbacks
):
    person, _ = practice
    fake.insert_event("primary", event(at(0, 10), at(0, 11)))
    pull(connection)
    assert BusyBlock.objects.exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=person.user).key}")
    refresh = decrypt_token(connection.google_refresh_token)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/calendars/{connection.pk}/").status_code == 204
    assert not BusyBlock.objects.exists() and not CalendarConnection.objects.exists()
    assert any(r.path == "/revoke" for r in fake.requests)
    response = requests.post(
        fake.token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
        },
        timeout=5,
    )
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_push_notification_pulls_at_once(
    frozen_day, fake, practice, connection, live_server, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    google_connection_setup(connection=connection, now=timezone.now())
    sync = GoogleCalendarSync.objects.get()
    assert sync.channel_id and sync.channel_id in fake.channels
    fake.insert_event("primary", event(at(0, 10), at(0, 11)))
    assert fake.notify(sync.channel_id) == 200
    assert busy_spans() == [(at(0, 10), at(0, 11))]
    forged = requests.post(
        f"{live_server.url}/sync/google/webhook/",
        headers={
            "X-Goog-Channel-ID": sync.channel_id,
            "X-Goog-Channel-Token": "wrong",
            "X-Goog-Resource-State": "exists",
        },
        timeout=5,
    )
    assert forged.status_code == 404


def test_channels_are_renewed_before_they_expire(fake, practice, connection):
    google_connection_setup(connection=connection, now=timezone.now())
    sync = GoogleCalendarSync.objects.get()
    old = sync.channel_id
    channels_renew(connection=connection, now=sync.channel_expires_at - timedelta(hours=12))
    sync.refresh_from_db()
    assert sync.channel_id != old
    assert fake.channels[old]["stopped"] and not fake.channels[sync.channel_id]["stopped"]
    assert sync.channel_expires_at > datetime.now(UTC) + timedelta(days=6)


def test_slots_say_how_old_the_mirrored_busy_time_is(frozen_day, fake, practice, connection):
    _, follow_up = practice
    api = APIClient()
    url = (
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start={next_monday()}&end={next_monday()}"
    )
    assert api.get(url).json()["busy_as_of"] is None  # never read yet
    pull(connection)
    as_of = datetime.fromisoformat(api.get(url).json()["busy_as_of"])
    assert as_of == connection.last_success_at


def test_event_far_beyond_the_horizon_is_mirrored_for_when_it_comes_in_reach(
    fake, practice, connection
):
    far = timezone.now() + timedelta(days=300)
    fake.insert_event("primary", event(far, far + timedelta(hours=1)))
    pull(connection)
    for _ in range(3):  # later incremental syncs never see the untouched event again
        pull(connection)
    assert BusyBlock.objects.filter(start__gt=timezone.now() + timedelta(days=299)).count() == 1


def connect_through_oauth(person, django_capture_on_commit_callbacks):
    """The practitioner's own way: the API hands out the Google link, the browser follows
    it, Google sends the logged-in browser back to the callback."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=person.user).key}")
    url = api.post("/api/v1/calendars/google/connect/").json()["authorization_url"]
    back = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    browser = Client()
    browser.force_login(person.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert response.status_code == 302
    return CalendarConnection.objects.get(kind="google", practitioner=person)


def test_revoked_in_the_google_account_while_the_access_token_looks_valid(
    fake, practice, connection, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    """As practitioners revoke: in their Google account. The stored expiry is an hour
    ahead, the API answers 401, the client refreshes inside the call, the refresh gets
    invalid_grant: reconnect_needed with one e-mail, no more calls; reconnecting pushes
    the booking made during the outage on the next sync."""
    person, follow_up = practice
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    fake.insert_event("primary", event(at(0, 10), at(0, 11)))
    pull(connection)
    assert connection.google_token_expiry > timezone.now() + timedelta(minutes=30)
    fake.revoke(decrypt_token(connection.google_access_token))
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            appointment_type=follow_up,
            start=free_starts(follow_up)[-1],
            client=ClientDetails(name="Tijdens Storing", email="storing@example.nl"),
            now=timezone.now(),
        ).booking
    connection.refresh_from_db()
    assert connection.status == "reconnect_needed", connection.last_error
    alerts = [m for m in mailoutbox if m.to == [person.email] and "Google" in m.subject]
    assert len(alerts) == 1
    hits = len(fake.requests)
    drain(until_empty=False)
    pull(connection)
    channels_renew(connection=connection, now=timezone.now() + timedelta(days=30))
    assert len(fake.requests) == hits  # no more calls while it needs the practitioner
    assert len([m for m in mailoutbox if "Google" in m.subject]) == 1
    assert pending_pushes().count() == 1

    # The practitioner connects again (same account): on the next sync the booking is
    # in Google, although its retry had been pushed far into the future.
    OutboxItem.objects.filter(kind="google").update(
        next_attempt_at=timezone.now() + timedelta(hours=6), attempts=9
    )
    again = connect_through_oauth(person, django_capture_on_commit_callbacks)
    assert again.pk == connection.pk and again.status == "ok"
    outbox.deliver_due(now=timezone.now())
    ours = {
        i
        for i, e in live_events(fake).items()
        if e.get("extendedProperties", {}).get("private", {}).get(OWN_EVENT_PROPERTY)
    }
    assert ours == {event_id_for(booking.sessions.get())}
    assert not pending_pushes().exists()


def test_reconnecting_with_another_google_account_drops_the_old_mirror(
    fake, practice, connection, settings, monkeypatch, django_capture_on_commit_callbacks
):
    person, follow_up = practice
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    google_connection_setup(connection=connection, now=timezone.now())
    fake.insert_event("primary", event(at(0, 10), at(0, 11)))
    pull(connection)
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            appointment_type=follow_up,
            start=free_starts(follow_up)[-1],
            client=ClientDetails(name="Blijft", email="blijft@example.nl"),
            now=timezone.now(),
        ).booking
    assert at(0, 10) not in free_starts(follow_up)
    other = FakeGoogleCalendar(primary_calendar_id="other@example.com").start()
    try:
        settings.GOOGLE_AUTH_URI, settings.GOOGLE_TOKEN_URI = other.auth_uri, other.token_uri
        settings.GOOGLE_API_ENDPOINT = other.api_endpoint
        again = connect_through_oauth(person, django_capture_on_commit_callbacks)
        assert again.pk == connection.pk and again.google_account == "other@example.com"
        # The old account's busy time no longer blocks; the booking is in the new account.
        assert at(0, 10) in free_starts(follow_up)
        assert not BusyBlock.objects.filter(start=at(0, 10)).exists()
        events = {i for i, e in other.events("primary").items() if e.get("status") != "cancelled"}
        assert events == {event_id_for(booking.sessions.get())}, other.events("primary")
    finally:
        other.stop()
