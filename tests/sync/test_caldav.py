"""CalDAV both ways, against a real Radicale on 127.0.0.1 behind a fault-injecting proxy."""

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import icalendar
import pytest
from django.core.management import call_command
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_cancel, booking_create, booking_reschedule
from scheduler.models import BusyBlock, Session
from sync import outbox
from sync.caldav import service as caldav
from sync.caldav.client import Dav, Transient
from sync.caldav.discovery import account_discover
from sync.caldav.push import resource_name, uid_for
from sync.google.tokens import decrypt_token
from sync.ics.fetch import FeedFetchError
from sync.models import CalDAVCalendar, CalendarConnection, OutboxItem
from tests import factories
from tests.fakes.caldav_server import FaultProxy
from tests.page.conftest import next_monday
from tests.sync.conftest import free_starts

pytestmark = pytest.mark.django_db
_users = itertools.count(1)


@dataclass
class Account:
    user: str
    password: str
    work: str  # calendar paths
    private: str


@pytest.fixture
def account(radicale):
    """A fresh account with two calendars, so tests never see each other's events."""
    n = next(_users)
    user, password = f"user{n}-{random.randrange(10**6)}", f"app-pw-{n}"
    radicale.add_user(user, password)
    return Account(
        user,
        password,
        radicale.make_calendar("work", "Werk", user),
        radicale.make_calendar("private", "Privé", user),
    )


@pytest.fixture
def proxy(radicale, settings):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the test server, and nothing else
    settings.ICS_TIMEOUT_SECONDS = 10  # tests that inject delays shorten it themselves
    settings.PUBLIC_BASE_URL = "http://testserver"
    server = FaultProxy(radicale.url)
    yield server
    server.close()


@pytest.fixture
def connection(practice, account, proxy):
    """Connected and set up: bookings go to "work"; "private" and "work" block time."""
    person, _ = practice
    found = caldav.caldav_connection_create(
        practitioner=person,
        url=proxy.url + "/",
        username=account.user,
        password=account.password,
        name="iCloud",
    )
    assert caldav.caldav_connection_setup(connection=found, now=timezone.now())
    found.refresh_from_db()
    work, private = proxy.url + account.work, proxy.url + account.private
    return caldav.caldav_connection_update(
        connection=found,
        now=timezone.now(),
        push_calendar_id=work,
        busy_calendar_ids=[private, work],
    )


def drain():
    later = timezone.now()
    for _ in range(60):
        outbox.deliver_due(now=later)
        if not OutboxItem.objects.filter(kind="caldav", done_at__isnull=True).exists():
            return
        later += timedelta(hours=7)  # past any backoff
    raise AssertionError(list(OutboxItem.objects.filter(done_at__isnull=True).values()))


def events_in(radicale, account, calendar=None) -> dict[str, icalendar.Event]:
    found = {}
    for name, body in radicale.events(calendar or account.work, account.user).items():
        found[name] = next(iter(icalendar.Calendar.from_ical(body).walk("VEVENT")))
    return found


def at(day_offset, hour, minute=0):
    base = datetime.combine(next_monday() + timedelta(days=day_offset), datetime.min.time())
    return base.replace(hour=hour, minute=minute, tzinfo=factories.AMSTERDAM)


