from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests import factories
from tests.api.schema_check import SchemaCheckedClient


# Both clients hold every exchange against the served OpenAPI schema (schema_check.py): what
# the service accepts must be valid there, and what it answers must be what it documents.
@pytest.fixture
def anon():
    return SchemaCheckedClient()


@pytest.fixture
def practitioner(db):
    return factories.practitioner()


@pytest.fixture
def api(practitioner):
    client = SchemaCheckedClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=practitioner.user).key}")
    return client


@pytest.fixture
def follow_up(practitioner):
    return factories.appointment_type(practitioner, duration_minutes=30)


@pytest.fixture
def monday(frozen_day):
    """A Monday two to three weeks ahead, in the practitioner's zone; the clock is at each of
    FROZEN_DAYS in turn."""
    today = timezone.localdate(timezone=factories.AMSTERDAM)
    return today + timedelta(days=14 + (7 - today.weekday()) % 7)
