"""Workspace tenancy: practitioner B can neither see nor change anything of A's.

Every workspace URL that takes an id is tried by B with A's ids (GET and POST): 404, A's
data unchanged, no e-mail. Lists and the agenda show B only their own."""

from datetime import time

import pytest
from django.core import mail
from django.utils import timezone

from scheduler.models import Question
from sync.models import CalendarConnection, FeedToken
from tests.security.test_admin_tenancy import snapshot
from workspace.models import QuestionAnswer

pytestmark = pytest.mark.django_db


def _question(practice, letter):
    return Question.objects.create(
        practitioner=practice.person,
        name=f"Vrager-{letter}",
        email=f"vrager-{letter.lower()}@example.nl",
        message=f"Vraag-{letter}",
        created_at=timezone.now(),
    )


def _id_urls(a, question) -> list[str]:
    return [
        f"/praktijk/afspraken/{a.booking.pk}/",
        f"/praktijk/afspraken/{a.booking.pk}/annuleren/",
        f"/praktijk/afspraken/{a.booking.pk}/verzetten/",
        f"/praktijk/afspraak-maken/{a.type.pk}/",
        f"/praktijk/soorten/{a.type.pk}/",
        f"/praktijk/vrije-dagen/{a.override.pk}/verwijderen/",
        f"/praktijk/agendas/{a.connection.pk}/sync/",
        f"/praktijk/agendas/{a.connection.pk}/verwijderen/",
        f"/praktijk/vragen/{question.pk}/",
    ]


def test_lists_and_agenda_show_only_own_rows(practices):
    a, b = practices
    _question(a, "A")
    _question(b, "B")
    day = a.day.isoformat()
    pages = {
        "agenda": f"/praktijk/?date={day}",
        "day": f"/praktijk/?span=day&date={day}",
        "types": "/praktijk/soorten/",
        "choose": "/praktijk/afspraak-maken/",
        "days-off": "/praktijk/vrije-dagen/",
        "calendars": "/praktijk/agendas/",
        "questions": "/praktijk/vragen/",
    }
    for name, url in pages.items():
        html = b.client.get(url).content.decode()
        for secret in ("Klant-A", "Behandeling-A", "Kalender-A", "Foutmelding-A", "Vrager-A"):
            assert secret not in html, (name, secret)
    html = b.client.get(pages["agenda"]).content.decode()
    assert "Klant-B" in html
    tokens_a = FeedToken.objects.filter(practitioner=a.person).values_list("token", flat=True)
    calendars = b.client.get(pages["calendars"]).content.decode()
    assert not any(token in calendars for token in tokens_a)


def test_another_practices_ids_are_404_for_get_and_post_and_change_nothing(practices):
    a, b = practices
    question = _question(a, "A")
    before = snapshot(a)
    mail.outbox.clear()
    for url in _id_urls(a, question):
        assert b.client.get(url).status_code in (404, 405), url
        posted = b.client.post(
            url,
            {
                "message": "overgenomen",
                "start": "1900000000",
                "name": "overgenomen",
                "email": "x@example.nl",
                "language": "nl",
                "duration_minutes": "30",
                "buffer_before_minutes": "0",
                "buffer_after_minutes": "0",
                "notice_hours": "0",
                "horizon_weeks": "4",
                "series-TOTAL_FORMS": "0",
                "series-INITIAL_FORMS": "0",
                "reply": "overgenomen",
                "action": "reply",
            },
        )
        assert posted.status_code == 404, url
    assert snapshot(a) == before
    assert not QuestionAnswer.objects.filter(question=question).exists()
    assert CalendarConnection.objects.filter(pk=a.connection.pk).exists()
    assert mail.outbox == []
    # A still reaches their own.
    for url in [*_id_urls(a, question)[:1], f"/praktijk/soorten/{a.type.pk}/"]:
        assert a.client.get(url).status_code == 200, url


def test_rotating_feeds_touches_only_own(practices):
    a, b = practices
    a.client.get("/praktijk/agendas/")
    before = set(FeedToken.objects.filter(practitioner=a.person).values_list("token", flat=True))
    b.client.post("/praktijk/agendas/feeds/vernieuwen/")
    after = set(FeedToken.objects.filter(practitioner=a.person).values_list("token", flat=True))
    assert before == after


def test_hours_and_days_off_change_only_own(practices):
    a, b = practices
    rules_a = list(a.person.weekly_rules.values_list("weekday", "start", "end"))
    overrides_a = list(a.person.date_overrides.values_list("date", flat=True))
    b.client.post("/praktijk/uren/", {"d0-0-start": "08:00", "d0-0-end": "09:00"})
    b.client.post("/praktijk/vrije-dagen/", {"first": a.day.isoformat(), "kind": "closed"})
    assert list(a.person.weekly_rules.values_list("weekday", "start", "end")) == rules_a
    assert list(a.person.date_overrides.values_list("date", flat=True)) == overrides_a
    assert list(b.person.weekly_rules.values_list("weekday", "start", "end")) == [
        (0, time(8), time(9))
    ]


def test_a_superuser_without_a_practice_sees_no_workspace(superuser_client, practices):
    assert superuser_client.get("/praktijk/").status_code == 404
    a, _ = practices
    assert superuser_client.get(f"/praktijk/afspraken/{a.booking.pk}/").status_code == 404
