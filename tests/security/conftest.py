import json
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories


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
    return datetime.combine(day, time(hour), tzinfo=factories.AMSTERDAM) + timedelta(minutes=minute)


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
