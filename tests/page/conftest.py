import os
from datetime import time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests import factories

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per module, closed after it: Playwright's event loop must not outlive
    the browser tests (Django refuses sync calls beside a running loop)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the page tests (apt-get install chromium)")
    # Playwright's sync API runs an event loop; Django must allow ORM calls beside it, for
    # these tests only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_for(browser, live_server, settings):
    """A new browser page in a given language, its screenshots saved under test-artifacts."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.THROTTLE_ENABLED = False
    contexts = []

    def open_page(locale="nl-NL", name="page"):
        context = browser.new_context(
            locale=locale,
            timezone_id="Europe/Amsterdam",
            viewport={"width": 390, "height": 844},
            base_url=live_server.url,
        )
        contexts.append(context)
        page = context.new_page()
        folder = ARTIFACTS / name
        folder.mkdir(parents=True, exist_ok=True)
        steps = iter(range(1, 100))

        def shot(step: str):
            page.screenshot(path=str(folder / f"{next(steps):02d}-{step}.png"), full_page=True)

        page.shot = shot
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def practice(transactional_db):
    """The demo shape: Mon-Fri hours, a 60/30/30 series on days 0/3/10 and a follow-up.

    A test that reads the calendar with it also asks for `frozen_day`."""
    person = factories.practitioner(
        hours=[(time(9), time(12, 30)), (time(13, 30), time(17))], days=range(5)
    )
    person.name, person.email = "Praktijk De Linde", "praktijk@example.nl"
    person.save()
    series = factories.intake_series(
        person, name="Nieuwe cliënt: eerste reeks", slot_step_minutes=60
    )
    follow_up = factories.appointment_type(person, name="Vervolgbehandeling", duration_minutes=30)
    return person, series, follow_up


def next_monday():
    """The first Monday after today, in Amsterdam (1 to 7 days ahead)."""
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    return today + timedelta(days=7 - today.weekday())
