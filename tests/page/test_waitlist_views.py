"""The wait-list pages without a browser: input errors, leaving, links that book nothing."""

from datetime import time, timedelta

import pytest
from django.test import Client

from scheduler.booking import booking_cancel, booking_create
from scheduler.models import Booking, WaitlistEntry
from scheduler.waitlist import waitlist_join
from sync import outbox
from sync.waitlist import waitlist_offers_send
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db

NOW = utc(2027, 2, 22, 7)
MONDAY = local(AMSTERDAM, 2027, 3, 1, 9)


@pytest.fixture
def follow_up(settings):
    settings.THROTTLE_ENABLED = False
    person = factories.practitioner(hours=[(time(9), time(9, 30))])
    return factories.appointment_type(person, duration_minutes=30)


def test_join_page_refuses_bad_dates_and_links_in_names(client: Client, follow_up, frozen_clock):
    url = f"/p/{follow_up.practitioner.slug}/book/{follow_up.pk}/waitlist/"
    assert client.get(url).status_code == 200
    base = {"name": "Sanne", "email": "s@example.nl", "consent": "on"}
    past = client.post(url, {**base, "earliest": "2027-01-01", "latest": "2027-03-20"})
    assert past.status_code == 400 and "Deze datum is al voorbij." in past.content.decode()
    link = client.post(
        url, {**base, "name": "www.spam.nl", "earliest": "2027-03-20", "latest": "2027-03-21"}
    )
    assert link.status_code == 200 and not WaitlistEntry.objects.exists()
    ok = client.post(url, {**base, "earliest": "2027-03-20", "latest": "2027-03-21"})
    assert ok.status_code == 302 and "/waitlist/" in ok["Location"]
    assert WaitlistEntry.objects.get().language == "nl"


def test_leave_by_page_and_unknown_tokens(client: Client, follow_up):
    joined = waitlist_join(
        appointment_type=follow_up,
        client=factories.client(1),
        earliest=MONDAY.date(),
        latest=MONDAY.date(),
        now=NOW,
    )
    url = f"/waitlist/{joined.manage_token}/"
    page = client.get(url)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert client.post(url, {"action": "leave"}).status_code == 302
    assert WaitlistEntry.objects.get().status == "left"
    assert client.get("/waitlist/" + "a" * 43 + "/").status_code == 404
    assert client.get("/waitlist/claim/" + "a" * 43 + "/").status_code == 404


def test_opening_a_claim_link_books_nothing(client: Client, follow_up, mailoutbox):
    taken = booking_create(
        appointment_type=follow_up, start=MONDAY, client=factories.client(0), now=NOW
    ).booking
    waitlist_join(
        appointment_type=follow_up,
        client=factories.client(1),
        earliest=MONDAY.date(),
        latest=MONDAY.date(),
        now=NOW,
    )
    booking_cancel(booking=taken, now=NOW)
    assert waitlist_offers_send(practitioner_id=follow_up.practitioner_id, now=NOW) == 1
    outbox.deliver_due(now=NOW + timedelta(seconds=1))
    offer = next(m for m in mailoutbox if "/waitlist/claim/" in m.body)
    path = "/" + offer.body.split("/waitlist/claim/", 1)[1].split()[0]
    page = client.get("/waitlist/claim" + path)  # a mail scanner follows the link
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert not Booking.objects.filter(status="confirmed").exists()
    assert WaitlistEntry.objects.get().status == "waiting"
