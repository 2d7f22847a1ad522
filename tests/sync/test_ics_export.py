"""The outgoing feeds, read back by icalendar and by ical.js."""

from datetime import date

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.booking import booking_cancel, booking_create, booking_reschedule
from scheduler.models import Session
from sync.ics.export import FeedWindow, feed_build, feed_tokens, feed_tokens_rotate
from sync.ics.writer import line, text
from tests import factories
from tests.factories import AMSTERDAM, local, utc

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)


def at(hour, minute=0, day=MONDAY):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


@pytest.fixture
def practice(db):
    person = factories.practitioner()
    follow_up = factories.appointment_type(person, duration_minutes=30)
    return person, follow_up


def book(follow_up, start, n=0, **client):
    return booking_create(
        appointment_type=follow_up, start=start, client=factories.client(n, **client), now=NOW
    ).booking


def events(body: str):
    return icalendar.Calendar.from_ical(body).walk("VEVENT")


def test_bookings_feed_has_one_event_per_session_with_details(practice, ical_js):
    person, follow_up = practice
    series = factories.intake_series(person)
    book(follow_up, at(10), 1, notes="Rug; nek, schouder\\links\nsinds maart")
    book(series, at(9, day=date(2027, 3, 2)), 2)
    token = feed_tokens(person)["bookings"]
    body = feed_build(token=token, window=FeedWindow.at(NOW), admin_url=lambda pk: f"http://x/{pk}")
    parsed = events(body)
    assert len(parsed) == 4
    first = parsed[0]
    assert first["DTSTART"].dt == utc(2027, 3, 1, 9) and first["DTEND"].dt == utc(2027, 3, 1, 9, 30)
    assert "Client 1" in str(first["SUMMARY"])
    description = str(first["DESCRIPTION"])
    assert "Rug; nek, schouder\\links\nsinds maart" in description
    assert "+31 6 1234 5678" in description and "http://x/" in description
    assert str(first["STATUS"]) == "CONFIRMED" and first["SEQUENCE"] == 0
    assert body.startswith("BEGIN:VCALENDAR\r\n") and "METHOD" not in body
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["REFRESH-INTERVAL"].to_ical().decode()) == "PT15M"
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT15M"
    assert str(calendar["X-WR-CALNAME"]) == person.name
    js = ical_js(body)
    assert js["method"] is None and js["calendar"]["x-wr-calname"] == person.name
    assert [(e["uid"], e["start"], e["end"]) for e in js["events"]] == [
        (
            str(e["UID"]),
            e["DTSTART"].dt.isoformat().replace("+00:00", ".000Z"),
            e["DTEND"].dt.isoformat().replace("+00:00", ".000Z"),
        )
        for e in parsed
    ]
    assert js["events"][0]["description"] == description


def test_busy_feed_carries_no_personal_data(practice, ical_js):
    person, follow_up = practice
    book(
        follow_up,
        at(10),
        1,
        name="Geheime Naam",
        email="geheim@example.nl",
        phone="0612345678",
        notes="prive notitie",
    )
    body = feed_build(token=feed_tokens(person)["busy"], window=FeedWindow.at(NOW))
    for secret in ("Geheime", "geheim@example.nl", "0612345678", "prive", "Client"):
        assert secret not in body
    [event] = events(body)
    assert str(event["SUMMARY"]) == "Bezet / Busy"
    assert ical_js(body)["events"][0]["start"] == "2027-03-01T09:00:00.000Z"


def test_uid_stays_and_sequence_grows_on_every_change(practice):
    person, follow_up = practice
    booking = book(follow_up, at(10))
    token = feed_tokens(person)["bookings"]
    [before] = events(feed_build(token=token, window=FeedWindow.at(NOW)))
    booking_reschedule(booking=booking, start=at(14), now=NOW)
    [moved] = events(feed_build(token=token, window=FeedWindow.at(NOW)))
    booking_cancel(booking=booking, now=NOW)
    [cancelled] = events(feed_build(token=token, window=FeedWindow.at(NOW)))
    assert before["UID"] == moved["UID"] == cancelled["UID"]
    assert (before["SEQUENCE"], moved["SEQUENCE"], cancelled["SEQUENCE"]) == (0, 1, 2)
    assert moved["DTSTART"].dt == utc(2027, 3, 1, 13)
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled["LAST-MODIFIED"].dt == Session.objects.get().updated_at


