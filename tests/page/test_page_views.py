"""Page behaviour without a browser: reschedule, the question form's guards, bad input."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_create
from scheduler.models import Booking, Question
from scheduler.selectors import slot_list
from tests.page.conftest import next_monday

pytestmark = pytest.mark.django_db(transaction=True)


def changeable_monday():
    """A Monday 8 to 14 days ahead: its times are well outside the client change window
    (CLIENT_CHANGE_NOTICE_HOURS), which next Monday's are not on a Sunday evening."""
    return next_monday() + timedelta(days=7)


def slots(appointment_type, day):
    return slot_list(
        appointment_type=appointment_type, first_day=day, last_day=day, now=timezone.now()
    )


def test_reschedule_through_the_manage_page(frozen_day, practice):
    _, _, follow_up = practice
    day = changeable_monday()
    first, later = slots(follow_up, day)[0], slots(follow_up, day)[4]
    result = booking_create(
        appointment_type=follow_up,
        start=first.start,
        client=ClientDetails(name="Sanne", email="sanne@example.nl"),
        now=timezone.now(),
    )
    client = Client()
    url = f"/manage/{result.manage_token}/reschedule/"
    week = client.get(url)
    assert week.status_code == 200
    # The booking's own time is offered too: moving by a little is allowed.
    assert f'value="{int(first.start.timestamp())}"' in week.content.decode()
    moved = client.post(url, {"start": int(later.start.timestamp())})
    assert moved.status_code == 302 and moved["Location"].endswith("?moved=1")
    assert Booking.objects.get().sessions.get().start == later.start
    page = client.get(moved["Location"]).content.decode()
    assert "Uw afspraak is verzet." in page


def test_reschedule_to_a_taken_time_shows_alternatives(frozen_day, practice):
    _, _, follow_up = practice
    day = changeable_monday()
    free = slots(follow_up, day)
    mine = booking_create(
        appointment_type=follow_up,
        start=free[0].start,
        client=ClientDetails(name="A", email="a@example.nl"),
        now=timezone.now(),
    )
    booking_create(
        appointment_type=follow_up,
        start=free[3].start,
        client=ClientDetails(name="B", email="b@example.nl"),
        now=timezone.now(),
    )
    response = Client().post(
        f"/manage/{mine.manage_token}/reschedule/", {"start": int(free[3].start.timestamp())}
    )
    assert response.status_code == 409
    assert "Helaas, die tijd is net door iemand anders gekozen." in response.content.decode()
    assert Booking.objects.get(pk=mine.booking.pk).sessions.get().start == free[0].start


def test_question_honeypot_keeps_nothing_and_limit_applies(practice, mailoutbox):
    person, _, _ = practice
    client = Client()
    url = f"/p/{person.slug}/question/"
    body = {"name": "Bot", "email": "bot@example.com", "message": "Buy now", "website": "x"}
    assert client.post(url, body).status_code == 302
    assert not Question.objects.exists() and not mailoutbox
    body["website"] = ""
    for _ in range(5):
        assert client.post(url, body).status_code == 302
    sixth = client.post(url, body)
    assert sixth.status_code == 200 and "meerdere vragen" in sixth.content.decode()
    assert Question.objects.count() == 5


@pytest.mark.parametrize(
    "path",
    [
        "/p/nobody/",
        "/p/{slug}/book/999999/",
        "/manage/" + "x" * 43 + "/",
        "/manage/" + "x" * 43 + "/reschedule/",
    ],
)
def test_unknown_things_are_404s(practice, path):
    person, _, _ = practice
    assert Client().get(path.format(slug=person.slug)).status_code == 404


@pytest.mark.parametrize("start", ["", "abc", "-5", "99999999999999999999", "1.5"])
def test_bad_start_on_the_confirm_page_shows_the_week_again(frozen_day, practice, start):
    person, _, follow_up = practice
    response = Client().get(f"/p/{person.slug}/book/{follow_up.pk}/confirm/?start={start}")
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r"Week van \d+ \w+ \d{4}", page) and 'name="consent"' not in page


def test_bad_week_parameter_falls_back_to_this_week(frozen_day, practice):
    person, _, follow_up = practice
    for week in ("not-a-date", "0001-01-01", "9999-12-31"):
        response = Client().get(f"/p/{person.slug}/book/{follow_up.pk}/?week={week}")
        assert response.status_code == 200
        assert re.search(r"Week van \d+ \w+ \d{4}", response.content.decode())
