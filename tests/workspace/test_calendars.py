"""The workspace's calendars page with a CalDAV calendar, against a real Radicale: it syncs,
is removed with its busy time, is labelled as what it is, and can be connected here."""

import pytest
from django.utils import timezone

from scheduler.booking import booking_create
from scheduler.models import BusyBlock
from sync.caldav import service as caldav
from sync.caldav.push import resource_name
from sync.models import CalendarConnection, OutboxItem
from tests import factories
from tests.sync.test_caldav import account, at, events_in, proxy, vevent  # noqa: F401

pytestmark = pytest.mark.django_db


def connected(person, account, proxy):  # noqa: F811
    """Set up against Radicale: bookings go to "work"; "private" and "work" block time."""
    found = caldav.caldav_connection_create(
        practitioner=person,
        url=proxy.url + "/",
        username=account.user,
        password=account.password,
        name="iCloud",
    )
    assert caldav.caldav_connection_setup(connection=found, now=timezone.now())
    found.refresh_from_db()
    return caldav.caldav_connection_update(
        connection=found,
        now=timezone.now(),
        push_calendar_id=proxy.url + account.work,
        busy_calendar_ids=[proxy.url + account.private, proxy.url + account.work],
    )


def free(kind, moment) -> bool:
    from scheduler.selectors import slot_list

    day = moment.astimezone(factories.AMSTERDAM).date()
    slots = slot_list(appointment_type=kind, first_day=day, last_day=day, now=timezone.now())
    return moment in {s.start for s in slots}