def test_window_keeps_30_days_of_past_and_drops_old_cancellations(practice):
    person, follow_up = practice
    kept = book(follow_up, at(10))
    gone = book(follow_up, at(11), 2)
    booking_cancel(booking=gone, now=NOW)
    token = feed_tokens(person)["bookings"]
    window_soon = FeedWindow.at(utc(2027, 3, 20))
    assert len(events(feed_build(token=token, window=window_soon))) == 2
    window_later = FeedWindow.at(utc(2027, 3, 25))  # the cancellation is over 30 days old
    [only] = events(feed_build(token=token, window=window_later))
    assert only["UID"].endswith(f"-{kept.sessions.get().pk}@bsr-scheduler")
    assert events(feed_build(token=token, window=FeedWindow.at(utc(2027, 4, 5)))) == []


def test_feed_is_built_with_one_query(practice, django_assert_max_num_queries):
    person, follow_up = practice
    for hour in (9, 10, 11, 14, 15):
        book(follow_up, at(hour), hour)
    token = feed_tokens(person)["bookings"]
    with django_assert_max_num_queries(1):
        feed_build(token=token, window=FeedWindow.at(NOW))


def test_rotation_replaces_both_secrets(practice):
    person, _ = practice
    old = {k: t.token for k, t in feed_tokens(person).items()}
    new = {k: t.token for k, t in feed_tokens_rotate(person).items()}
    assert set(old) == set(new) == {"bookings", "busy"}
    assert not set(old.values()) & set(new.values())
    assert old["bookings"] != old["busy"]


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=300),
    st.text(
        st.sampled_from("ab:;,\\\r\n\x85\u2028\u2029\x0b\x0c\x1c") | st.characters(), max_size=300
    ),
)
def test_client_text_never_breaks_the_structure(summary, description):
    body = (
        "BEGIN:VCALENDAR\r\n"
        + line("VERSION", "2.0")
        + line("PRODID", "-//t//t//EN")
        + "BEGIN:VEVENT\r\n"
        + line("UID", "u1@t")
        + line("DTSTAMP", "20270301T000000Z")
        + line("DTSTART", "20270301T090000Z")
        + line("DTEND", "20270301T100000Z")
        + line("SUMMARY", text(summary))
        + line("DESCRIPTION", text(description))
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    for physical in body.split("\r\n"):
        assert len(physical.encode()) <= 75
    [event] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert set(event) == {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION"}

    def expected(value):
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        # Line breaks and tabs are text; the other control characters, and the Unicode
        # line separators (NEL, LS, PS), are dropped.
        return "".join(
            c
            for c in value
            if c in "\n\t"
            or not (
                ord(c) < 32 or ord(c) == 127 or c in "\x85\u2028\u2029" or "\ud800" <= c <= "\udfff"
            )
        )

    assert str(event["SUMMARY"]) == expected(summary)
    assert str(event["DESCRIPTION"]) == expected(description)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"])
def test_a_note_cannot_start_a_line_even_in_a_reader_that_splits_on_unicode(
    practice, separator, settings
):
    """Readers that split with str.splitlines() see a line end at U+2028, NEL, VT, FF, FS."""
    from sync.ics.subscribe import ics_busy_blocks

    person, follow_up = practice
    domain = settings.ICS_UID_DOMAIN
    injected = f"{separator}END:VEVENT{separator}BEGIN:VEVENT{separator}UID:evil{separator}"
    injected += f"DTSTART:20270301T120000Z{separator}DTEND:20270301T180000Z{separator}X:"
    book(follow_up, at(10), notes=f"Rug{injected}nek")
    body = feed_build(token=feed_tokens(person)["bookings"], window=FeedWindow.at(NOW))
    assert separator not in body
    physical = body.splitlines()
    assert not any(line.startswith("UID:evil") for line in physical)
    assert sum(line == "BEGIN:VEVENT" for line in physical) == 1
    imported = ics_busy_blocks(
        body.encode(), zone=AMSTERDAM, start=utc(2027, 2, 28), end=utc(2027, 3, 3)
    )
    assert [uid for *_, uid in imported.blocks] == [f"bookings-{Session.objects.get().pk}@{domain}"]
