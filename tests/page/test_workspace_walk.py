"""The practitioner's workspace in a real browser (Debian chromium), keyboard only.

The practitioner logs in, sets hours with a lunch break, adds a holiday week, creates a
type with a series, takes a phone booking, moves it, cancels it with a message (the
client's e-mail arrives), connects an ICS feed and sees its busy time; in Dutch and
English, at 1280 and 360 px wide, axe-core finding nothing serious or critical."""

import re
from datetime import time, timedelta

import pytest

from scheduler.booking import booking_create
from scheduler.models import Booking, DateOverride, Question, WeeklyRule
from scheduler.selectors import slot_list
from tests import factories
from tests.page.conftest import ARTIFACTS
from tests.page.test_booking_page import axe_violations
from tests.sync.conftest import FeedServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PASSWORD = "a-long-test-password"

FEED = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:family-1@example\r\nDTSTAMP:20270301T000000Z\r\n"
    b"DTSTART:20270318T130000Z\r\nDTEND:20270318T140000Z\r\nSUMMARY:Tandarts\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def feed(settings):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.ICS_TIMEOUT_SECONDS = 2
    server = FeedServer()
    server.body = FEED
    yield server
    server.close()


@pytest.fixture
def open_page(browser, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.THROTTLE_ENABLED = False
    contexts = []

    def make(name, *, locale="nl-NL", width=1280):
        context = browser.new_context(
            locale=locale,
            timezone_id="Europe/Amsterdam",
            viewport={"width": width, "height": 900},
            base_url=live_server.url,
        )
        contexts.append(context)
        page = context.new_page()
        folder = ARTIFACTS / name
        folder.mkdir(parents=True, exist_ok=True)
        steps = iter(range(1, 100))

        def shot(step):
            page.screenshot(path=str(folder / f"{next(steps):02d}-{step}.png"), full_page=True)

        page.shot = shot
        return page

    yield make
    for context in contexts:
        context.close()


def press(locator):
    """Activate a link or button from the keyboard, and wait for the page it opens."""
    locator.focus()
    with locator.page.expect_navigation():
        locator.page.keyboard.press("Enter")


def check_page(page, step):
    """No sideways scrolling, no serious or critical axe finding; a screenshot."""
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), step
    found = axe_violations(page)
    assert found == [], (step, found)
    page.shot(step)


