"""E-mails with calendar invitations, read back by icalendar and ical.js."""

from datetime import date

import icalendar
import pytest
from django.test import Client

from scheduler.booking import booking_cancel, booking_create, booking_reschedule
from scheduler.models import Question
from scheduler.questions import question_create
from sync import outbox
from sync.mail import reminders_due
from sync.models import OutboxItem
from sync.tasks import reminders_send
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)


def at(hour, minute=0, day=MONDAY):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


@pytest.fixture
def practice(settings):
    settings.PUBLIC_BASE_URL = "https://praktijk.example"
    person = factories.practitioner()
    person.email = "praktijk@example.nl"
    person.save()
    return person, factories.intake_series(person)


def invite(message):
    [(name, content, mimetype)] = message.attachments
    assert name == "invite.ics"
    return content if isinstance(content, str) else content.decode(), mimetype


def book(series, capture, **client):
    with capture(execute=True):
        return booking_create(
            appointment_type=series, start=at(9), client=factories.client(1, **client), now=NOW
        )


def test_confirmation_carries_an_invitation_and_the_manage_link(
    practice, mailoutbox, django_capture_on_commit_callbacks, ical_js
):
    person, series = practice
    result = book(series, django_capture_on_commit_callbacks)
    client_mail, practitioner_mail = mailoutbox
    assert client_mail.to == ["client1@example.nl"] and practitioner_mail.to == [person.email]
    assert "bevestigd" in client_mail.subject and person.name in client_mail.subject
    assert "maandag 1 maart 2027, 09:00–10:00 (Europe/Amsterdam)" in client_mail.body
    assert f"https://praktijk.example/manage/{result.manage_token}/" in client_mail.body
    html = next(body for body, kind in client_mail.alternatives if kind == "text/html")
    assert "<strong>maandag 1 maart 2027</strong>" in html
    text, mimetype = invite(client_mail)
    assert mimetype.startswith("text/calendar; method=REQUEST")
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["METHOD"]) == "REQUEST"
    events = calendar.walk("VEVENT")
    assert [e["DTSTART"].dt for e in events] == [
        utc(2027, 3, 1, 8),
        utc(2027, 3, 4, 8),
        utc(2027, 3, 11, 8),
    ]
    assert all(e["DTSTART"].to_ical().endswith(b"Z") for e in events)
    assert [e["SEQUENCE"] for e in events] == [0, 0, 0]
    assert "mailto:client1@example.nl" in str(events[0]["ATTENDEE"])
    js = ical_js(text)
    assert js["method"] == "REQUEST"
    assert [e["start"] for e in js["events"]] == [
        "2027-03-01T08:00:00.000Z",
        "2027-03-04T08:00:00.000Z",
        "2027-03-11T08:00:00.000Z",
    ]
    assert [e["uid"] for e in js["events"]] == [str(e["UID"]) for e in events]
    assert "Client 1" in practitioner_mail.body and "0612345678" not in practitioner_mail.body


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\u2029"])
def test_a_client_name_cannot_break_the_invitation(
    practice, mailoutbox, django_capture_on_commit_callbacks, ical_js, separator
):
    """The client's name goes into a parameter (CN): quoted, no line end of any kind."""
    _, series = practice
    name = f'Ann "A^B"{separator}END:VEVENT{separator}BEGIN:VEVENT{separator}UID:evil'
    book(series, django_capture_on_commit_callbacks, name=name)
    text, _ = invite(mailoutbox[0])
    assert separator not in text
    physical = text.splitlines()
    assert sum(line == "BEGIN:VEVENT" for line in physical) == 3  # the series' sessions
    assert not any(line.startswith(("UID:evil", "END:VEVENTBEGIN")) for line in physical)
    events = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert len(events) == 3
    assert events[0]["ATTENDEE"].params["CN"] == name.replace(separator, "")
    assert [e["uid"] for e in ical_js(text)["events"]] == [str(e["UID"]) for e in events]


