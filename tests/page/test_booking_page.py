"""The booking page in a real browser (Debian chromium driven by Playwright)."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from django.conf import settings
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_create
from scheduler.models import Booking, Session
from tests.page.conftest import next_monday

pytestmark = pytest.mark.django_db(transaction=True)
AXE = Path(__file__).resolve().parent.parent / "js" / "node_modules" / "axe-core" / "axe.min.js"


def fill_booking_form(page, name="Sanne Jansen"):
    page.get_by_label("Naam").fill(name)
    page.get_by_label("E-mail").fill("sanne@example.nl")
    page.get_by_label("Telefoon").fill("06 1234 5678")
    page.get_by_label("Opmerking (optioneel)").fill("Last van mijn onderrug.")
    page.get_by_label(re.compile("Ik ga ermee akkoord")).check()


def first_time_button(page):
    return page.locator("ul.times a.button").first


def first_changeable_time_button(page, weeks=4):
    """The first time offered that the client may still cancel online afterwards: more than
    CLIENT_CHANGE_NOTICE_HOURS ahead (an hour to spare for the ticking clock). Earlier times
    are bookable too, but the manage page then rightly offers no cancel button. Goes on to
    the next week while the week shown has no such time."""
    cutoff = timezone.now() + timedelta(hours=settings.CLIENT_CHANGE_NOTICE_HOURS + 1)
    for _ in range(weeks):
        for button in page.locator("ul.times a.button").all():
            start = datetime.fromisoformat(button.locator("time").get_attribute("datetime"))
            if start > cutoff:
                return button
        page.get_by_role("link", name="Volgende week").click()
        page.wait_for_load_state()
    raise AssertionError(f"no time after {cutoff} in {weeks} weeks")


def axe_violations(page):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_new_client_books_the_series_in_dutch_and_cancels_through_the_mail_link(
    frozen_day, page_for, practice, mailoutbox
):
    person, series, _ = practice
    page = page_for("nl-NL", "series-in-dutch")
    page.goto("/")
    assert page.get_by_role("heading", level=1).inner_text() == "Wat is Body Stress Release"
    assert page.get_by_role("heading", name="Afspraak maken of heeft u een vraag?").is_visible()
    page.shot("home")
    page.get_by_role("link", name="Afspraak maken").click()
    page.shot("choose-type")
    page.get_by_role("link", name=re.compile("Kies een tijd.*eerste reeks")).click()
    page.shot("week")
    first_changeable_time_button(page).click()
    page.shot("confirm")
    dates = page.locator("ol li time").all_inner_texts()
    assert len(dates) == 3  # all three sessions are shown before confirming
    fill_booking_form(page)
    page.get_by_role("button", name="Afspraak bevestigen").click()
    page.wait_for_url(re.compile(r"/manage/.+\?booked=1"))
    page.shot("booked")
    assert page.get_by_text("Uw afspraak is gemaakt.").is_visible()

    booking = Booking.objects.get()
    assert booking.language == "nl" and booking.sessions.count() == 3
    client_mail = next(m for m in mailoutbox if m.to == ["sanne@example.nl"])
    [(_, invite, mimetype)] = client_mail.attachments
    assert "method=REQUEST" in mimetype
    assert len(icalendar.Calendar.from_ical(invite).walk("VEVENT")) == 3
    link = re.search(r"http://\S+/manage/\S+/", client_mail.body).group(0)

    first_start = booking.sessions.order_by("position").first().start
    first_day = first_start.astimezone(person.zone).date()
    week_url = f"/p/{person.slug}/book/{series.pk}/?week={first_day:%Y-%m-%d}"
    page.goto(week_url)
    offered = page.locator("ul.times time").evaluate_all("els => els.map(e => e.dateTime)")
    assert first_start.astimezone(person.zone).isoformat() not in offered

    page.goto(link)
    page.get_by_role("button", name="Afspraak annuleren").click()
    page.wait_for_url(re.compile(r"\?cancelled=1"))
    page.shot("cancelled")
    assert page.get_by_text("Uw afspraak is geannuleerd.").is_visible()
    assert set(Session.objects.values_list("status", flat=True)) == {"cancelled"}
    page.goto(week_url)
    offered = page.locator("ul.times time").evaluate_all("els => els.map(e => e.dateTime)")
    assert first_start.astimezone(person.zone).isoformat() in offered  # free again at once
    cancel_mail = [m for m in mailoutbox if m.to == ["sanne@example.nl"]][-1]
    assert "method=CANCEL" in cancel_mail.attachments[0][2]


def test_english_switch_and_accept_language(page_for, practice):
    page = page_for("nl-NL", "english-switch")
    page.goto("/")
    page.shot("dutch")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "What is Body Stress Release"
    assert page.get_by_role("link", name="Book an appointment").is_visible()
    page.shot("english")
    english = page_for("en-GB", "accept-language")
    english.goto("/")
    assert english.get_by_role(
        "heading", name="Book an appointment or do you have a question?"
    ).is_visible()


def test_slot_taken_between_viewing_and_confirming_offers_alternatives(
    frozen_day, page_for, practice
):
    person, _, follow_up = practice
    page = page_for("nl-NL", "slot-taken")
    page.goto(f"/p/{person.slug}/book/{follow_up.pk}/?week={next_monday():%Y-%m-%d}")
    button = first_time_button(page)
    taken_at = button.locator("time").get_attribute("datetime")
    button.click()
    fill_booking_form(page)
    # Someone else takes the same time while this client is typing.
    booking_create(
        appointment_type=follow_up,
        start=datetime.fromisoformat(taken_at),
        client=ClientDetails(name="Ander", email="ander@example.nl"),
        now=timezone.now(),
    )
    page.get_by_role("button", name="Afspraak bevestigen").click()
    page.shot("taken")
    assert (
        page.get_by_role("alert")
        .get_by_text("Helaas, die tijd is net door iemand anders gekozen.")
        .is_visible()
    )
    alternatives = page.get_by_role("alert").locator("time").all_inner_texts()
    assert alternatives and all(re.fullmatch(r"\d\d:\d\d", t) for t in alternatives)
    assert Booking.objects.count() == 1


def test_keyboard_only_booking(frozen_day, page_for, practice):
    person, _, _ = practice
    page = page_for("nl-NL", "keyboard")
    page.goto(f"/p/{person.slug}/")

    def tab_to(predicate, limit=120):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(predicate):
                return
        raise AssertionError(f"focus never reached: {predicate}")

    tab_to("() => document.activeElement.textContent.trim() === 'Afspraak maken'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/book/$"))
    tab_to("() => document.activeElement.textContent.includes('Vervolgbehandeling')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/book/\d+/"))
    tab_to("() => document.activeElement.closest('ul.times') !== null")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/confirm/"))
    tab_to("() => document.activeElement.name === 'name'")
    page.keyboard.type("Kees Toetsenbord")
    page.keyboard.press("Tab")
    page.keyboard.type("kees@example.nl")
    tab_to("() => document.activeElement.name === 'consent'")
    page.keyboard.press("Space")
    tab_to("() => document.activeElement.type === 'submit'")
    page.shot("before-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?booked=1"))
    assert Booking.objects.get().client_name == "Kees Toetsenbord"


def test_pages_have_no_serious_accessibility_violations(frozen_day, page_for, practice):
    person, series, follow_up = practice
    page = page_for("nl-NL", "axe")
    booking_token = booking_create(
        appointment_type=follow_up,
        start=_first_slot(follow_up),
        client=ClientDetails(name="Axe", email="axe@example.nl"),
        now=timezone.now(),
    ).manage_token
    paths = [
        "/",
        f"/p/{person.slug}/book/",
        f"/p/{person.slug}/book/{series.pk}/",
        f"/p/{person.slug}/question/",
        f"/manage/{booking_token}/",
    ]
    page.goto(f"/p/{person.slug}/book/{follow_up.pk}/")
    first_time_button(page).click()
    paths.append(page.url)
    for path in paths:
        page.goto(path)
        assert axe_violations(page) == [], path


def test_question_form_is_sent_and_stored(page_for, practice, mailoutbox):
    person, _, _ = practice
    page = page_for("nl-NL", "question")
    page.goto(f"/p/{person.slug}/")
    page.get_by_role("link", name="Stel een vraag").click()
    page.get_by_label("Naam").fill("Els")
    page.get_by_label("E-mail").fill("els@example.nl")
    page.get_by_label("Uw vraag").fill("Helpt BSR ook bij hoofdpijn?")
    page.get_by_role("button", name="Versturen").click()
    page.shot("sent")
    assert page.get_by_role("status").get_by_text("Dank u wel").is_visible()
    assert person.questions.get().emailed_at is not None
    assert any("hoofdpijn" in m.body for m in mailoutbox)


def _first_slot(appointment_type):
    from scheduler.selectors import slot_list

    start = next_monday()
    return slot_list(
        appointment_type=appointment_type, first_day=start, last_day=start, now=timezone.now()
    )[0].start