def test_sync_now_on_a_caldav_calendar_reads_it_and_sends_what_waits(
    http,
    person,
    radicale,
    account,  # noqa: F811
    proxy,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    kind = factories.appointment_type(person, duration_minutes=30, min_notice_minutes=0)
    connection = connected(person, account, proxy)
    radicale.put(account.private, "a.ics", vevent("a", at(1, 10), at(1, 11)), account.user)
    booking = booking_create(
        appointment_type=kind, start=at(2, 9), client=factories.client(1), now=timezone.now()
    ).booking  # its push waits in the outbox (no commit in a test, so no kick)
    assert OutboxItem.objects.filter(kind="caldav", done_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):  # the tasks run (eager)
        answer = http.post(f"/praktijk/agendas/{connection.pk}/sync/")
    assert answer.status_code == 302
    # Before: "sync now" asked for a Google pull, which skips a CalDAV connection.
    assert BusyBlock.objects.filter(start=at(1, 10), end=at(1, 11)).exists()
    assert not free(kind, at(1, 10))
    assert list(events_in(radicale, account)) == [resource_name(booking.sessions.get())]
    connection.refresh_from_db()
    assert connection.status == "ok" and connection.last_success_at is not None


def test_removing_a_caldav_calendar_frees_its_busy_time(
    http,
    person,
    radicale,
    account,  # noqa: F811
    proxy,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    kind = factories.appointment_type(person, duration_minutes=30, min_notice_minutes=0)
    connection = connected(person, account, proxy)
    radicale.put(account.private, "a.ics", vevent("a", at(1, 10), at(1, 11)), account.user)
    caldav.caldav_connection_pull(connection=connection, now=timezone.now(), force=True)
    assert BusyBlock.objects.filter(source__startswith=f"caldav:{connection.pk}:").exists()
    assert not free(kind, at(1, 10))
    with django_capture_on_commit_callbacks(execute=True):
        answer = http.post(f"/praktijk/agendas/{connection.pk}/verwijderen/", follow=True)
    assert "Agenda verwijderd" in answer.content.decode()
    assert not CalendarConnection.objects.filter(pk=connection.pk).exists()
    # Before: the generic delete looked for source "caldav:<id>" exactly, and CalDAV stores
    # "caldav:<id>:<path>": the removed calendar's busy time kept blocking.
    assert not BusyBlock.objects.exists()
    assert free(kind, at(1, 10))


def test_the_calendars_page_names_each_kind_and_its_trouble(http, person):
    CalendarConnection.objects.create(
        practitioner=person, kind="ics", url="https://cal.example.com/a.ics", name="Feed"
    )
    CalendarConnection.objects.create(
        practitioner=person,
        kind="caldav",
        url="https://caldav.example.com/",
        name="Mijn iCloud",
        caldav_username="me",
        status=CalendarConnection.Status.RECONNECT_NEEDED,
    )
    CalendarConnection.objects.create(
        practitioner=person,
        kind="google",
        name="Google Calendar",
        status=CalendarConnection.Status.RECONNECT_NEEDED,
    )
    page = http.get("/praktijk/agendas/").content.decode()
    entries = dict(
        (name, page.split(f">{name}</h3>", 1)[1].split("</li>", 1)[0])
        for name in ("Feed", "Mijn iCloud", "Google Calendar")
    )
    assert "Abonnement (ICS)" in entries["Feed"]
    # Before: every kind but Google was a "subscription", and every broken one Google's.
    assert "Abonnement (ICS)" not in entries["Mijn iCloud"] and "CalDAV" in entries["Mijn iCloud"]
    assert "Google" not in entries["Mijn iCloud"]
    assert "wachtwoord" in entries["Mijn iCloud"]
    assert "Google geeft geen toegang meer" in entries["Google Calendar"]


def test_a_caldav_calendar_is_connected_from_the_workspace_without_calling_out_in_the_request(
    http,
    person,
    radicale,
    account,  # noqa: F811
    proxy,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    page = http.get("/praktijk/agendas/").content.decode()
    for needed in (
        'name="username"',
        'name="password"',
        "caldav.icloud.com",
        "appleid.apple.com",
        "remote.php/dav",
        "caldav.fastmail.com/dav/",
        "Maak een app-specifiek wachtwoord",  # the how-tos are in Dutch first
        "Instellingen → Beveiliging",
    ):
        assert needed in page, needed
    proxy.requests.clear()
    with django_capture_on_commit_callbacks(execute=False) as later:
        answer = http.post(
            "/praktijk/agendas/caldav/",
            {
                "url": proxy.url + "/",
                "username": account.user,
                "password": account.password,
                "name": "Werkagenda",
            },
        )
    assert answer.status_code == 302
    assert proxy.requests == []  # discovery runs in a task, never in the request
    connection = CalendarConnection.objects.get(practitioner=person)
    assert connection.kind == "caldav" and connection.caldav_password != account.password
    assert not connection.caldav_home_url
    waiting = http.get("/praktijk/agendas/").content.decode()
    assert "worden gezocht" in waiting
    for callback in later:
        callback()  # the discovery task (eager)
    connection.refresh_from_db()
    assert len(connection.available_calendars) == 2
    page = http.get("/praktijk/agendas/").content.decode()
    assert "Werk" in page and "Privé" in page
    # Choose the calendars: bookings into "private", only "work" blocks time.
    private, work = proxy.url + account.private, proxy.url + account.work
    with django_capture_on_commit_callbacks(execute=True):
        chosen = http.post(
            f"/praktijk/agendas/{connection.pk}/wijzigen/",
            {"push_calendar_id": private, "busy_calendar_ids": [work]},
            follow=True,
        )
    assert "opgeslagen" in chosen.content.decode()
    connection.refresh_from_db()
    assert connection.push_calendar_id == private and connection.busy_calendar_ids == [work]
    refused = http.post(
        f"/praktijk/agendas/{connection.pk}/wijzigen/",
        {"push_calendar_id": "https://elsewhere.example/cal/", "busy_calendar_ids": [work]},
        follow=True,
    )
    assert "geen agenda van dit account" in refused.content.decode()
    connection.refresh_from_db()
    assert connection.push_calendar_id == private


def test_a_caldav_address_we_will_not_contact_is_refused_in_plain_words(http, person, settings):
    settings.ICS_ALLOW_PRIVATE_URLS = False
    answer = http.post(
        "/praktijk/agendas/caldav/",
        {"url": "http://10.0.0.8/dav/", "username": "me", "password": "secret"},
        follow=True,
    )
    assert "kan niet worden gebruikt" in answer.content.decode()
    assert not CalendarConnection.objects.exists()


def test_a_plain_http_caldav_address_is_refused_in_dutch(http, person, settings):
    """Basic authentication over http:// would send the password in clear."""
    settings.ICS_ALLOW_PRIVATE_URLS = False
    answer = http.post(
        "/praktijk/agendas/caldav/",
        {"url": "http://93.184.216.34/dav/", "username": "me", "password": "secret"},
        follow=True,
    )
    page = answer.content.decode()
    assert "kan niet worden gebruikt" in page
    assert "Gebruik een https://-adres" in page and "wachtwoord onversleuteld" in page
    assert not CalendarConnection.objects.exists()


def test_a_new_password_for_a_caldav_calendar_clears_reconnect_needed(
    http,
    person,
    radicale,
    account,  # noqa: F811
    proxy,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    connection = connected(person, account, proxy)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.RECONNECT_NEEDED, alerted_at=timezone.now()
    )
    page = http.get("/praktijk/agendas/").content.decode()
    assert f'action="/praktijk/agendas/{connection.pk}/wijzigen/"' in page
    with django_capture_on_commit_callbacks(execute=True):
        http.post(
            f"/praktijk/agendas/{connection.pk}/wijzigen/",
            {
                "push_calendar_id": connection.push_calendar_id,
                "busy_calendar_ids": connection.busy_calendar_ids,
                "password": account.password,
            },
        )
    connection.refresh_from_db()
    assert connection.status == "ok" and connection.alerted_at is None
