"""Security tests' fixtures: real sockets on 127.0.0.1 (servers that answer, trickle, hang
or are not there), two practices in one admin (staff practitioners A and B), and a public
client of one practice."""

import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler.booking import booking_create
from scheduler.models import AppointmentType, Booking, BusyBlock, DateOverride, Practitioner
from scheduler.practice import date_override_save
from scheduler.selectors import slot_list
from sync.models import CalendarConnection
from tests import factories
from tests.page.conftest import next_monday

CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n"


class RawServer:
    """Accepts on 127.0.0.1 (or another loopback address) and runs `answer(conn)` per
    connection in a thread; records each request head it read."""

    def __init__(self, answer, host="127.0.0.1"):
        self.answer = answer
        self.heads: list[bytes] = []
        self.connections = 0
        self.cut = False  # the client hung up while we were still writing
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.host = host
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path="calendar.ics", host=None):
        return f"http://{host or self.host}:{self.port}/{path}"

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            try:
                self.answer(self, conn)
            except OSError:
                self.cut = True

    def read_head(self, conn) -> bytes:
        data = b""
        conn.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        self.heads.append(data)
        return data

    def close(self):
        self._stop = True
        self.sock.close()


def answer_calendar(server, conn):
    server.read_head(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(CALENDAR), CALENDAR)
    )


def answer_404(server, conn):
    server.read_head(conn)
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def answer_never(server, conn):
    server.read_head(conn)
    time.sleep(5)


def answer_hang_up(server, conn):
    server.read_head(conn)


def answer_trickled_head(server, conn):
    """The status line and headers one byte a second: each read is quick, the whole is not."""
    server.read_head(conn)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: 0\r\n\r\n":
        conn.sendall(bytes([byte]))
        time.sleep(1)


@pytest.fixture
def serve():
    servers = []

    def start(answer, host="127.0.0.1"):
        server = RawServer(answer, host)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def local_allowed(settings):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.ICS_TIMEOUT_SECONDS = 2
    return settings


@pytest.fixture
def private_refused(settings):
    settings.ICS_ALLOW_PRIVATE_URLS = False
    settings.ICS_ALLOWED_NETWORKS = []
    settings.ICS_TIMEOUT_SECONDS = 2
    return settings


@pytest.fixture
def resolver(monkeypatch):
    """Names under .example resolve as the test says; a list of answers is used in turn
    (the last repeats), so a name can rebind between lookups. `calls` counts lookups."""
    real = socket.getaddrinfo
    answers: dict[str, list] = {}
    calls: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if not isinstance(host, str) or not host.endswith(".example"):
            return real(host, port, *args, **kwargs)
        calls[host] = calls.get(host, 0) + 1
        queue = answers.get(host)
        if not queue:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            answer = answer()
        addresses = answer if isinstance(answer, list) else [answer]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port) if ":" not in a else (a, port, 0, 0),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    getaddrinfo.answers = answers
    getaddrinfo.calls = calls
    return getaddrinfo


# What a practitioner running their own practice in the admin is given.
PRACTICE_PERMISSIONS = {
    "scheduler": {
        "practitioner": ["view", "change"],
        "weeklyrule": ["view", "add", "change", "delete"],
        "dateoverride": ["view", "add", "change", "delete"],
        "dateoverriderange": ["view", "add", "change", "delete"],
        "appointmenttype": ["view", "add", "change", "delete"],
        "booking": ["view", "change", "delete"],
        "session": ["view"],
        "busyblock": ["view", "add", "change", "delete"],
    },
    "sync": {"calendarconnection": ["view", "add", "change", "delete"]},
}


def make_staff(person: Practitioner, extra: list[str] = ()) -> None:
    user = person.user
    user.is_staff = True
    user.save()
    for app, models in PRACTICE_PERMISSIONS.items():
        for model, actions in models.items():
            for action in actions:
                user.user_permissions.add(
                    Permission.objects.get(
                        content_type__app_label=app, codename=f"{action}_{model}"
                    )
                )
    for codename in extra:
        app, code = codename.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=code)
        )


@dataclass
class Practice:
    person: Practitioner
    client: Client
    type: AppointmentType
    booking: Booking
    override: DateOverride
    busy: BusyBlock
    connection: CalendarConnection
    day: object


def _practice(letter: str, day) -> Practice:
    person = factories.practitioner()
    person.name = f"Praktijk {letter}"
    person.save()
    make_staff(person)
    kind = factories.appointment_type(person, duration_minutes=30, name=f"Behandeling-{letter}")
    start = slot_list(appointment_type=kind, first_day=day, last_day=day, now=timezone.now())[
        0
    ].start
    booking = booking_create(
        appointment_type=kind,
        start=start,
        now=timezone.now(),
        client=factories.client(name=f"Klant-{letter}", email=f"klant-{letter.lower()}@example.nl"),
    ).booking
    override = date_override_save(
        practitioner=person, date=day.replace(year=day.year + 1), ranges=[(clock(13), clock(14))]
    )
    busy = BusyBlock.objects.create(
        practitioner=person,
        start=start,
        end=start + timedelta(minutes=30),
        source=f"ics:busy-{letter}",
    )
    connection = CalendarConnection.objects.create(
        practitioner=person,
        kind="ics",
        name=f"Kalender-{letter}",
        url=f"https://calendar-{letter.lower()}.example.com/secret-{letter}.ics",
        status="error",
        last_error=f"Foutmelding-{letter}",
    )
    http = Client()
    http.force_login(person.user)
    return Practice(person, http, kind, booking, override, busy, connection, day)


@pytest.fixture
def practices(db):
    day = next_monday()
    return _practice("A", day), _practice("B", day)


@pytest.fixture
def superuser_client(db):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@example.nl", "root-password")
    http = Client()
    http.force_login(root)
    return http


@pytest.fixture
def practitioner(db):
    return factories.practitioner()


@pytest.fixture
def follow_up(practitioner):
    return factories.appointment_type(practitioner, duration_minutes=30)


@pytest.fixture
def monday():
    """A Monday two to three weeks ahead, in the practitioner's zone."""
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    return today + timedelta(days=14 + (7 - today.weekday()) % 7)


@pytest.fixture
def anon():
    return APIClient()


def token_client(practitioner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=practitioner.user).key}")
    return client


def at(day, hour, minute=0) -> datetime:
    """Local wall-clock time on `day`; minutes may run past the hour (9, 90 is 10:30)."""
    return datetime.combine(day, clock(hour), tzinfo=factories.AMSTERDAM) + timedelta(
        minutes=minute
    )


def split_meta(extra: dict) -> tuple[dict, dict]:
    """(body fields, request META such as HTTP_ACCEPT_LANGUAGE or REMOTE_ADDR)."""
    meta = {k: v for k, v in extra.items() if k.startswith("HTTP_") or k == "REMOTE_ADDR"}
    return {k: v for k, v in extra.items() if k not in meta}, meta


def book(client, appointment_type, start, **extra):
    """POST /api/v1/bookings/ as JSON, with either Django's or DRF's test client."""
    fields, meta = split_meta(extra)
    body = {
        "appointment_type": appointment_type.pk,
        "start": start.isoformat(),
        "name": "Client",
        "email": "client@example.nl",
        **fields,
    }
    return client.post(
        "/api/v1/bookings/", json.dumps(body), content_type="application/json", **meta
    )
