"""The practitioner's workspace through Django's test client: each page, each write."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from scheduler.booking import booking_create
from scheduler.models import Booking, DateOverride, Question, Session, WeeklyRule
from scheduler.selectors import slot_list
from tests import factories
from tests.page.conftest import next_monday
from workspace.models import QuestionAnswer

pytestmark = pytest.mark.django_db


def _at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=factories.AMSTERDAM)


def test_login_page_is_dutch_and_logs_in_through_the_backends(person):
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="nl")
    page = anonymous.get("/praktijk/")
    assert page.status_code == 302 and "/praktijk/inloggen/" in page["Location"]
    login = anonymous.get("/praktijk/inloggen/")
    assert "Inloggen" in login.content.decode()
    wrong = anonymous.post(
        "/praktijk/inloggen/", {"username": person.user.username, "password": "nope"}
    )
    assert wrong.status_code == 200 and "wachtwoord" in wrong.content.decode()
    right = anonymous.post(
        "/praktijk/inloggen/",
        {"username": person.user.username, "password": "a-long-test-password"},
    )
    assert right.status_code == 302 and right["Location"] == "/praktijk/"
    assert anonymous.get("/praktijk/").status_code == 200


def test_login_lockout_applies(person, settings):
    settings.AXES_FAILURE_LIMIT = 2
    anonymous = Client()
    for _ in range(2):
        anonymous.post("/praktijk/inloggen/", {"username": person.user.username, "password": "x"})
    locked = anonymous.post(
        "/praktijk/inloggen/",
        {"username": person.user.username, "password": "a-long-test-password"},
    )
    assert locked.status_code == 429


def test_a_user_without_a_practice_gets_404(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("nobody", password="x-long-password")
    http = Client()
    http.force_login(user)
    assert http.get("/praktijk/").status_code == 404


def test_every_page_answers_in_dutch_and_english(http, person, follow_up, series):
    booking = booking_create(
        appointment_type=follow_up,
        start=_at(next_monday() + timedelta(days=7), 9),
        client=factories.client(1),
        now=timezone.now(),
        notice_waived=True,
    ).booking
    Question.objects.create(
        practitioner=person,
        name="Vraagsteller",
        email="v@example.nl",
        message="Hoi?",
        created_at=timezone.now(),
    )
    question = Question.objects.get()
    urls = [
        "/praktijk/",
        "/praktijk/?span=day",
        f"/praktijk/afspraken/{booking.pk}/",
        f"/praktijk/afspraken/{booking.pk}/verzetten/",
        "/praktijk/afspraak-maken/",
        f"/praktijk/afspraak-maken/{series.pk}/",
        "/praktijk/uren/",
        "/praktijk/vrije-dagen/",
        "/praktijk/soorten/",
        "/praktijk/soorten/nieuw/",
        f"/praktijk/soorten/{series.pk}/",
        "/praktijk/agendas/",
        "/praktijk/vragen/",
        f"/praktijk/vragen/{question.pk}/",
    ]
    for url in urls:
        page = http.get(url)
        assert page.status_code == 200, url
        assert 'lang="nl"' in page.content.decode(), url
    assert "Maandag" in http.get("/praktijk/uren/").content.decode()
    agenda = http.get("/praktijk/?date=" + (next_monday() + timedelta(days=7)).isoformat())
    text = agenda.content.decode()
    assert "Client 1" in text and "bevestigd" in text and "vrij" in text
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(person.user)
    for url in urls:
        page = english.get(url)
        assert page.status_code == 200 and 'lang="en"' in page.content.decode(), url
    assert "Monday" in english.get("/praktijk/uren/").content.decode()


def test_phone_booking_waives_notice_and_horizon_and_never_overlaps(
    http, person, follow_up, mailoutbox, django_capture_on_commit_callbacks
):
    # Tomorrow is inside the 48-hour notice; five weeks ahead is beyond the 2-week horizon.
    far = next_monday() + timedelta(weeks=5)
    start = _at(far, 10)
    assert not slot_list(
        appointment_type=follow_up, first_day=far, last_day=far, now=timezone.now()
    )
    picker = http.get(f"/praktijk/afspraak-maken/{follow_up.pk}/?week={far.isoformat()}")
    assert str(int(start.timestamp())) in picker.content.decode()
    form = http.get(f"/praktijk/afspraak-maken/{follow_up.pk}/?start={int(start.timestamp())}")
    assert form.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        done = http.post(
            f"/praktijk/afspraak-maken/{follow_up.pk}/",
            {
                "start": int(start.timestamp()),
                "name": "Telefonische Klant",
                "email": "tel@example.nl",
                "phone": "06 1111 2222",
                "notes": "Belde om 10 uur",
                "language": "nl",
            },
        )
    booking = Booking.objects.get(client_name="Telefonische Klant")
    assert done.status_code == 302 and done["Location"] == f"/praktijk/afspraken/{booking.pk}/"
    assert booking.sessions.get().start == start
    assert any(m.to == ["tel@example.nl"] for m in mailoutbox)
    again = http.post(
        f"/praktijk/afspraak-maken/{follow_up.pk}/",
        {
            "start": int(start.timestamp()),
            "name": "Tweede",
            "email": "t@example.nl",
            "language": "nl",
        },
    )
    assert again.status_code == 409
    assert Booking.objects.filter(client_name="Tweede").count() == 0


def test_phone_booking_of_a_series_books_every_session(http, person, series):
    day = next_monday()
    start = _at(day, 9)
    http.post(
        f"/praktijk/afspraak-maken/{series.pk}/",
        {
            "start": int(start.timestamp()),
            "name": "Reeks",
            "email": "r@example.nl",
            "language": "en",
        },
    )
    booking = Booking.objects.get(client_name="Reeks")
    assert [s.start for s in booking.sessions.order_by("position")] == [
        start,
        _at(day + timedelta(days=3), 9),
        _at(day + timedelta(days=10), 9),
    ]
    assert booking.language == "en"


def test_move_and_cancel_with_a_message(
    http, person, follow_up, mailoutbox, django_capture_on_commit_callbacks
):
    day = next_monday() + timedelta(days=7)
    booking = booking_create(
        appointment_type=follow_up,
        start=_at(day, 9),
        client=factories.client(2),
        now=timezone.now(),
    ).booking
    target = _at(day + timedelta(days=1), 14)
    moved = http.post(
        f"/praktijk/afspraken/{booking.pk}/verzetten/", {"start": int(target.timestamp())}
    )
    assert moved.status_code == 302
    assert booking.sessions.get().start == target
    taken = http.post(f"/praktijk/afspraken/{booking.pk}/verzetten/", {"start": "12"})
    assert taken.status_code == 409
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        http.post(
            f"/praktijk/afspraken/{booking.pk}/annuleren/", {"message": "Ik ben helaas ziek."}
        )
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    [client_mail] = [m for m in mailoutbox if m.to == [booking.client_email]]
    assert "Ik ben helaas ziek." in client_mail.body
    page = http.get(f"/praktijk/afspraken/{booking.pk}/").content.decode()
    assert "geannuleerd" in page


def test_hours_by_weekday_with_a_lunch_break_and_dutch_overlap_message(http, person):
    data = {
        "d0-0-start": "09:00",
        "d0-0-end": "12:30",
        "d0-1-start": "13:30",
        "d0-1-end": "17:00",
        "d2-0-start": "10:00",
        "d2-0-end": "14:00",
    }
    assert http.post("/praktijk/uren/", data).status_code == 302
    assert list(
        WeeklyRule.objects.filter(practitioner=person).values_list("weekday", "start", "end")
    ) == [(0, time(9), time(12, 30)), (0, time(13, 30), time(17)), (2, time(10), time(14))]
    bad = http.post("/praktijk/uren/", {**data, "d0-1-start": "12:00"})
    assert bad.status_code == 200
    assert "Maandag: de tijden overlappen" in bad.content.decode()
    half = http.post("/praktijk/uren/", {"d1-0-start": "09:00"})
    assert "Vul beide tijden in." in half.content.decode()
    assert WeeklyRule.objects.filter(practitioner=person).count() == 3


def test_days_off_as_a_range_closed_or_other_hours(http, person, follow_up):
    first = next_monday() + timedelta(days=7)
    http.post(
        "/praktijk/vrije-dagen/",
        {
            "first": first.isoformat(),
            "last": (first + timedelta(days=6)).isoformat(),
            "kind": "closed",
        },
    )
    assert DateOverride.objects.filter(practitioner=person).count() == 7
    assert not slot_list(
        appointment_type=follow_up,
        first_day=first,
        last_day=first + timedelta(days=6),
        now=timezone.now(),
    )
    http.post(
        "/praktijk/vrije-dagen/",
        {"first": first.isoformat(), "kind": "other", "start_1": "10:00", "end_1": "11:00"},
    )
    override = DateOverride.objects.get(practitioner=person, date=first)
    assert list(override.ranges.values_list("start", "end")) == [(time(10), time(11))]
    bad = http.post(
        "/praktijk/vrije-dagen/",
        {
            "first": first.isoformat(),
            "kind": "other",
            "start_1": "10:00",
            "end_1": "11:00",
            "start_2": "10:30",
            "end_2": "12:00",
        },
    )
    assert "overlappen" in bad.content.decode()
    http.post(f"/praktijk/vrije-dagen/{override.pk}/verwijderen/")
    assert DateOverride.objects.filter(practitioner=person).count() == 6


def test_type_with_a_series_as_rows(http, person):
    done = http.post(
        "/praktijk/soorten/nieuw/",
        {
            "name": "Intake",
            "duration_minutes": "60",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "15",
            "notice_hours": "24",
            "horizon_weeks": "8",
            "slot_step_minutes": "",
            "active": "on",
            "series-TOTAL_FORMS": "3",
            "series-INITIAL_FORMS": "0",
            "series-0-day": "1",
            "series-0-duration_minutes": "60",
            "series-1-day": "4",
            "series-1-duration_minutes": "30",
            "series-2-day": "11",
            "series-2-duration_minutes": "30",
        },
    )
    assert done.status_code == 302
    kind = person.appointment_types.get(name="Intake")
    assert kind.series == [
        {"offset_days": 0, "duration_minutes": 60},
        {"offset_days": 3, "duration_minutes": 30},
        {"offset_days": 10, "duration_minutes": 30},
    ]
    assert (kind.min_notice_minutes, kind.max_days_ahead, kind.buffer_after_minutes) == (
        24 * 60,
        56,
        15,
    )
    form = http.get(f"/praktijk/soorten/{kind.pk}/").content.decode()
    assert 'name="series-2-day" value="11"' in form
    bad = http.post(
        f"/praktijk/soorten/{kind.pk}/",
        {
            "name": "Intake",
            "duration_minutes": "60",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "0",
            "notice_hours": "24",
            "horizon_weeks": "8",
            "series-TOTAL_FORMS": "2",
            "series-INITIAL_FORMS": "0",
            "series-0-day": "2",
            "series-0-duration_minutes": "60",
            "series-1-day": "1",
            "series-1-duration_minutes": "30",
        },
    )
    assert bad.status_code == 200 and "dag 1" in bad.content.decode()


def test_ics_subscription_sync_now_and_rotate(http, person, settings, monkeypatch):
    from sync import tasks
    from sync.models import CalendarConnection, FeedToken

    queued = []
    monkeypatch.setattr(tasks, "after_commit", lambda task, *a, **k: queued.append(task.name))
    settings.ICS_ALLOW_PRIVATE_URLS = False
    refused = http.post("/praktijk/agendas/ics/", {"url": "http://127.0.0.1/x.ics"}, follow=True)
    assert "kan niet worden gebruikt" in refused.content.decode()
    monkeypatch.setattr("sync.calendars.check_address", lambda url: None)
    http.post("/praktijk/agendas/ics/", {"url": "https://cal.example.com/a.ics", "name": "Privé"})
    connection = CalendarConnection.objects.get(practitioner=person)
    assert queued == ["sync.tasks.ics_sync"]
    http.post(f"/praktijk/agendas/{connection.pk}/sync/")
    assert "sync.tasks.ics_sync" in queued[1:]
    page = http.get("/praktijk/agendas/").content.decode()
    assert "Privé" in page and "/feeds/" in page
    old = set(FeedToken.objects.filter(practitioner=person).values_list("token", flat=True))
    http.post("/praktijk/agendas/feeds/vernieuwen/")
    new = set(FeedToken.objects.filter(practitioner=person).values_list("token", flat=True))
    assert old and not old & new
    http.post(f"/praktijk/agendas/{connection.pk}/verwijderen/")
    assert not CalendarConnection.objects.filter(pk=connection.pk).exists()


def test_google_connect_goes_through_the_oauth_flow(http, person, settings):
    settings.GOOGLE_CLIENT_ID = "client-id"
    settings.GOOGLE_CLIENT_SECRET = "secret"
    answer = http.post("/praktijk/agendas/google/")
    assert answer.status_code == 302
    assert answer["Location"].startswith(settings.GOOGLE_AUTH_URI)
    assert re.search(r"[?&]state=", answer["Location"])


def test_broker_down_does_not_fail_sync_now(http, person, monkeypatch):
    from sync import tasks
    from sync.models import CalendarConnection

    connection = CalendarConnection.objects.create(
        practitioner=person, kind="ics", url="https://cal.example.com/b.ics"
    )

    def down(*args, **kwargs):
        raise OSError("broker down")

    monkeypatch.setattr(tasks.ics_sync, "apply_async", down)
    monkeypatch.setattr(tasks.outbox_drain, "apply_async", down)
    assert http.post(f"/praktijk/agendas/{connection.pk}/sync/").status_code == 302


def test_question_reply_goes_through_the_outbox_and_marks_answered(
    http, person, django_capture_on_commit_callbacks
):
    from sync.models import OutboxItem

    question = Question.objects.create(
        practitioner=person,
        name="Els",
        email="els@example.nl",
        message="Helpt BSR bij rugpijn?",
        language="nl",
        created_at=timezone.now(),
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        http.post(
            f"/praktijk/vragen/{question.pk}/",
            {"action": "reply", "reply": "Ja, vaak wel. Hartelijke groet."},
        )
    assert OutboxItem.objects.filter(kind="mail", practitioner=person).exists()
    [sent] = [m for m in mail.outbox if m.to == ["els@example.nl"]]
    assert "Ja, vaak wel." in sent.body and "Helpt BSR" in sent.body
    assert sent.reply_to == ["praktijk@example.nl"]
    assert QuestionAnswer.objects.get(question=question).reply.startswith("Ja")
    other = Question.objects.create(
        practitioner=person,
        name="Piet",
        email="p@example.nl",
        message="?",
        created_at=timezone.now(),
    )
    http.post(f"/praktijk/vragen/{other.pk}/", {"action": "answered"})
    assert QuestionAnswer.objects.get(question=other).reply == ""
    listing = http.get("/praktijk/vragen/").content.decode()
    assert listing.count("· beantwoord<") == 2


def test_week_view_shows_busy_time_with_its_age_when_the_link_is_broken(http, person):
    from scheduler.models import BusyBlock
    from sync.models import CalendarConnection

    day = next_monday()
    connection = CalendarConnection.objects.create(
        practitioner=person,
        kind="ics",
        name="Gezin",
        url="https://cal.example.com/c.ics",
        status="error",
        last_error="The calendar could not be fetched.",
        last_success_at=timezone.now() - timedelta(days=3),
    )
    BusyBlock.objects.create(
        practitioner=person, start=_at(day, 10), end=_at(day, 11), source=connection.busy_source
    )
    page = http.get(f"/praktijk/?date={day.isoformat()}").content.decode()
    assert "10:00–11:00 bezet (Gezin)" in page
    assert "3\xa0dagen geleden" in page or "3 dagen geleden" in page
    assert "09:00–10:00 vrij" in page and "11:00–12:30 vrij" in page


def test_sessions_of_cancelled_bookings_are_shown_as_cancelled(http, person, follow_up):
    day = next_monday() + timedelta(days=7)
    booking = booking_create(
        appointment_type=follow_up,
        start=_at(day, 9),
        client=factories.client(3),
        now=timezone.now(),
    ).booking
    Session.objects.filter(booking=booking).update(status="cancelled")
    page = http.get(f"/praktijk/?span=day&date={day.isoformat()}").content.decode()
    assert "geannuleerd" in page


def test_series_rows_carry_follow_up_windows(http, person):
    """The BSR intake as practitioners set it: day 4 may be day 3 to 5, day 11 day 10 to 13."""
    rows = {
        "series-TOTAL_FORMS": "3",
        "series-INITIAL_FORMS": "0",
        "series-0-day": "1",
        "series-0-duration_minutes": "60",
        "series-1-day": "4",
        "series-1-duration_minutes": "30",
        "series-1-window_before_days": "1",
        "series-1-window_after_days": "1",
        "series-2-day": "11",
        "series-2-duration_minutes": "30",
        "series-2-window_before_days": "1",
        "series-2-window_after_days": "2",
    }
    base = {
        "name": "Intake met ruimte",
        "duration_minutes": "60",
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "0",
        "notice_hours": "24",
        "horizon_weeks": "8",
    }
    done = http.post("/praktijk/soorten/nieuw/", {**base, **rows})
    assert done.status_code == 302
    kind = person.appointment_types.get(name="Intake met ruimte")
    assert kind.series == [
        {"offset_days": 0, "duration_minutes": 60},
        {"offset_days": 3, "duration_minutes": 30, "window_before_days": 1, "window_after_days": 1},
        {
            "offset_days": 10,
            "duration_minutes": 30,
            "window_before_days": 1,
            "window_after_days": 2,
        },
    ]
    form = http.get(f"/praktijk/soorten/{kind.pk}/").content.decode()
    assert 'name="series-2-window_after_days" value="2"' in form
    # Windows that let two follow-ups share a day are refused, with the reason shown.
    overlapping = {**rows, "series-1-window_after_days": "6", "series-2-window_before_days": "4"}
    refused = http.post(f"/praktijk/soorten/{kind.pk}/", {**base, **overlapping})
    assert refused.status_code == 200 and 'role="alert"' in refused.content.decode()
    kind.refresh_from_db()
    assert kind.series[1]["window_after_days"] == 1  # nothing stored half-way
