"""The wait list in a real browser: join in Dutch, get the offer by e-mail, claim it."""

import re
from datetime import datetime

import pytest
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_cancel, booking_create
from scheduler.models import WaitlistEntry
from scheduler.waitlist import waitlist_join
from tests.factories import AMSTERDAM
from tests.page.test_booking_page import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)

MONDAY = datetime(2027, 3, 22, 10, 0, tzinfo=AMSTERDAM)  # the frozen clock's next Monday


def claim_link(mailoutbox, address):
    offer = next(m for m in mailoutbox if m.to == [address] and "vrijgekomen" in m.subject)
    return re.search(r"http://\S+/waitlist/claim/\S+/", offer.body).group(0)


def test_join_in_dutch_receive_the_offer_and_claim_it(frozen_clock, page_for, practice, mailoutbox):
    person, _, follow_up = practice
    other = booking_create(
        appointment_type=follow_up,
        start=MONDAY,
        client=ClientDetails(name="Ander", email="ander@example.nl"),
        now=timezone.now(),
    ).booking
    page = page_for("nl-NL", "waitlist-in-dutch")
    page.goto(f"/p/{person.slug}/book/{follow_up.pk}/?week=2027-03-22")
    page.get_by_role("link", name="Zet mij op de wachtlijst").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Zet mij op de wachtlijst"
    assert axe_violations(page) == []
    page.get_by_label("Vanaf").fill("2027-03-22")
    page.get_by_label("Tot en met").fill("2027-03-22")
    page.get_by_label("Naam").fill("Sanne Jansen")
    page.get_by_label("E-mail").fill("sanne@example.nl")
    page.get_by_label(re.compile("Ik ga ermee akkoord")).check()
    page.shot("join")
    page.get_by_role("button", name="Zet mij op de wachtlijst").click()
    page.wait_for_url(re.compile(r"/waitlist/.+\?joined=1"))
    page.shot("joined")
    assert page.get_by_text("U staat op de wachtlijst.").is_visible()
    assert axe_violations(page) == []
    joined_mail = next(m for m in mailoutbox if m.to == ["sanne@example.nl"])
    assert "U staat op de wachtlijst" in joined_mail.subject
    assert "/waitlist/" in joined_mail.body
    # A second client waits for the same day (joined later: offered in the same wave).
    waitlist_join(
        appointment_type=follow_up,
        client=ClientDetails(name="Tom de Boer", email="tom@example.nl"),
        earliest=MONDAY.date(),
        latest=MONDAY.date(),
        now=timezone.now(),
    )

    # The other client cancels: the freed 10:00 goes out to both by e-mail.
    booking_cancel(booking=other, now=timezone.now())
    # Tom opens his link too, and hesitates.
    late = page_for("nl-NL", "waitlist-taken")
    late.goto(claim_link(mailoutbox, "tom@example.nl"))
    assert late.get_by_role("button", name="Deze tijd boeken").is_visible()
    page.goto(claim_link(mailoutbox, "sanne@example.nl"))
    page.shot("offer")
    assert page.get_by_role("heading", level=1).inner_text() == "Er is een tijd vrijgekomen"
    assert page.locator("main time").get_attribute("datetime") == MONDAY.isoformat()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Deze tijd boeken").click()
    page.wait_for_url(re.compile(r"/manage/.+\?booked=1"))
    page.shot("claimed")
    assert page.get_by_text("Uw afspraak is gemaakt.").is_visible()
    sanne = WaitlistEntry.objects.get(email="sanne@example.nl")
    assert sanne.status == "claimed" and sanne.booking.sessions.get().start == MONDAY

    # Tom claims second: the time is gone, nearby free times are shown, he keeps waiting.
    late.get_by_role("button", name="Deze tijd boeken").click()
    late.wait_for_load_state()
    late.shot("taken")
    assert late.get_by_role("heading", name="Helaas, deze tijd is net weg").is_visible()
    assert late.locator(".alert ul.times a.button").count() == 3  # nearest free times
    assert axe_violations(late) == []
    assert WaitlistEntry.objects.get(email="tom@example.nl").status == "waiting"
