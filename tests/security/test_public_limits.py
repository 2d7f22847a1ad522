"""One address must not be able to hold the agenda: a cap of upcoming bookings per client
e-mail address (enforced under the booking lock), throttles per IPv6 /64, and no links in
the names the practice mails to whoever booked."""

from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_cancel, booking_create
from scheduler.exceptions import TooManyBookings
from scheduler.models import Booking
from tests import factories
from tests.audit import race
from tests.security.conftest import at, book, split_meta, token_client
from web.limits import client_network

pytestmark = pytest.mark.django_db


# --- the cap per client e-mail address ----------------------------------------------------


def test_a_fourth_upcoming_booking_of_one_address_is_refused_whatever_its_case(
    anon, follow_up, monday
):
    for n, email in enumerate(["cap@example.nl", "CAP@Example.NL", "  Cap@example.nl "]):
        response = book(anon, follow_up, at(monday, 9, 30 * n), email=email)
        assert response.status_code == 201, response.json()
    refused = book(anon, follow_up, at(monday, 11), email="cap@EXAMPLE.nl")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "too_many_bookings"
    assert "3 komende afspraken" in body["detail"]  # the booking's language: Dutch
    assert Booking.objects.count() == 3
    english = book(anon, follow_up, at(monday, 11), email="cap@example.nl", language="en")
    assert english.status_code == 409
    assert "already has 3 upcoming appointments" in english.json()["detail"]
    # Without `language` in the body, Accept-Language decides.
    accept = book(
        anon, follow_up, at(monday, 11), email="cap@example.nl", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "already has 3 upcoming" in accept.json()["detail"]
    # Another address is not affected.
    assert book(anon, follow_up, at(monday, 11), email="other@example.nl").status_code == 201


def test_a_series_counts_once_and_cancelled_or_past_bookings_not_at_all(practitioner, monday):
    series = factories.intake_series(practitioner)
    follow_up = factories.appointment_type(practitioner, duration_minutes=30)
    now = timezone.now()
    client = factories.client(email="series@example.nl")

    def create(appointment_type, start, when=now):
        return booking_create(
            appointment_type=appointment_type, start=start, client=client, now=when
        )

    create(series, at(monday, 9))  # three sessions, one booking
    create(follow_up, at(monday, 14))
    cancelled = create(follow_up, at(monday, 15)).booking
    booking_cancel(booking=cancelled, now=now)
    # Booked a while ago for a time that has ended by now: not upcoming.
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    last_monday = today - timedelta(days=today.weekday() + 7)
    create(follow_up, at(last_monday, 9), when=at(last_monday, 9) - timedelta(days=1))
    create(follow_up, at(monday, 15, 30))  # the third upcoming one
    with pytest.raises(TooManyBookings):
        create(follow_up, at(monday, 16))
    assert Booking.objects.count() == 5


def test_the_cap_is_per_practitioner_and_a_setting(anon, follow_up, monday, settings):
    other = factories.appointment_type(factories.practitioner(), duration_minutes=30)
    for n in range(3):
        assert book(anon, follow_up, at(monday, 9, 30 * n), email="p@example.nl").status_code == 201
    assert book(anon, other, at(monday, 9), email="p@example.nl").status_code == 201
    settings.MAX_UPCOMING_BOOKINGS_PER_EMAIL = 4
    assert book(anon, follow_up, at(monday, 11), email="p@example.nl").status_code == 201
    assert book(anon, follow_up, at(monday, 11, 30), email="p@example.nl").status_code == 409
    settings.MAX_UPCOMING_BOOKINGS_PER_EMAIL = 0  # off
    assert book(anon, follow_up, at(monday, 11, 30), email="p@example.nl").status_code == 201


def test_the_practitioner_booking_in_their_own_agenda_is_not_capped(
    practitioner, follow_up, monday
):
    own = token_client(practitioner)
    for n in range(5):
        response = book(own, follow_up, at(monday, 9, 30 * n), email="regular@example.nl")
        assert response.status_code == 201, response.json()
    # A logged-in session counts as the practitioner too.
    session = Client()
    session.force_login(practitioner.user)
    response = session.post(
        "/api/v1/bookings/",
        {
            "appointment_type": follow_up.pk,
            "start": at(monday, 13, 30).isoformat(),
            "name": "Regular",
            "email": "regular@example.nl",
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    # Anyone else, and another practitioner's token, are capped.
    assert book(Client(), follow_up, at(monday, 14), email="regular@example.nl").status_code == 409
    stranger = token_client(factories.practitioner())
    refused = book(stranger, follow_up, at(monday, 14), email="regular@example.nl")
    assert refused.status_code == 409 and refused.json()["code"] == "too_many_bookings"


def test_a_session_without_its_csrf_token_books_as_anyone_not_as_the_practitioner(
    practitioner, follow_up, monday
):
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(practitioner.user)
    for n in range(3):
        response = book(forged, follow_up, at(monday, 9, 30 * n), email="x@example.nl")
        assert response.status_code == 201  # a stale cookie still books
    assert book(forged, follow_up, at(monday, 11), email="x@example.nl").status_code == 409


def test_a_bad_token_still_books_as_anyone(anon, follow_up, monday):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert book(anon, follow_up, at(monday, 9)).status_code == 201


def _page_post(client, person, appointment_type, start, **extra):
    fields, meta = split_meta(extra)
    body = {
        "start": int(start.timestamp()),
        "name": "Page Client",
        "email": "page@example.nl",
        "consent": "on",
        **fields,
    }
    return client.post(f"/p/{person.slug}/book/{appointment_type.pk}/confirm/", body, **meta)


def test_the_booking_page_refuses_the_fourth_booking_in_the_form(practitioner, follow_up, monday):
    client = Client()
    for n in range(3):
        response = _page_post(client, practitioner, follow_up, at(monday, 9, 30 * n))
        assert response.status_code == 302
    refused = _page_post(client, practitioner, follow_up, at(monday, 11), email="PAGE@example.nl")
    assert refused.status_code == 409
    page = refused.content.decode()
    assert 'role="alert"' in page and "3 komende afspraken" in page
    assert 'name="consent"' in page  # the form again, filled in
    english = _page_post(client, practitioner, follow_up, at(monday, 11), HTTP_ACCEPT_LANGUAGE="en")
    assert "already has 3 upcoming appointments" in english.content.decode()
    assert Booking.objects.count() == 3


# --- parallel requests cannot pass the cap ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("connections")
def test_parallel_bookings_of_one_address_on_free_slots_stop_at_the_cap(practitioner, monday):
    follow_up = factories.appointment_type(practitioner, duration_minutes=30)
    now = timezone.now()
    starts = [at(monday + timedelta(days=d), h) for d in range(3) for h in (9, 10, 11, 14)]

    def call(n, start):
        email = f"  Racer@Example.nl{' ' * (n % 2)}"
        details = ClientDetails(name=f"Racer {n}", email=email.strip() if n % 3 else email)
        return lambda: booking_create(
            appointment_type=follow_up, start=start, client=details, now=now
        )

    outcomes = race([call(n, start) for n, start in enumerate(starts)])
    kinds = Counter(type(o).__name__ for o in outcomes)
    assert kinds == {"BookingResult": 3, "TooManyBookings": 9}, outcomes
    assert Booking.objects.count() == 3


# --- throttles per IPv6 /64 ---------------------------------------------------------------


def test_client_network_is_the_ipv4_address_or_the_ipv6_64():
    assert client_network("192.0.2.7") == "192.0.2.7"
    assert client_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_network("::ffff:192.0.2.7") == "192.0.2.7"


def test_every_address_of_one_ipv6_64_shares_one_slots_limit(anon, follow_up, monday, settings):
    settings.PUBLIC_THROTTLE_RATES = {**settings.PUBLIC_THROTTLE_RATES, "slots": "3/min"}
    url = f"/api/v1/slots/?appointment_type={follow_up.pk}&start={monday}&end={monday}"
    for n in range(3):
        assert anon.get(url, REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}").status_code == 200
    assert anon.get(url, REMOTE_ADDR="2001:db8:1:2:ffff:1:2:3").status_code == 429
    assert anon.get(url, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200  # the next /64
    assert anon.get(url, REMOTE_ADDR="192.0.2.1").status_code == 200
    assert anon.get(url, REMOTE_ADDR="192.0.2.2").status_code == 200  # IPv4: per address


def test_booking_limits_on_api_and_page_count_the_ipv6_64(
    practitioner, follow_up, monday, settings
):
    settings.PUBLIC_THROTTLE_RATES = {**settings.PUBLIC_THROTTLE_RATES, "booking": "2/min"}
    client = Client()
    first = book(client, follow_up, at(monday, 9), email="a@example.nl", REMOTE_ADDR="2001:db8::1")
    assert first.status_code == 201
    page = _page_post(
        client,
        practitioner,
        follow_up,
        at(monday, 9, 30),
        email="b@example.nl",
        REMOTE_ADDR="2001:db8::2",
    )
    assert page.status_code == 302
    api = book(client, follow_up, at(monday, 10), email="c@example.nl", REMOTE_ADDR="2001:db8::3")
    assert api.status_code == 429
    page = _page_post(
        client,
        practitioner,
        follow_up,
        at(monday, 10),
        email="c@example.nl",
        REMOTE_ADDR="2001:db8::4",
    )
    assert page.status_code == 200
    assert "Too many bookings from this address" in page.content.decode()
    other = book(client, follow_up, at(monday, 10), email="c@example.nl", REMOTE_ADDR="2001:db9::1")
    assert other.status_code == 201


# --- no links in client names -------------------------------------------------------------

LINKS = [
    "http://evil.example",
    "Visit https://x.y/z",
    "www.cheap-pills",
    "WWW.EXAMPLE",
    "win at evil.com",
    "bit.ly/abc",
    "Jan (janssen.nl)",
    "x@spam.nl",
    "пример.рф",
    "evil\uff0ecom",
]
NAMES = ["Jan de Vries", "J. de Vries", "J.P. Balkenende", "Anne-Marie O'Neil", "José García"]


@pytest.mark.parametrize("name", LINKS)
def test_the_api_refuses_a_link_in_the_name(anon, follow_up, monday, name):
    response = book(anon, follow_up, at(monday, 9), name=name, language="en")
    assert response.status_code == 400
    assert response.json()["name"] == ["Please enter your name without a web address or link."]
    assert not Booking.objects.exists()


@pytest.mark.parametrize("name", NAMES)
def test_ordinary_names_are_accepted(anon, follow_up, monday, name):
    response = book(anon, follow_up, at(monday, 9), name=name)
    assert response.status_code == 201
    assert Booking.objects.get().client_name == name


def test_the_link_refusal_speaks_dutch_by_default(anon, follow_up, monday):
    response = book(anon, follow_up, at(monday, 9), name="www.example.nl")
    assert response.json()["name"] == ["Vul uw naam in zonder webadres of link."]


def test_the_booking_page_refuses_a_link_in_the_name(practitioner, follow_up, monday, mailoutbox):
    response = _page_post(Client(), practitioner, follow_up, at(monday, 9), name="see evil.com")
    assert response.status_code == 200
    assert "Vul uw naam in zonder webadres of link." in response.content.decode()
    assert not Booking.objects.exists() and not mailoutbox
