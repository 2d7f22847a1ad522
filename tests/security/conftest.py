"""Two practices in one admin: staff practitioners A and B, each with a booking and more."""

from dataclasses import dataclass
from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from scheduler.booking import booking_create
from scheduler.models import AppointmentType, Booking, BusyBlock, DateOverride, Practitioner
from scheduler.practice import date_override_save
from scheduler.selectors import slot_inputs
from scheduler.slots import available_slots
from sync.models import CalendarConnection
from tests import factories
from tests.page.conftest import next_monday

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
    inputs = slot_inputs(appointment_type=kind, start=day, end=day)
    start = available_slots(inputs, now=timezone.now(), start=day, end=day)[0].start
    booking = booking_create(
        appointment_type=kind,
        start=start,
        now=timezone.now(),
        client=factories.client(name=f"Klant-{letter}", email=f"klant-{letter.lower()}@example.nl"),
    ).booking
    override = date_override_save(
        practitioner=person, date=day.replace(year=day.year + 1), ranges=[(time(13), time(14))]
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