def local(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def vevent(uid, start, end, *extra) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Amsterdam:{local(start)}",
        f"DTEND;TZID=Europe/Amsterdam:{local(end)}",
        "SUMMARY:Private appointment",
        *extra,
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def pull(connection):
    caldav.caldav_connection_pull(connection=connection, now=timezone.now(), force=True)
    connection.refresh_from_db()
    assert connection.status == "ok", connection.last_error


def busy_spans():
    return sorted((b.start, b.end) for b in BusyBlock.objects.all())


# --- discovery ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["root", "well-known", "principal", "home", "calendar"])
def test_discovery_finds_the_calendars_from_every_url_form(account, proxy, form):
    path = {
        "root": "/",
        "well-known": "/.well-known/caldav",
        "principal": f"/{account.user}/",
        "home": f"/{account.user}/",
        "calendar": account.work,
    }[form]
    with Dav(username=account.user, password=account.password) as dav:
        found = account_discover(
            url=proxy.url + path, username=account.user, password=account.password, dav=dav
        )
    assert found.home_url == f"{proxy.url}/{account.user}/"
    assert {(c.url, c.name) for c in found.calendars} == {
        (proxy.url + account.work, "Werk"),
        (proxy.url + account.private, "Privé"),
    }
    assert all(c.sync_token and c.takes_events for c in found.calendars)


def test_setup_lists_calendars_and_chooses_defaults(practice, account, proxy):
    person, _ = practice
    found = caldav.caldav_connection_create(
        practitioner=person,
        url=proxy.url + "/.well-known/caldav",
        username=account.user,
        password=account.password,
    )
    assert found.caldav_password and account.password not in found.caldav_password
    assert decrypt_token(found.caldav_password) == account.password
    assert caldav.caldav_connection_setup(connection=found, now=timezone.now())
    found.refresh_from_db()
    ids = {c["id"] for c in found.available_calendars}
    assert ids == {proxy.url + account.work, proxy.url + account.private}
    assert found.push_calendar_id in ids and found.busy_calendar_ids == [found.push_calendar_id]
    assert found.status == "ok" and found.last_success_at is not None


def test_private_addresses_are_refused_like_ics_feeds(practice, account, proxy, settings):
    person, _ = practice
    settings.ICS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(FeedFetchError) as refused:
        caldav.caldav_connection_create(
            practitioner=person, url=proxy.url + "/", username="u", password="p"
        )
    assert str(refused.value) == "The calendar could not be fetched."
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]  # allowed, but not loopback
    with pytest.raises(FeedFetchError):
        caldav.caldav_connection_create(
            practitioner=person, url=proxy.url + "/", username="u", password="p"
        )


# --- push -----------------------------------------------------------------------------


def test_booking_pushes_one_private_event_per_session_and_reschedule_keeps_the_uid(
    radicale, account, practice, connection
):
    person, _ = practice
    series = factories.intake_series(person)
    booking = booking_create(
        appointment_type=series,
        start=free_starts(series)[0],
        client=ClientDetails(name="Geheim Persoon", email="g@example.nl"),
        now=timezone.now(),
    ).booking
    drain()
    sessions = list(booking.sessions.order_by("position"))
    events = events_in(radicale, account)
    assert set(events) == {resource_name(s) for s in sessions}
    first = events[resource_name(sessions[0])]
    assert str(first["UID"]) == uid_for(sessions[0])
    assert "Geheim" not in str(first["SUMMARY"]) and "Geheim Persoon" in str(first["DESCRIPTION"])
    assert first.decoded("DTSTART") == sessions[0].start
    assert str(first["CLASS"]) == "PRIVATE"
    booking_reschedule(booking=booking, start=free_starts(series)[3], now=timezone.now())
    drain()
    booking.refresh_from_db()
    new_first = booking.sessions.order_by("position").first()
    moved = events_in(radicale, account)[resource_name(new_first)]
    assert str(moved["UID"]) == uid_for(new_first) == str(first["UID"])
    assert moved.decoded("DTSTART") == new_first.start
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])
    assert len(events_in(radicale, account)) == 3
    booking_cancel(booking=booking, now=timezone.now())
    drain()
    assert events_in(radicale, account) == {}


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\u2029"])
def test_a_note_with_unicode_line_ends_stays_one_event_with_its_text(
    radicale, account, practice, connection, separator
):
    """Readers that split at U+2028 or NEL (str.splitlines) must not find a second event:
    the PUT holds one VEVENT, whose description keeps the note's text without them."""
    _, follow_up = practice
    injected = (
        f"{separator}END:VEVENT{separator}BEGIN:VEVENT{separator}UID:evil{separator}"
        f"DTSTART:20270301T120000Z{separator}DTEND:20270301T180000Z{separator}X:"
    )
    booking = booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[0],
        client=ClientDetails(name="Nota Bene", email="n@example.nl", notes=f"Rug{injected}nek"),
        now=timezone.now(),
    ).booking
    drain()
    session = booking.sessions.get()
    stored = radicale.events(account.work, account.user)
    assert list(stored) == [resource_name(session)]
    body = stored[resource_name(session)]
    physical = body.splitlines()
    assert sum(line == "BEGIN:VEVENT" for line in physical) == 1
    assert not any(line.startswith("UID:evil") for line in physical)
    [event] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["UID"]) == uid_for(session)
    note = injected.replace(separator, "")
    assert f"Notities: Rug{note}nek" in str(event["DESCRIPTION"])


def test_a_put_whose_answer_was_lost_is_found_by_its_name(
    radicale, account, practice, connection, proxy
):
    _, follow_up = practice
    proxy.drop_after_write_next()
    booking = booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[0],
        client=factories.client(1),
        now=timezone.now(),
    ).booking
    outbox.deliver_due(now=timezone.now())
    item = OutboxItem.objects.get(kind="caldav")
    assert item.done_at is None and item.last_error
    assert len(events_in(radicale, account)) == 1  # it was made; only the answer was lost
    drain()
    session = booking.sessions.get()
    events = events_in(radicale, account)
    assert list(events) == [resource_name(session)]