def test_reschedule_and_cancel_keep_uids_and_raise_sequence(
    practice, mailoutbox, django_capture_on_commit_callbacks, ical_js
):
    _, series = practice
    booking = book(series, django_capture_on_commit_callbacks).booking
    first_uids = [
        str(e["UID"]) for e in icalendar.Calendar.from_ical(invite(mailoutbox[0])[0]).walk("VEVENT")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=at(10), now=NOW)
    moved_text, _ = invite(mailoutbox[2])
    moved = icalendar.Calendar.from_ical(moved_text)
    assert str(moved["METHOD"]) == "REQUEST"
    assert [str(e["UID"]) for e in moved.walk("VEVENT")] == first_uids
    assert [e["SEQUENCE"] for e in moved.walk("VEVENT")] == [1, 1, 1]
    assert moved.walk("VEVENT")[0]["DTSTART"].dt == utc(2027, 3, 1, 9)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, now=NOW)
    cancel_text, mimetype = invite(mailoutbox[4])
    assert "method=CANCEL" in mimetype
    cancelled = icalendar.Calendar.from_ical(cancel_text)
    assert str(cancelled["METHOD"]) == "CANCEL"
    assert [str(e["UID"]) for e in cancelled.walk("VEVENT")] == first_uids
    assert [e["SEQUENCE"] for e in cancelled.walk("VEVENT")] == [2, 2, 2]
    assert {str(e["STATUS"]) for e in cancelled.walk("VEVENT")} == {"CANCELLED"}
    js = ical_js(cancel_text)
    assert js["method"] == "CANCEL" and {e["sequence"] for e in js["events"]} == {2}


def test_english_client_gets_english_mail(practice, mailoutbox, django_capture_on_commit_callbacks):
    _, series = practice
    book(series, django_capture_on_commit_callbacks, language="en")
    client_mail = mailoutbox[0]
    assert "is confirmed" in client_mail.subject
    assert "Monday 1 March 2027, 09:00–10:00 (Europe/Amsterdam)" in client_mail.body


def test_manage_link_in_the_mail_opens_the_booking(
    practice, mailoutbox, django_capture_on_commit_callbacks
):
    _, series = practice
    book(series, django_capture_on_commit_callbacks)
    link = next(line for line in mailoutbox[0].body.splitlines() if "/manage/" in line)
    response = Client().get(link.replace("https://praktijk.example", ""))
    assert response.status_code == 200 and b"Client 1" in response.content


def test_reminder_goes_out_once_the_day_before(
    practice, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    _, series = practice
    book(series, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    day_before = utc(2027, 2, 28, 10)
    assert [s.start for s in reminders_due(now=day_before)] == [utc(2027, 3, 1, 8)]
    monkeypatch.setattr("sync.tasks.timezone.now", lambda: day_before)
    with django_capture_on_commit_callbacks(execute=True):  # delivered after each commit
        reminders_send()
        reminders_send()
    assert len(mailoutbox) == 1
    assert "Herinnering" in mailoutbox[0].subject and "09:00–10:00" in mailoutbox[0].body


def test_question_is_stored_then_mailed_and_retried_if_mail_failed(
    practice, mailoutbox, django_capture_on_commit_callbacks, settings
):
    person, _ = practice
    settings.EMAIL_BACKEND = "tests.sync.test_mail.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        question_create(
            practitioner=person,
            name="Els",
            email="els@example.nl",
            message="Helpt BSR bij\nhoofdpijn?",
            language="nl",
            now=NOW,
        )
    question = Question.objects.get()
    assert question.emailed_at is None  # kept, not lost
    item = OutboxItem.objects.get(question=question)
    assert item.done_at is None and "mail server down" in item.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outbox.deliver_due(now=item.next_attempt_at)  # beat's sweep, once the backoff is over
    question.refresh_from_db()
    assert question.emailed_at is not None
    [sent] = mailoutbox
    assert sent.to == [person.email] and sent.reply_to == ["els@example.nl"]
    assert "hoofdpijn" in sent.body


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server down")