def log_in(page, person):
    page.goto("/praktijk/")
    # The username field has the focus: type, Tab, type, Enter.
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type(person.user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(url=re.compile(r"/praktijk/$")):
        page.keyboard.press("Enter")


@pytest.fixture
def person(transactional_db):
    person = factories.practitioner(hours=[(time(9), time(17))], days=range(5))
    person.name, person.email = "Praktijk De Linde", "praktijk@example.nl"
    person.save()
    return person


def test_practitioner_walks_the_workspace_in_dutch_by_keyboard(
    frozen_clock, open_page, person, feed, mailoutbox
):
    page = open_page("workspace-nl-1280")
    log_in(page, person)
    check_page(page, "agenda")

    # Hours with a lunch break; an overlap first, answered in Dutch.
    press(page.get_by_role("link", name="Werktijden", exact=True))
    page.locator("#id_d0-0-end").fill("12:30")
    page.locator("#id_d0-1-start").fill("12:00")
    page.locator("#id_d0-1-end").fill("17:00")
    press(page.get_by_role("button", name="Werktijden opslaan"))
    assert page.get_by_text("Maandag: de tijden overlappen").is_visible()
    check_page(page, "hours-overlap")
    page.locator("#id_d0-1-start").fill("13:30")
    press(page.get_by_role("button", name="Werktijden opslaan"))
    assert page.get_by_text("Uw werktijden zijn opgeslagen.").is_visible()
    assert list(
        WeeklyRule.objects.filter(practitioner=person, weekday=0).values_list("start", "end")
    ) == [(time(9), time(12, 30)), (time(13, 30), time(17))]
    check_page(page, "hours-saved")

    # A holiday week.
    press(page.get_by_role("link", name="Vrije dagen"))
    page.get_by_label("Eerste dag").fill("2027-04-05")
    page.get_by_label("Laatste dag (leeg voor één dag)").fill("2027-04-09")
    press(page.get_by_role("button", name="Opslaan"))
    assert DateOverride.objects.filter(practitioner=person).count() == 5
    check_page(page, "days-off")

    # A type with a series.
    press(page.get_by_role("link", name="Soorten afspraken"))
    press(page.get_by_role("link", name="Nieuwe soort afspraak"))
    page.get_by_label("Naam", exact=True).fill("Eerste reeks")
    page.get_by_label("Duur (minuten)").fill("60")
    page.get_by_label("Minimaal van tevoren boeken (uren)").fill("48")
    page.get_by_label("Vooruit te boeken (weken)").fill("1")
    for n, (day, minutes) in enumerate([(1, 60), (4, 30)]):
        page.locator(f"#id_series-{n}-day").fill(str(day))
        page.locator(f"#id_series-{n}-duration_minutes").fill(str(minutes))
    check_page(page, "type-form")
    press(page.get_by_role("button", name="Opslaan"))
    kind = person.appointment_types.get(name="Eerste reeks")
    assert kind.series == [
        {"offset_days": 0, "duration_minutes": 60},
        {"offset_days": 3, "duration_minutes": 30},
    ]

    # A phone booking on Friday at 09:00 (day 4 is Monday): 47 hours ahead, inside the
    # 48-hour notice, which the practitioner waives.
    press(page.get_by_role("link", name="Agenda", exact=True))
    press(page.get_by_role("link", name="Afspraak maken voor een cliënt"))
    press(page.get_by_role("link", name="Eerste reeks"))
    check_page(page, "picker")
    first = page.locator("ul.times a.button").first
    assert "2027-03-19T09:00" in first.locator("time").get_attribute("datetime")
    press(first)
    page.get_by_label("Naam", exact=True).fill("Sanne Jansen")
    page.get_by_label("E-mail", exact=True).fill("sanne@example.nl")
    page.get_by_label("Telefoon").fill("06 1234 5678")
    page.get_by_label("Notities").fill("Belde over rugpijn.")
    check_page(page, "phone-booking")
    press(page.get_by_role("button", name="Afspraak bevestigen"))
    booking = Booking.objects.get(client_name="Sanne Jansen")
    assert booking.sessions.count() == 2
    assert page.get_by_text("Geboekt voor Sanne Jansen").is_visible()
    check_page(page, "booking")

    # Move it to the next free time.
    press(page.get_by_role("link", name="Verzetten"))
    press(page.locator("ul.times button").nth(1))
    assert page.get_by_text("De afspraak is verzet").is_visible()
    first_start = booking.sessions.order_by("position").first().start
    assert first_start.astimezone(person.zone).hour == 10

    # Cancel it with a message; the client's e-mail carries it.
    page.get_by_label("Bericht aan de cliënt (optioneel)").fill("Ik ben helaas ziek.")
    press(page.get_by_role("button", name="Afspraak annuleren"))
    assert page.get_by_text("is geannuleerd").first.is_visible()
    cancel = [m for m in mailoutbox if m.to == ["sanne@example.nl"]][-1]
    assert "Ik ben helaas ziek." in cancel.body
    assert "method=CANCEL" in cancel.attachments[0][2]
    check_page(page, "cancelled")

    # An ICS feed: its busy time shows in the week.
    press(page.get_by_role("link", name="Agenda's"))
    page.get_by_label("Adres van de agenda (https:// of webcal://)").fill(feed.url("calendar.ics"))
    page.get_by_label("Naam (optioneel)").fill("Gezin")
    press(page.get_by_role("button", name="Agenda toevoegen"))
    assert page.get_by_text("Agenda toegevoegd").is_visible()
    page.reload()
    assert page.get_by_text("Werkt.").is_visible()
    check_page(page, "calendars")
    press(page.get_by_role("link", name="Agenda", exact=True))
    assert page.get_by_text("14:00–15:00 bezet (Gezin)").is_visible()
    check_page(page, "agenda-busy")


def _seed_everything(person):
    kind = factories.intake_series(person, name="Eerste reeks")
    from django.utils import timezone

    day = timezone.localdate(timezone=person.zone) + timedelta(days=1)
    slot = slot_list(
        appointment_type=kind,
        first_day=day,
        last_day=day + timedelta(days=6),
        now=timezone.now(),
    )[0]
    booking = booking_create(
        appointment_type=kind,
        start=slot.start,
        client=factories.client(7),
        now=timezone.now(),
    ).booking
    question = Question.objects.create(
        practitioner=person,
        name="Els de Boer",
        email="els@example.nl",
        message="Helpt BSR ook bij een stijve nek na lang beeldschermwerk?",
        created_at=timezone.now(),
    )
    return kind, booking, question


@pytest.mark.parametrize(
    ("locale", "width", "nav"),
    [("nl-NL", 360, "Werktijden"), ("en-GB", 360, "Hours"), ("en-GB", 1280, "Hours")],
)
def test_every_page_fits_and_passes_axe(frozen_clock, open_page, person, locale, width, nav):
    kind, booking, question = _seed_everything(person)
    page = open_page(f"workspace-{locale}-{width}", locale=locale, width=width)
    log_in(page, person)
    assert page.get_by_role("link", name=nav, exact=True).is_visible()
    for step, url in [
        ("agenda", "/praktijk/"),
        ("day", "/praktijk/?span=day"),
        ("booking", f"/praktijk/afspraken/{booking.pk}/"),
        ("move", f"/praktijk/afspraken/{booking.pk}/verzetten/"),
        ("choose", "/praktijk/afspraak-maken/"),
        ("hours", "/praktijk/uren/"),
        ("days-off", "/praktijk/vrije-dagen/"),
        ("types", "/praktijk/soorten/"),
        ("type", f"/praktijk/soorten/{kind.pk}/"),
        ("calendars", "/praktijk/agendas/"),
        ("questions", "/praktijk/vragen/"),
        ("question", f"/praktijk/vragen/{question.pk}/"),
    ]:
        page.goto(url)
        check_page(page, step)