@pytest.mark.slow
def test_random_faults_over_200_changes_end_with_exactly_the_live_sessions(
    radicale, account, practice, connection, proxy, settings
):
    # So that an injected 0.8 s delay is a timeout (a short deadline: a run meets ~30 delays).
    settings.ICS_TIMEOUT_SECONDS = 0.5
    _person, follow_up = practice
    rng = random.Random(20261201)
    starts = free_starts(follow_up, days=7)
    faults = [
        lambda: proxy.fail_next(503),
        lambda: proxy.fail_next(503, count=3),
        lambda: proxy.fail_next(500),
        lambda: proxy.drop_after_write_next(),
        lambda: proxy.delay_next(0.8),  # past the deadline: a timeout, done or not
        lambda: None,
        lambda: None,
    ]
    live = []
    for n in range(200):
        action = rng.random()
        taken = {s.start for s in Session.objects.filter(status="confirmed")}
        free = [s for s in starts if s not in taken]
        if action < 0.5 or not live:
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
            booking_reschedule(booking=booking, start=rng.choice(free), now=timezone.now())
        rng.choice(faults)()
        outbox.deliver_due(now=timezone.now())  # the drain that follows each commit
        proxy.clear_faults()
    drain()  # the beat sweep, as often as it takes
    sessions = Session.objects.filter(status="confirmed", booking__status="confirmed")
    events = events_in(radicale, account)
    assert set(events) == {resource_name(s) for s in sessions}
    for session in sessions:
        event = events[resource_name(session)]
        assert str(event["UID"]) == uid_for(session)
        assert event.decoded("DTSTART") == session.start
        assert event.decoded("DTEND") == session.end
    assert len(events) == sessions.count()


def test_5xx_backs_off_and_shows_on_the_connection(account, practice, connection, proxy):
    _, follow_up = practice
    booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[0],
        client=factories.client(2),
        now=timezone.now(),
    )
    proxy.fail_next(503, count=5)
    outbox.deliver_due(now=timezone.now())
    connection.refresh_from_db()
    assert connection.status == "error" and "503" in connection.last_error
    item = OutboxItem.objects.get(kind="caldav")
    assert item.done_at is None and item.next_attempt_at > timezone.now() + timedelta(seconds=50)
    proxy.clear_faults()
    drain()
    connection.refresh_from_db()
    assert connection.status == "ok" and connection.last_error == ""


# --- pull -----------------------------------------------------------------------------


def test_pull_reads_one_off_all_day_transparent_and_recurring_events(
    radicale, account, practice, connection
):
    _, follow_up = practice
    put = radicale.put
    put(account.private, "one.ics", vevent("one", at(0, 10), at(0, 11)), account.user)
    put(
        account.private,
        "free.ics",
        vevent("free", at(0, 14), at(0, 15), "TRANSP:TRANSPARENT"),
        account.user,
    )
    put(
        account.private,
        "off.ics",
        vevent("off", at(0, 16), at(0, 17), "STATUS:CANCELLED"),
        account.user,
    )
    day2 = next_monday() + timedelta(days=2)
    all_day = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:allday\r\n"
        "DTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{day2:%Y%m%d}\r\nDTEND;VALUE=DATE:{day2 + timedelta(days=1):%Y%m%d}"
        "\r\nSUMMARY:Vrij\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    put(account.private, "allday.ics", all_day, account.user)
    weekly = vevent(
        "weekly",
        at(1, 9),
        at(1, 10),
        "RRULE:FREQ=WEEKLY;COUNT=4",
        f"EXDATE;TZID=Europe/Amsterdam:{local(at(8, 9))}",
    ).replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=Europe/Amsterdam:{local(at(15, 9))}\r\n"
        f"DTSTART;TZID=Europe/Amsterdam:{local(at(15, 13))}\r\n"
        f"DTEND;TZID=Europe/Amsterdam:{local(at(15, 14))}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR",
    )
    put(account.private, "weekly.ics", weekly, account.user)
    # Our own pushed event sits in "work", which blocks time too: it must not count.
    booking_create(
        appointment_type=follow_up,
        start=at(3, 11),
        client=factories.client(3),
        now=timezone.now(),
    )
    drain()
    pull(connection)
    midnight = datetime.combine(day2, datetime.min.time(), tzinfo=factories.AMSTERDAM)
    assert busy_spans() == sorted(
        [
            (at(0, 10), at(0, 11)),
            (midnight, midnight + timedelta(days=1)),
            (at(1, 9), at(1, 10)),
            (at(15, 13), at(15, 14)),
            (at(22, 9), at(22, 10)),
        ]
    )
    sources = set(BusyBlock.objects.values_list("source", flat=True))
    assert sources == {f"caldav:{connection.pk}:{account.private}"}
    assert at(0, 10) not in free_starts(follow_up) and at(0, 14) in free_starts(follow_up)


