"""A hostile CalDAV server: every answer is bounded like an ICS feed, and no answer can stop
the run for other connections or practices.

The server is the real Radicale behind tests/fakes/caldav_server.FaultProxy, which answers
chosen requests itself with gzip bombs, cut-off or entity-laden XML, or a multiget holding
a hundred thousand events. Memory is this process's peak resident set while the sync runs
(the pull happens here, as in the worker and in `synccalendars`); bench/caldav.py prints
the same figures for the full-size cases.
"""
# ruff: noqa: F811 - the CalDAV fixtures are imported from test_caldav and used as arguments

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from scheduler.models import BusyBlock
from sync import connectors, outbound
from sync.caldav import service as caldav
from sync.caldav.client import Dav, DavError
from sync.google.tokens import encrypt_token
from sync.models import CalendarConnection
from tests import factories
from tests.fakes.caldav_server import (
    FaultProxy,
    entity_bomb,
    gzip_bomb,
    multistatus,
)
from tests.memory import peak_growth
from tests.sync.test_caldav import (  # noqa: F401 - fixtures
    account,
    at,
    busy_spans,
    connection,
    proxy,
    pull,
    vevent,
)

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def _bad_xml() -> dict[str, dict]:
    """Answers no XML reader should turn into a crash: what FaultProxy.answer_with takes."""
    good = multistatus(
        "<D:response><D:href>/x/</D:href><D:propstat><D:prop><D:displayname>Werk"
        "</D:displayname></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
        "</D:response>"
    )
    return {
        "cut-off XML": {"body": good[: len(good) // 2]},  # complete HTTP, half a document
        "cut-off HTTP": {"body": good[: len(good) // 2], "cut": True},  # the stream stops
        "entity amplification": {"body": entity_bomb()},
        "not XML": {"body": b"<html><body>Bad gateway</body></html>"},
        "gzip bomb": {"body": gzip_bomb(300), "headers": {"Content-Encoding": "gzip"}},
    }


BAD = _bad_xml()
DUTCH = ("agendaserver", "agenda")  # every reason shown starts in Dutch


# --- bounded answers ------------------------------------------------------------------


def test_a_gzip_bomb_at_discovery_is_cut_after_inflating_and_shown(practice, account, proxy):
    """300 MB of XML from 300 KB of gzip at the first PROPFIND: read no further than the
    byte cap (ICS_MAX_BYTES, counted after decompression)."""
    person, _ = practice
    bomb = gzip_bomb(300)
    assert len(bomb) < 400 * 1024
    found = caldav.caldav_connection_create(
        practitioner=person, url=proxy.url + "/", username=account.user, password=account.password
    )
    proxy.answer_with(bomb, what="propfind", headers={"Content-Encoding": "gzip"})
    with peak_growth() as grew:
        assert not caldav.caldav_connection_setup(connection=found, now=timezone.now())
    found.refresh_from_db()
    assert found.status == "error" and found.available_calendars == []
    assert found.last_error.startswith("De agenda")
    assert "groter dan 20 MB" in found.last_error and "larger than 20 MB" in found.last_error
    assert grew["mb"] < 80, f"grew {grew['mb']:.0f} MB"


def test_a_gzip_bomb_at_the_calendar_listing_is_cut_too(practice, account, connection, proxy):
    proxy.answer_with(gzip_bomb(300), what="propfind", headers={"Content-Encoding": "gzip"})
    CalendarConnection.objects.filter(pk=connection.pk).update(caldav_listed_at=None)
    with peak_growth() as grew:
        caldav.caldav_connection_pull(connection=connection, now=timezone.now(), force=True)
    connection.refresh_from_db()
    assert connection.status == "error"
    assert "groter dan 20 MB" in connection.last_error
    assert "larger than 20 MB" in connection.last_error
    assert grew["mb"] < 80, f"grew {grew['mb']:.0f} MB"


@pytest.mark.parametrize("method", ["PROPFIND", "REPORT", "PUT", "GET", "DELETE"])
def test_every_dav_request_is_capped_after_decompression(account, proxy, settings, method):
    """Whatever the method, and whether or not the caller streams, the inflated size counts."""
    settings.ICS_MAX_BYTES = 1 * MB
    proxy.answer_with(gzip_bomb(50), headers={"Content-Encoding": "gzip"}, status=200)
    with Dav(username=account.user, password=account.password) as dav:
        with pytest.raises(DavError) as refused:
            dav.request(method, proxy.url + account.work, body="x", expect=(200, 207))
        assert "groter dan 1 MB" in refused.value.dutch
        # The session itself (what a library handed it would use) is capped as well.
        with pytest.raises(outbound.TooLarge):
            dav.session.request(method, proxy.url + account.work, data=b"x")


@pytest.mark.parametrize("name", sorted(BAD))
def test_an_unreadable_answer_is_a_dav_error(account, proxy, settings, name):
    settings.ICS_MAX_BYTES = 1 * MB
    proxy.answer_with(**BAD[name])
    dav = Dav(username=account.user, password=account.password)
    with dav, pytest.raises(DavError) as refused:
        dav.propfind(proxy.url + account.work, "<D:displayname/>")
    assert "agendaserver" in refused.value.dutch


def test_a_multiget_of_110000_events_is_read_in_the_limited_child(
    radicale, account, practice, connection, proxy, settings
):
    """14 MB of calendar-data (under the byte cap) that needs more memory than a feed may
    have: refused as the same file subscribed as a feed is, while this process stays small."""
    settings.ICS_MAX_BYTES = 20 * MB
    settings.ICS_TIMEOUT_SECONDS = 30
    settings.ICS_IMPORT_MAX_MB = 300
    settings.ICS_IMPORT_TIMEOUT_SECONDS = 120  # so that memory, not time, is the limit met
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)
    pull(connection)
    radicale.put(account.private, "big.ics", vevent("big", at(1, 10), at(1, 11)), account.user)
    day = at(2, 0)
    events = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:flood-{i}@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{(day + timedelta(minutes=i)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DURATION:PT1M\r\nSUMMARY:Flood {i}\r\nEND:VEVENT\r\n"
        for i in range(110_000)
    )
    data = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n{events}END:VCALENDAR\r\n"
    body = multistatus(
        f"<D:response><D:href>{account.private}big.ics</D:href><D:propstat><D:prop>"
        f'<D:getetag>"big"</D:getetag><C:calendar-data>{data}</C:calendar-data></D:prop>'
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )
    del events, data
    assert 13 * MB < len(body) < 16 * MB
    proxy.answer_with(body, what="multiget")
    with peak_growth() as grew:
        caldav.caldav_connection_pull(connection=connection, now=timezone.now(), force=True)
    connection.refresh_from_db()
    assert connection.status == "error"
    assert "te zwaar" in connection.last_error and "300 MB" in connection.last_error
    assert busy_spans() == [(at(0, 10), at(0, 11))]  # the busy time known before holds
    assert grew["mb"] < 150, f"grew {grew['mb']:.0f} MB"


def test_an_answer_for_objects_not_asked_for_is_ignored(
    radicale, account, practice, connection, proxy
):
    """A multiget answer may only speak of the hrefs it was asked for."""
    radicale.put(account.private, "a.ics", vevent("a", at(0, 10), at(0, 11)), account.user)

    def with_a_stranger(request: bytes) -> bytes:
        stranger = vevent("stranger", at(3, 9), at(3, 17)).replace("\r\n", "\n")
        real = (
            f"<D:response><D:href>{account.private}a.ics</D:href><D:propstat><D:prop>"
            f'<D:getetag>"a"</D:getetag><C:calendar-data>'
            f"{vevent('a', at(0, 10), at(0, 11))}</C:calendar-data></D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        )
        return multistatus(
            real,
            f"<D:response><D:href>{account.private}elsewhere.ics</D:href><D:propstat><D:prop>"
            f"<C:calendar-data>{stranger}</C:calendar-data></D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
        )

    proxy.answer_with(with_a_stranger, what="multiget")
    pull(connection)
    assert busy_spans() == [(at(0, 10), at(0, 11))]


def test_one_cut_off_object_costs_only_itself_when_objects_are_merged():
    """The child joins the objects of a calendar into one; a server's object that never
    ends (cut off) must not swallow the objects after it."""
    from sync.ics.subscribe import calendars_merge, content_lines

    zone = "BEGIN:VTIMEZONE\r\nTZID:Custom\r\nEND:VTIMEZONE\r\n"
    whole = vevent("a", at(0, 10), at(0, 11)).replace("BEGIN:VEVENT", zone + "BEGIN:VEVENT")
    cut = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:cut\r\n"
    merged = content_lines(calendars_merge("\r\n".join([whole, cut, whole.replace(":a", ":c")])))
    assert [line for line in merged if line.startswith("UID:")] == ["UID:a", "UID:c"]
    assert merged.count("BEGIN:VTIMEZONE") == 1  # the same definition once
    assert merged[0] == "BEGIN:VCALENDAR" and merged[-1] == "END:VCALENDAR"


# --- one connection's trouble is its own -----------------------------------------------


@pytest.fixture
def second_practice(radicale, settings):
    """Another practice with its own account, behind its own (well-behaved) proxy."""
    person = factories.practitioner(days=range(7))
    user, password = f"second-{uuid.uuid4().hex[:12]}", "second-pw"
    radicale.add_user(user, password)
    work = radicale.make_calendar("work", "Werk", user)
    radicale.put(work, "b.ics", vevent("b", at(1, 14), at(1, 15)), user)
    front = FaultProxy(radicale.url)
    yield person, user, password, front
    front.close()


@pytest.mark.parametrize("stage", ["discovery", "pull"])
@pytest.mark.parametrize("name", sorted(BAD))
def test_garbage_from_one_server_ends_in_its_error_and_the_run_goes_on(
    practice, account, proxy, second_practice, settings, stage, name
):
    settings.ICS_MAX_BYTES = 4 * MB
    person, _ = practice
    bad = caldav.caldav_connection_create(
        practitioner=person, url=proxy.url + "/", username=account.user, password=account.password
    )
    if stage == "pull":
        assert caldav.caldav_connection_setup(connection=bad, now=timezone.now())
        CalendarConnection.objects.filter(pk=bad.pk).update(caldav_listed_at=None)
    other, user, password, front = second_practice
    good = caldav.caldav_connection_create(
        practitioner=other, url=front.url + "/", username=user, password=password
    )
    assert bad.pk < good.pk  # the broken one comes first in the run
    proxy.answer_with(**BAD[name])  # every request to the first server from now on
    call_command("synccalendars")
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == "error", bad.last_error
    assert bad.last_error.startswith("De agenda") and " / " in bad.last_error
    assert "agendaserver" in bad.last_error
    assert good.status == "ok" and good.last_error == ""
    assert list(BusyBlock.objects.filter(practitioner=other).values_list("start", "end")) == [
        (at(1, 14), at(1, 15))
    ]


def test_a_crash_in_one_connection_does_not_stop_synccalendars(
    practice, account, proxy, second_practice, monkeypatch
):
    """Whatever escapes one connection's sync (a bug, a parser nobody foresaw) is recorded
    on it, and the others in the run are still synced."""
    person, _ = practice
    bad = caldav.caldav_connection_create(
        practitioner=person, url=proxy.url + "/", username=account.user, password=account.password
    )
    other, user, password, front = second_practice
    good = caldav.caldav_connection_create(
        practitioner=other, url=front.url + "/", username=user, password=password
    )
    connector = connectors.of(bad)
    plain = connector.sync_now

    def flaky(*, connection, now):
        if connection.pk == bad.pk:
            raise RecursionError("maximum recursion depth exceeded")
        return plain(connection=connection, now=now)

    monkeypatch.setattr(connector, "sync_now", flaky)
    call_command("synccalendars")
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == "error" and bad.last_error.startswith("De agenda")
    assert good.status == "ok"


# --- credentials only over TLS -----------------------------------------------------------


def test_plain_http_is_refused_before_anything_is_sent(account, proxy, settings):
    settings.ICS_ALLOW_PRIVATE_URLS = False
    with Dav(username=account.user, password=account.password) as dav:
        with pytest.raises(DavError) as refused:
            dav.propfind(proxy.url + account.work, "<D:displayname/>")
        assert "https://" in str(refused.value) and "https://" in refused.value.dutch
        # A library handed the session (python-caldav) is refused the same way.
        with pytest.raises(outbound.OutboundError) as refused:
            dav.session.request("PROPFIND", proxy.url + account.work)
        assert "https://" in str(refused.value)
    assert proxy.requests == []


def test_a_stored_http_connection_is_an_error_without_a_request(practice, proxy, settings):
    person, _ = practice
    stored = CalendarConnection.objects.create(
        practitioner=person,
        kind="caldav",
        url=proxy.url + "/",
        caldav_username="u",
        caldav_password=encrypt_token("p"),
    )
    settings.ICS_ALLOW_PRIVATE_URLS = False
    caldav.caldav_connection_sync_now(connection=stored, now=timezone.now())
    stored.refresh_from_db()
    assert stored.status == "error" and "https://" in stored.last_error
    assert proxy.requests == []
