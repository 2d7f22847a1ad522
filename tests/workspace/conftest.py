from datetime import time

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def person(db):
    person = factories.practitioner(
        hours=[(time(9), time(12, 30)), (time(13, 30), time(17))], days=range(5)
    )
    person.email = "praktijk@example.nl"
    person.save()
    return person


@pytest.fixture
def follow_up(person):
    return factories.appointment_type(
        person,
        name="Vervolgbehandeling",
        duration_minutes=30,
        min_notice_minutes=48 * 60,
        max_days_ahead=14,
    )


@pytest.fixture
def series(person):
    return factories.intake_series(person, name="Eerste reeks", slot_step_minutes=60)


@pytest.fixture
def http(person):
    client = Client(HTTP_ACCEPT_LANGUAGE="nl")
    client.force_login(person.user)
    return client
