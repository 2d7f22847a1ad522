"""A windowed intake on the booking page, in a real browser: keyboard only, in Dutch."""

import re
from datetime import date, datetime

import icalendar
import pytest

from scheduler.models import Booking
from tests import factories
from tests.page.test_booking_page import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)

# The clock is frozen at Wednesday 2027-03-17 10:00 (frozen_clock). The Wednesday intake
# below has its third session after the spring DST switch of Sunday 2027-03-28.
WEDNESDAY = date(2027, 3, 24)


@pytest.fixture
def windowed(practice):
    person, _, _ = practice
    return factories.windowed_intake(
        person, name="Nieuwe cliënt: eerste reeks met termijnen", slot_step_minutes=60
    )


def test_wednesday_intake_booked_by_keyboard_with_a_follow_up_changed(
    frozen_clock, page_for, practice, windowed, mailoutbox
):
    person, _, _ = practice
    page = page_for("nl-NL", "series-windows")
    page.goto(f"/p/{person.slug}/book/{windowed.pk}/?week=2027-03-22")
    page.shot("week")
    assert "volgende stap wijzigen" in page.locator(".notice").first.inner_text()

    def tab_to(predicate, limit=200):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(predicate):
                return
        raise AssertionError(f"focus never reached: {predicate}")

    tab_to(
        "() => document.activeElement.closest('ul.times') !== null && "
        f"document.activeElement.querySelector('time').dateTime.startsWith('{WEDNESDAY}')"
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/confirm/"))
    page.shot("confirm")
    proposed = page.locator("ol li time").evaluate_all("els => els.map(e => e.dateTime)")
    assert len(proposed) == 3 and proposed[0].startswith(str(WEDNESDAY))
    # Wednesday -> Friday (Saturday is closed) -> Friday of the week after.
    assert proposed[1].startswith("2027-03-26") and proposed[2].startswith("2027-04-02")
    third = page.get_by_label("Behandeling 3")
    assert third.evaluate("e => e.tagName") == "SELECT"
    assert axe_violations(page) == []

    tab_to("() => document.activeElement.name === 'session_2'")
    before = third.input_value()
    page.keyboard.press("ArrowDown")  # the next free time in the window
    chosen = third.input_value()
    assert chosen != before
    tab_to("() => document.activeElement.name === 'name'")
    page.keyboard.type("Sanne Toetsenbord")
    page.keyboard.press("Tab")
    page.keyboard.type("sanne@example.nl")
    tab_to("() => document.activeElement.name === 'consent'")
    page.keyboard.press("Space")
    tab_to("() => document.activeElement.type === 'submit'")
    page.shot("before-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?booked=1"))
    page.shot("booked")

    booking = Booking.objects.get()
    sessions = list(booking.sessions.order_by("position"))
    assert int(sessions[2].start.timestamp()) == int(chosen)
    assert sessions[1].start == datetime.fromisoformat(proposed[1])
    shown = page.locator("ol li time").evaluate_all("els => els.map(e => e.dateTime)")
    assert [datetime.fromisoformat(t) for t in shown] == [s.start for s in sessions]

    mail = next(m for m in mailoutbox if m.to == ["sanne@example.nl"])
    [(_, invite, _)] = mail.attachments
    starts = sorted(
        e.decoded("DTSTART") for e in icalendar.Calendar.from_ical(invite).walk("VEVENT")
    )
    assert starts == [s.start for s in sessions]  # the invitation has the chosen dates

    # The manage page moves one follow-up inside its window.
    assert axe_violations(page) == []
    second = page.get_by_label("Behandeling 2")
    values = second.locator("option").evaluate_all("els => els.map(e => e.value)")
    target = next(v for v in values if v != second.input_value())
    second.select_option(target)
    page.get_by_role("button", name="Vervolgbehandelingen opslaan").click()
    page.wait_for_url(re.compile(r"\?moved=1"))
    page.shot("moved")
    moved = list(booking.sessions.order_by("position"))
    assert int(moved[1].start.timestamp()) == int(target)
    assert moved[0].start == sessions[0].start and moved[2].start == sessions[2].start
    update = [m for m in mailoutbox if m.to == ["sanne@example.nl"]][-1]
    invite = update.attachments[0][1]
    starts = sorted(
        e.decoded("DTSTART") for e in icalendar.Calendar.from_ical(invite).walk("VEVENT")
    )
    assert starts == [s.start for s in moved]
