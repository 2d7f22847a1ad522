"""The connector registry: every kind has a connector, every outbox item a deliverer, and
what goes through the registry (beat's reads, the admin's delete, the reconnect e-mail)
treats a CalDAV calendar as it treats a Google one."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.models import BusyBlock
from sync import connectors, outbox, tasks
from sync.caldav import service as caldav
from sync.models import CalendarConnection, OutboxItem
from sync.sealing import seal
from tests.factories import utc
from tests.sync.test_caldav import account, at, proxy, vevent  # noqa: F401

pytestmark = pytest.mark.django_db


def test_every_kind_has_a_connector_and_every_item_a_deliverer():
    assert set(connectors.registry) == set(CalendarConnection.Kind.values)
    assert set(outbox.deliverers) == set(OutboxItem.Kind.values)
    for connector in connectors.every():
        assert connector.push_kind is None or connector.push_kind in outbox.deliverers


def test_an_item_nobody_delivers_waits_and_says_so(practice, monkeypatch):
    person, _ = practice
    monkeypatch.delitem(outbox.deliverers, OutboxItem.Kind.MAIL)
    item = outbox.enqueue(kind="mail", practitioner_id=person.pk, now=timezone.now(), message="x")
    assert outbox.deliver_due(now=timezone.now()) == 0
    item.refresh_from_db()
    assert item.done_at is None and "No deliverer" in item.last_error


def test_beat_reads_a_caldav_calendar_when_it_is_due(
    practice,
    radicale,
    account,  # noqa: F811
    proxy,  # noqa: F811
):
    person, _ = practice
    found = caldav.caldav_connection_create(
        practitioner=person, url=proxy.url + "/", username=account.user, password=account.password
    )
    # One event in each calendar: setup lets the first one it finds block time.
    radicale.put(account.work, "a.ics", vevent("a", at(1, 10), at(1, 11)), account.user)
    radicale.put(account.private, "b.ics", vevent("b", at(2, 10), at(2, 11)), account.user)
    tasks.calendars_read_due()  # eager: discovery, then the pull of the default calendar
    found.refresh_from_db()
    assert found.caldav_home_url and found.status == "ok"
    assert BusyBlock.objects.filter(source__startswith=f"caldav:{found.pk}:").count() == 1
    proxy.requests.clear()
    tasks.calendars_read_due()  # read a moment ago: not due
    assert proxy.requests == []


def test_the_admin_removes_a_calendar_with_its_busy_time_and_revokes_a_grant(practice):
    from django.contrib.auth import get_user_model

    person, _ = practice
    kinds = {
        "caldav": CalendarConnection.objects.create(
            practitioner=person, kind="caldav", url="https://dav.example.com/"
        ),
        "google": CalendarConnection.objects.create(
            practitioner=person, kind="google", google_refresh_token=seal("refresh")
        ),
    }
    for kind, connection in kinds.items():
        BusyBlock.objects.create(
            practitioner=person,
            start=utc(2027, 3, 1, 9),
            end=utc(2027, 3, 1, 10),
            source=f"{kind}:{connection.pk}:/cal/",
        )
    root = get_user_model().objects.create_superuser("root", "root@example.nl", "root-password")
    admin = Client()
    admin.force_login(root)
    url = "/admin/sync/calendarconnection/"
    admin.post(f"{url}{kinds['caldav'].pk}/delete/", {"post": "yes"})
    admin.post(
        url, {"action": "delete_selected", "_selected_action": [kinds["google"].pk], "post": "yes"}
    )
    assert not CalendarConnection.objects.exists() and not BusyBlock.objects.exists()
    assert OutboxItem.objects.filter(kind="google_revoke").count() == 1


def test_the_reconnect_email_speaks_of_the_kind_that_broke(practice, mailoutbox):
    from sync import mail

    person, _ = practice
    for kind in ("caldav", "google"):
        connection = CalendarConnection.objects.create(practitioner=person, kind=kind)
        mail.reconnect_needed_queue(connection, now=timezone.now())
    outbox.deliver_due(now=timezone.now() + timedelta(seconds=1))
    caldav_mail, google_mail = mailoutbox
    assert "password" in caldav_mail.subject and "Google" not in caldav_mail.body
    assert "Google" in google_mail.subject and "connect Google Calendar again" in google_mail.body
    html = google_mail.alternatives[0][0]
    assert "Please connect Google Calendar again" in html