def test_pull_follows_moves_and_deletes_and_an_unchanged_calendar_fetches_no_body(
    radicale, account, practice, connection, proxy
):
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    radicale.put(account.private, "b.ics", vevent("b", at(1, 10), at(1, 11)), account.user)
    pull(connection)
    assert busy_spans() == [(at(0, 10), at(0, 11)), (at(1, 10), at(1, 11))]
    proxy.requests.clear()
    pull(connection)  # nothing changed
    assert proxy.count("get") == proxy.count("multiget") == proxy.count("propfind-data") == 0
    # One sync-collection REPORT for each of the two busy calendars, nothing else.
    assert proxy.count("sync-collection") == len(proxy.requests) == 2
    radicale.put(account.private, "a.ics", vevent("a", at(0, 12), at(0, 13)), account.user)
    radicale.delete(account.private, "b.ics", account.user)
    proxy.requests.clear()
    pull(connection)
    assert busy_spans() == [(at(0, 12), at(0, 13))]
    assert proxy.count("sync-collection") == 2 and proxy.count("multiget") == 1
    state = CalDAVCalendar.objects.get(url__endswith=account.private)
    assert state.sync_collection is True and state.sync_token
    assert list(state.resources.values_list("href", flat=True)) == [f"{account.private}a.ics"]


def test_an_invalid_sync_token_means_a_full_resync(radicale, account, practice, connection):
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    pull(connection)
    radicale.put(account.private, "c.ics", vevent("c", at(2, 10), at(2, 11)), account.user)
    radicale.delete(account.private, "a.ics", account.user)
    CalDAVCalendar.objects.filter(url__endswith=account.private).update(
        sync_token="http://radicale.org/ns/sync/unknown-token-" + "0" * 40
    )
    pull(connection)
    assert busy_spans() == [(at(2, 10), at(2, 11))]
    state = CalDAVCalendar.objects.get(url__endswith=account.private)
    assert "unknown" not in state.sync_token


def test_a_server_without_sync_collection_is_compared_by_ctag_and_etags(
    radicale, account, practice, connection, proxy
):
    proxy.hide_sync_collection = True
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    radicale.put(account.private, "b.ics", vevent("b", at(1, 10), at(1, 11)), account.user)
    pull(connection)
    assert busy_spans() == [(at(0, 10), at(0, 11)), (at(1, 10), at(1, 11))]
    state = CalDAVCalendar.objects.get(url__endswith=account.private)
    assert state.sync_collection is False and state.ctag
    proxy.requests.clear()
    pull(connection)
    assert proxy.count("multiget") == 0 and len(proxy.requests) == 1
    radicale.put(account.private, "b.ics", vevent("b", at(1, 14), at(1, 15)), account.user)
    radicale.delete(account.private, "a.ics", account.user)
    proxy.requests.clear()
    pull(connection)
    assert busy_spans() == [(at(1, 14), at(1, 15))]
    assert proxy.count("sync-collection") == 0 and proxy.count("multiget") == 1


def test_a_failed_pull_keeps_the_busy_time_known(
    radicale, account, practice, connection, proxy, settings
):
    settings.ICS_TIMEOUT_SECONDS = 1  # so that an injected 1.5 s delay is a timeout
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    pull(connection)
    radicale.delete(account.private, "a.ics", account.user)
    for fault in (lambda: proxy.fail_next(503, count=3), lambda: proxy.delay_next(1.5)):
        fault()
        caldav.caldav_connection_pull(connection=connection, now=timezone.now(), force=True)
        connection.refresh_from_db()
        assert connection.status == "error" and connection.last_error
        assert busy_spans() == [(at(0, 10), at(0, 11))]
        proxy.clear_faults()
    pull(connection)
    assert busy_spans() == []


