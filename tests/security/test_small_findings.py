"""Smaller findings: deeply nested JSON, escaping in plain-text mail, the invitation's
Content-Type, no-store on the manage page and API, and a favicon."""

from email import message_from_bytes

import pytest
from django.test import Client
from django.utils import timezone

from api.parsers import MAX_DEPTH, nesting_depth
from scheduler.booking import booking_create
from tests import factories
from tests.security.conftest import at, book

pytestmark = pytest.mark.django_db


# --- nested JSON --------------------------------------------------------------------------


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth('{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert nesting_depth('"\\"[[["') == 0
    assert nesting_depth("[" * 5 + "]" * 5) == 5


@pytest.mark.parametrize(
    "path",
    ["/api/v1/bookings/", "/api/v1/auth/token/", "/api/v1/manage/" + "x" * 43 + "/reschedule/"],
)
def test_five_thousand_nested_arrays_are_a_400_not_a_500(anon, path):
    body = "[" * 5000 + "]" * 5000  # about 10 KB
    response = anon.post(path, body, content_type="application/json")
    assert response.status_code in (400, 404), response.content[:200]
    if path == "/api/v1/bookings/":
        assert response.status_code == 400
        assert "nested deeper" in response.json()["detail"]


def test_nesting_inside_a_field_is_refused_and_shallow_bodies_still_validate(
    anon, follow_up, monday
):
    deep = '{"appointment_type": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}"
    assert anon.post("/api/v1/bookings/", deep, content_type="application/json").status_code == 400
    shallow = '{"appointment_type": [[[1]]], "name": "x"}'
    response = anon.post("/api/v1/bookings/", shallow, content_type="application/json")
    assert response.status_code == 400 and "appointment_type" in response.json()
    assert book(anon, follow_up, at(monday, 9)).status_code == 201


# --- e-mail ------------------------------------------------------------------------------


NAME = 'Jan "Jantje" O\'Brien & Co'
NOTES = 'Rug & nek, "zo snel mogelijk" graag; <b>niet</b> \'s ochtends'


@pytest.fixture
def mails(practitioner, monday, mailoutbox, django_capture_on_commit_callbacks):
    practitioner.email = "praktijk@example.nl"
    practitioner.name = 'Praktijk "De Linde" & Zn'
    practitioner.save()
    follow_up = factories.appointment_type(practitioner, name='Vervolg & "kort"')
    with django_capture_on_commit_callbacks(execute=True):
        booking_create(
            appointment_type=follow_up,
            start=at(monday, 9),
            client=factories.client(name=NAME, notes=NOTES),
            now=timezone.now(),
        )
    client_mail, practitioner_mail = mailoutbox
    return client_mail, practitioner_mail


def _parts(mail):
    parsed = message_from_bytes(mail.message().as_bytes())
    return {
        part.get_content_type(): part.get_payload(decode=True).decode(part.get_content_charset())
        for part in parsed.walk()
        if not part.is_multipart() and part.get_filename() is None
    }


def test_plain_text_parts_are_not_html_escaped_and_html_parts_are(mails):
    for mail in mails:
        parts = _parts(mail)
        text, html = parts["text/plain"], parts["text/html"]
        for entity in ("&quot;", "&#x27;", "&amp;", "&lt;"):
            assert entity not in text, (entity, text)
            assert entity not in mail.subject
        assert "&" in text and '"' in text
        assert "<b>niet</b>" not in html
    client_text = _parts(mails[0])["text/plain"]
    assert NAME in client_text and 'Vervolg & "kort"' in client_text
    assert 'Praktijk "De Linde" & Zn' in mails[0].subject
    practitioner_parts = _parts(mails[1])
    assert NOTES in practitioner_parts["text/plain"]
    assert "Jan &quot;Jantje&quot; O&#x27;Brien &amp; Co" in practitioner_parts["text/html"]
    assert "&lt;b&gt;niet&lt;/b&gt;" in practitioner_parts["text/html"]


def test_the_invitation_attachment_names_its_charset_once(mails):
    parsed = message_from_bytes(mails[0].message().as_bytes())
    [attachment] = [p for p in parsed.walk() if p.get_filename() == "invite.ics"]
    content_type = attachment["Content-Type"]
    assert content_type.lower().count("charset") == 1, content_type
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_content_charset() == "utf-8"
    assert "BEGIN:VCALENDAR" in attachment.get_payload(decode=True).decode()


# --- caching and the favicon -------------------------------------------------------------


def test_manage_page_and_manage_api_are_not_stored(anon, follow_up, monday):
    created = book(anon, follow_up, at(monday, 9))
    assert "no-store" in created["Cache-Control"]  # it carries the manage link
    token = created.json()["manage_url"].rstrip("/").rsplit("/", 1)[1]
    for response in (
        anon.get(f"/api/v1/manage/{token}/"),
        anon.get(f"/api/v1/manage/{'y' * 43}/"),
        Client().get(f"/manage/{token}/"),
        Client().get(f"/manage/{token}/reschedule/"),
        anon.post(f"/api/v1/manage/{token}/cancel/"),
    ):
        assert response.status_code in (200, 404)
        assert "no-store" in response["Cache-Control"], response


def test_favicon_is_served_and_linked_from_the_pages(practitioner):
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in icon["Cache-Control"]
    page = Client().get(f"/p/{practitioner.slug}/").content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in page
