"""A CalDAV calendar connected from the workspace in a real browser (Debian chromium),
keyboard and labels only, against Radicale: the form with its how-tos, the calendars found
in the background, the choice of calendars, busy time in the week, and removal; axe-core
finding nothing serious or critical at 1280 and 360 px."""

import pytest

from scheduler.models import BusyBlock
from sync.models import CalendarConnection
from tests.page.test_workspace_walk import check_page, log_in, open_page, person, press  # noqa: F401
from tests.sync.test_caldav import account, at, proxy, vevent  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1280, 360])
def test_practitioner_connects_chooses_and_removes_a_caldav_calendar(
    open_page,  # noqa: F811
    person,  # noqa: F811
    radicale,
    account,  # noqa: F811
    proxy,  # noqa: F811
    width,
):
    radicale.put(account.private, "a.ics", vevent("a", at(1, 10), at(1, 11)), account.user)
    page = open_page(f"workspace-caldav-nl-{width}", width=width)
    log_in(page, person)
    press(page.get_by_role("link", name="Agenda's"))
    page.get_by_text("Nextcloud", exact=True).click()  # a how-to opens
    assert page.get_by_text("remote.php/dav").is_visible()
    page.get_by_label("Adres van de server (https://…)").fill(proxy.url + "/")
    page.get_by_label("Gebruikersnaam (vaak uw e-mailadres)").fill(account.user)
    page.get_by_label("App-wachtwoord").fill(account.password)
    page.get_by_label("Naam voor deze agenda (optioneel)").fill("Werkagenda")
    press(page.get_by_role("button", name="Agenda koppelen"))
    assert page.get_by_text("Agenda toegevoegd").is_visible()
    check_page(page, "caldav-added")
    # The calendars were found after the request (tasks run at once in tests).
    connection = CalendarConnection.objects.get(practitioner=person)
    assert connection.kind == "caldav" and len(connection.available_calendars) == 2
    page.get_by_text("Agenda's en wachtwoord").click()
    page.get_by_label("Afspraken komen in").select_option(label="Werk")
    page.get_by_label("Privé").check()
    page.get_by_label("Werk", exact=True).uncheck()
    check_page(page, "caldav-choose")
    press(page.get_by_role("button", name="Opslaan"))
    assert page.get_by_text("opgeslagen").is_visible()
    connection.refresh_from_db()
    assert connection.busy_calendar_ids == [proxy.url + account.private]
    assert BusyBlock.objects.filter(start=at(1, 10), end=at(1, 11)).exists()
    page.reload()
    assert page.get_by_text("CalDAV · Werkt.").is_visible()
    check_page(page, "caldav-working")
    press(page.get_by_role("button", name="Verwijderen Werkagenda"))
    assert page.get_by_text("Agenda verwijderd").is_visible()
    assert not BusyBlock.objects.exists()
    check_page(page, "caldav-removed")