def test_polling_backs_off_while_the_server_fails(practice, connection, proxy, settings):
    settings.CALDAV_POLL_MINUTES = 5
    now = timezone.now()
    CalendarConnection.objects.filter(pk=connection.pk).update(last_synced_at=now)
    assert connection.pk not in caldav.caldav_connections_due(now=now + timedelta(minutes=4))
    assert connection.pk in caldav.caldav_connections_due(now=now + timedelta(minutes=5))
    # Failing for an hour: the next try waits an hour more.
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status="error", last_success_at=now - timedelta(hours=1), last_synced_at=now
    )
    assert connection.pk not in caldav.caldav_connections_due(now=now + timedelta(minutes=30))
    assert connection.pk in caldav.caldav_connections_due(now=now + timedelta(minutes=61))


# --- trouble --------------------------------------------------------------------------


def test_a_changed_password_alerts_once_stops_and_recovers_after_patch(
    radicale, account, practice, connection, proxy, mailoutbox, django_capture_on_commit_callbacks
):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    person, follow_up = practice
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    pull(connection)
    radicale.set_password(account.user, "changed-on-the-phone")
    booking = booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[-1],
        client=factories.client(4),
        now=timezone.now(),
    ).booking
    outbox.deliver_due(now=timezone.now())
    connection.refresh_from_db()
    assert connection.status == "reconnect_needed" and connection.alerted_at
    outbox.deliver_due(now=timezone.now())  # the alert leaves through the outbox
    alerts = [m for m in mailoutbox if "password" in m.subject]
    assert len(alerts) == 1 and alerts[0].to == ["praktijk@example.nl"]
    assert "Google" not in alerts[0].body
    hits = len(proxy.requests)
    outbox.deliver_due(now=timezone.now() + timedelta(days=1))
    caldav.caldav_connection_pull(connection=connection, now=timezone.now(), force=True)
    call_command("synccalendars")
    assert len(proxy.requests) == hits  # no calls until the practitioner acts
    assert connection.pk not in caldav.caldav_connections_due(now=timezone.now() + timedelta(1))
    assert len([m for m in mailoutbox if "password" in m.subject]) == 1
    assert busy_spans() == [(at(0, 10), at(0, 11))]  # the last known busy time holds
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=person.user).key}")
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.patch(
            f"/api/v1/calendars/{connection.pk}/",
            {"password": "changed-on-the-phone"},
            format="json",
        )
    assert answer.status_code == 200 and "changed-on-the-phone" not in answer.content.decode()
    connection.refresh_from_db()
    assert connection.status == "ok" and connection.alerted_at is None
    drain()
    assert list(events_in(radicale, account)) == [resource_name(booking.sessions.get())]


def test_synccalendars_pushes_and_pulls_caldav(radicale, account, practice, connection):
    _, follow_up = practice
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    booking = booking_create(
        appointment_type=follow_up,
        start=free_starts(follow_up)[-1],
        client=factories.client(5),
        now=timezone.now(),
    ).booking
    call_command("synccalendars")
    assert busy_spans() == [(at(0, 10), at(0, 11))]
    assert list(events_in(radicale, account)) == [resource_name(booking.sessions.get())]


def test_synccalendars_runs_discovery_that_is_still_pending(radicale, account, practice, proxy):
    person, _ = practice
    found = caldav.caldav_connection_create(
        practitioner=person, url=proxy.url + "/", username=account.user, password=account.password
    )
    call_command("synccalendars")
    found.refresh_from_db()
    assert found.caldav_home_url and len(found.available_calendars) == 2


def test_an_unreachable_server_is_an_error_not_a_crash(practice, account, proxy):
    person, _ = practice
    found = caldav.caldav_connection_create(
        practitioner=person, url=proxy.url + "/", username=account.user, password=account.password
    )
    proxy.fail_next(503, count=10)
    assert not caldav.caldav_connection_setup(connection=found, now=timezone.now())
    found.refresh_from_db()
    assert found.status == "error" and found.available_calendars == []
    with Dav(username="x", password="y") as dav, pytest.raises(Transient):
        dav.request("GET", "http://127.0.0.1:9/")  # nothing listens on the discard port


def test_key_rotation_covers_the_caldav_password(settings, practice):
    from cryptography.fernet import Fernet

    from sync.google.tokens import encrypt_token
    from sync.secrets import secrets_reencrypt

    person, _ = practice
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old]
    found = CalendarConnection.objects.create(
        practitioner=person,
        kind="caldav",
        url="https://caldav.example.com/",
        caldav_username="me",
        caldav_password=encrypt_token("app-secret"),
    )
    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    assert secrets_reencrypt()["connections"] == 1
    settings.TOKEN_ENCRYPTION_KEYS = [new]
    found.refresh_from_db()
    assert decrypt_token(found.caldav_password) == "app-secret"
