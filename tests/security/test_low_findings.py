"""The low findings of issue 20, each as the outside review reproduced it over HTTP:
e-mail caps beaten by full-width domains, wait-list links in the server log, workspace pages
without no-store, a days-off date that overflows, and an unbounded wait-list range.
(The login lockout is in test_admin_login_limit.py, the parallel caps in
test_parallel_caps.py.)"""

import io
import json
import logging
import re
import time
from datetime import date, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter, SlugConverter
from django.utils import timezone

from config.logging import JsonFormatter, RedactSecrets, redact
from scheduler.booking import booking_create
from scheduler.models import Booking, DateOverride, Question, WaitlistEntry, WaitlistOffer
from sync import outbox
from tests import factories
from tests.security.conftest import at, book, token_client

pytestmark = pytest.mark.django_db

FULL_WIDTH = "cap@ｅｘａｍｐｌｅ.org"  # full-width letters: the point of the test
SOFT_HYPHEN = "cap@exa\u00admple.org"  # IDNA drops the soft hyphen: example.org


# --- e-mail addresses: one normal form for caps, storage and mail ------------------------------


def test_email_normalise_gives_the_address_the_mail_goes_to():
    from scheduler.emails import email_normalise

    assert email_normalise(FULL_WIDTH) == "cap@example.org"
    assert email_normalise(SOFT_HYPHEN) == "cap@example.org"
    assert email_normalise("  Cap@Example.ORG ") == "Cap@example.org"  # the local part as typed
    assert email_normalise("jan@BÜCHER.de") == "jan@bücher.de"  # shown as people write it
    assert email_normalise("jan@xn--bcher-kva.de") == "jan@bücher.de"
    assert email_normalise("a@straße.de") == "a@strasse.de"  # as IDNA (and so Django) sends it
    for address in (FULL_WIDTH, SOFT_HYPHEN, "jan@BÜCHER.de", "a@straße.de", "x@example.nl"):
        once = email_normalise(address)
        assert email_normalise(once) == once


def test_a_full_width_domain_counts_against_the_booking_cap(anon, follow_up, monday):
    for n in range(3):
        assert (
            book(anon, follow_up, at(monday, 9, 30 * n), email="cap@example.org").status_code == 201
        )
    for variant in (FULL_WIDTH, SOFT_HYPHEN, "CAP@EXAMPLE.ORG"):
        refused = book(anon, follow_up, at(monday, 11), email=variant)
        assert refused.status_code == 409, (variant, refused.json())
        assert refused.json()["code"] == "too_many_bookings"
    assert Booking.objects.count() == 3


def test_the_stored_address_is_the_one_the_mail_goes_to(
    anon, practitioner, follow_up, monday, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = book(anon, follow_up, at(monday, 9), email=FULL_WIDTH)
    assert created.status_code == 201
    booking = Booking.objects.get()
    assert booking.client_email == "cap@example.org"
    outbox.deliver_due(now=timezone.now())
    client_mails = [m for m in mail.outbox if "cap@example.org" in m.to]
    assert client_mails and all(m.message()["To"] == "cap@example.org" for m in client_mails)
    # The practitioner's export finds the client whichever way the address is written.
    exported = token_client(practitioner).post(
        "/api/v1/clients/export/", {"email": FULL_WIDTH}, format="json"
    )
    assert [b["id"] for b in exported.json()["bookings"]] == [booking.pk]


def test_a_full_width_domain_counts_against_the_waitlist_cap(anon, follow_up):
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    body = {
        "appointment_type": follow_up.pk,
        "name": "Wachtende",
        "earliest": (today + timedelta(days=2)).isoformat(),
        "latest": (today + timedelta(days=9)).isoformat(),
    }
    for email in ("cap@example.org", FULL_WIDTH, SOFT_HYPHEN):
        joined = anon.post("/api/v1/waitlist/", {**body, "email": email}, format="json")
        assert joined.status_code == 201, joined.json()
    refused = anon.post("/api/v1/waitlist/", {**body, "email": "cap@EXAMPLE.org"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "too_many_waitlist_entries"
    assert set(WaitlistEntry.objects.values_list("email", flat=True)) == {"cap@example.org"}


def test_a_question_keeps_the_address_its_answer_goes_to(practitioner):
    url = f"/p/{practitioner.slug}/question/"
    sent = Client().post(url, {"name": "Vrager", "email": FULL_WIDTH, "message": "Vraag?"})
    assert sent.status_code == 302
    assert Question.objects.get().email == "cap@example.org"


def test_with_redis_down_the_limits_wait_and_requests_go_on(practitioner, settings):
    """The limits' atomic step on Redis fails open, as the cache itself does (config/cache.py)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.PUBLIC_THROTTLE_RATES = {**settings.PUBLIC_THROTTLE_RATES, "question": "1/hour"}
    url = f"/p/{practitioner.slug}/question/"
    for n in range(2):
        body = {"name": "Vrager", "email": f"v{n}@example.nl", "message": "Vraag?"}
        assert Client().post(url, body).status_code == 302
    assert Question.objects.count() == 2


# --- wait-list links in the server log ---------------------------------------------------------


@pytest.fixture
def log_output():
    """What our log handler writes, attached where settings.LOGGING attaches it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    loggers = [logging.getLogger(), logging.getLogger("django")]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def test_waitlist_links_are_redacted_in_the_server_log(anon, follow_up, log_output):
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    joined = anon.post(
        "/api/v1/waitlist/",
        {
            "appointment_type": follow_up.pk,
            "name": "Wachtende",
            "email": "wacht@example.nl",
            "earliest": (today + timedelta(days=2)).isoformat(),
            "latest": (today + timedelta(days=9)).isoformat(),
        },
        format="json",
    )
    token = joined.json()["manage_url"].rstrip("/").rsplit("/", 1)[1]
    claim = "C" * 43  # a claim token nobody holds: a 404 that Django logs with its path
    client = Client()
    client.get(f"/waitlist/claim/{claim}/")
    client.delete(f"/waitlist/{token[:-2]}xx/")  # 404, logged
    client.delete(f"/waitlist/{token}/")
    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert any("/waitlist/claim/[redacted]/" in line["message"] for line in lines), output
    assert any("/waitlist/[redacted]/" in line["message"] for line in lines), output
    for secret in (token, token[:-2], claim):
        assert secret not in output
    # gunicorn's access log line (config/gunicorn.py logs the path) goes through redact().
    for path in (f"/waitlist/{token}/", f"/waitlist/claim/{claim}/"):
        assert token not in redact(f'127.0.0.1 "DELETE {path} HTTP/1.1" 204')
        assert claim not in redact(f'127.0.0.1 "GET {path} HTTP/1.1" 200')


def _routes(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            yield namespace, prefix, pattern


SECRET = "Zq3xV9kP_tR-2mWb7nYc4hJd8sLf6gAe1uKo5iQpXyT"  # 43 URL-safe characters, like ours
PUBLIC_PARAMETERS = {SlugConverter: "practice-slug", IntConverter: "12345"}


def test_every_path_that_carries_a_token_is_redacted_in_logs():
    """Walks the whole URLconf: a path parameter is a secret unless it is a number or a
    slug (a practice's public name); each secret in a sample path must come out of the log
    line as [redacted]. A new token-bearing path that the redaction misses fails here."""
    checked = []
    for namespace, prefix, pattern in _routes(get_resolver().url_patterns):
        if namespace == "admin":
            continue  # the admin's paths hold object ids and model names, no secrets
        route = prefix + str(pattern.pattern)
        converters = getattr(pattern.pattern, "converters", None)
        assert converters is not None, f"{route}: a regex pattern; classify its parameters"
        samples = {
            name: PUBLIC_PARAMETERS.get(type(converter), SECRET)
            for name, converter in converters.items()
        }
        secrets = [name for name, value in samples.items() if value == SECRET]
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m, s=samples: s[m.group(1)], route)
        assert resolve(path).url_name == pattern.name, path  # the sample path is real
        line = redact(f'127.0.0.1 "GET {path} HTTP/1.1" 200')
        if secrets:
            assert SECRET not in line and "[redacted]" in line, line
            checked.append(route)
        else:
            assert line == f'127.0.0.1 "GET {path} HTTP/1.1" 200'  # nothing else is touched
    assert {
        "manage/<manage_token:token>/",
        "api/v1/manage/<manage_token:token>/cancel/",
        "feeds/<str:token>/busy.ics",
        "waitlist/<manage_token:token>/",
        "waitlist/claim/<manage_token:token>/",
    } <= set(checked)


# --- no-store on every workspace page ----------------------------------------------------------


def test_every_workspace_page_is_sent_with_no_store(practices):
    """Walks workspace/urls.py: every page answers no-store, logged in or not, whatever the
    method (a POST-only page answers GET with 405, also not to be kept)."""
    from workspace import urls as workspace_urls

    a, _b = practices
    question = Question.objects.create(
        practitioner=a.person,
        name="Vrager",
        email="vrager@example.nl",
        message="Vraag",
        created_at=timezone.now(),
    )
    samples = {
        "booking_id": a.booking.pk,
        "type_id": a.type.pk,
        "override_id": a.override.pk,
        "connection_id": a.connection.pk,
        "question_id": question.pk,
    }
    walked = 0
    for pattern in workspace_urls.urlpatterns:
        names = pattern.pattern.converters
        missing = set(names) - set(samples)
        assert not missing, f"{pattern.pattern}: give a sample value for {missing}"
        route = "/praktijk/" + re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: str(samples[m.group(1)]), str(pattern.pattern)
        )
        for client in (a.client, Client()):
            response = client.get(route)
            assert response.status_code < 500, (route, response.status_code)
            assert "no-store" in response.get("Cache-Control", ""), (route, response.status_code)
            walked += 1
    assert walked == 2 * len(workspace_urls.urlpatterns) >= 2 * 22


def test_the_admin_desk_agenda_is_not_stored_either(practices):
    a, _b = practices
    day = a.day.isoformat()
    for url in (f"/admin/agenda/?date={day}", f"/admin/agenda/cancel/{a.booking.pk}/"):
        response = a.client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_workspace_pages_with_client_data_are_not_stored_after_a_post(practices):
    a, _b = practices
    moved = a.client.post(f"/praktijk/afspraken/{a.booking.pk}/annuleren/", {"message": ""})
    assert moved.status_code == 302 and "no-store" in moved["Cache-Control"]
    page = a.client.get(f"/praktijk/?span=day&date={a.day.isoformat()}")
    assert "Klant-A" in page.content.decode() and "no-store" in page["Cache-Control"]


# --- dates at the ends of the calendar ----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("9999-12-31", ""),
        ("9999-12-30", "9999-12-31"),
        ("0001-01-01", ""),
        ("0001-01-01", "0001-01-02"),
        ("2027-05-01", "9999-12-31"),
    ],
)
def test_days_off_at_the_ends_of_the_calendar_are_a_dutch_form_error(practices, first, last):
    a, _b = practices
    before = DateOverride.objects.count()
    response = a.client.post(
        "/praktijk/vrije-dagen/",
        {"first": first, "last": last, "kind": "closed"},
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Kies een datum tussen 2000 en 2999." in page
    assert DateOverride.objects.count() == before


EDGE_DATES = ["9999-12-31", "0001-01-01", "2999-12-31", "2000-01-01"]


@pytest.mark.parametrize("day", EDGE_DATES)
def test_other_date_inputs_at_the_ends_of_the_calendar_are_never_a_500(
    practices, anon, practitioner, follow_up, day
):
    a, _b = practices
    own = token_client(practitioner)
    workspace = [
        f"/praktijk/?date={day}",
        f"/praktijk/?span=day&date={day}",
        f"/praktijk/afspraak-maken/{a.type.pk}/?week={day}",
        f"/praktijk/afspraken/{a.booking.pk}/verzetten/?week={day}",
    ]
    for url in workspace:
        assert a.client.get(url).status_code < 500, url
    page = Client()
    slug, type_id = practitioner.slug, follow_up.pk
    for url in (
        f"/p/{slug}/book/{type_id}/?week={day}",
        f"/p/{slug}/book/{type_id}/waitlist/?week={day}",
    ):
        assert page.get(url).status_code < 500, url
    joined = page.post(
        f"/p/{slug}/book/{type_id}/waitlist/",
        {
            "earliest": day,
            "latest": day,
            "name": "Wachtende",
            "email": "w@example.nl",
            "consent": "on",
        },
    )
    assert joined.status_code < 500
    for url in (
        f"/api/v1/slots/?appointment_type={type_id}&start={day}&end={day}",
        f"/api/v1/bookings/?start={day}&end={day}",
        f"/api/v1/busy/?start={day}&end={day}",
    ):
        client = anon if url.startswith("/api/v1/slots/") else own
        assert client.get(url).status_code < 500, url
    for path, body in (
        ("/api/v1/availability/overrides/", {"date": day, "ranges": []}),
        (
            "/api/v1/waitlist/",
            {
                "appointment_type": type_id,
                "name": "Wachtende",
                "email": "w@example.nl",
                "earliest": day,
                "latest": day,
            },
        ),
    ):
        assert own.post(path, body, format="json").status_code < 500, path


# --- the wait-list range: bounded as the slots API is --------------------------------------------


@pytest.fixture
def five_minutes(practitioner):
    return factories.appointment_type(
        practitioner, duration_minutes=5, slot_step_minutes=5, max_days_ahead=365
    )


def _join_body(kind, first: date, last: date) -> dict:
    return {
        "appointment_type": kind.pk,
        "name": "Wachtende",
        "email": "lang@example.nl",
        "earliest": first.isoformat(),
        "latest": last.isoformat(),
    }


def test_a_waitlist_range_over_62_days_is_a_400_and_stores_nothing(anon, five_minutes):
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    began = time.monotonic()
    response = anon.post(
        "/api/v1/waitlist/",
        {
            **_join_body(five_minutes, today + timedelta(days=1), today + timedelta(days=365)),
            "language": "en",
        },
        format="json",
    )
    took = time.monotonic() - began
    assert response.status_code == 400
    assert response.json() == {"latest": ["The range may span at most 62 days."]}
    assert not WaitlistEntry.objects.exists() and not WaitlistOffer.objects.exists()
    assert took < 2, took  # it was 3.45 s: every free five minutes of a year stored
    first = today + timedelta(days=1)
    longest = anon.post(
        "/api/v1/waitlist/",
        _join_body(five_minutes, first, first + timedelta(days=61)),
        format="json",
    )
    assert longest.status_code == 201  # 62 days, as GET /api/v1/slots/ allows
    one_more = anon.post(
        "/api/v1/waitlist/",
        _join_body(five_minutes, first, first + timedelta(days=62)),
        format="json",
    )
    assert one_more.status_code == 400  # in Dutch without a language, as the page
    assert one_more.json() == {"latest": ["Kies een periode van hoogstens 62 dagen."]}


def test_the_waitlist_page_refuses_a_long_range_in_the_form(practitioner, five_minutes):
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    response = Client().post(
        f"/p/{practitioner.slug}/book/{five_minutes.pk}/waitlist/",
        {
            "earliest": (today + timedelta(days=1)).isoformat(),
            "latest": (today + timedelta(days=300)).isoformat(),
            "name": "Wachtende",
            "email": "lang@example.nl",
            "consent": "on",
        },
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    assert response.status_code == 400
    assert "62 dagen" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_the_slots_api_and_the_waitlist_share_one_bound():
    from api.v1 import slots
    from scheduler import bounds

    assert slots.MAX_SLOT_RANGE_DAYS is bounds.MAX_SLOT_RANGE_DAYS == 62


def test_booking_create_still_takes_the_address_as_given_by_the_practitioner(
    practitioner, follow_up, monday
):
    """The workspace books by phone without a cap, yet stores the normal form too."""
    result = booking_create(
        appointment_type=follow_up,
        start=at(monday, 9),
        client=factories.client(email=FULL_WIDTH),
        now=timezone.now(),
        by_practitioner=True,
    )
    assert result.booking.client_email == "cap@example.org"
