"""GET /health/ answers 200 only when database, cache, broker, worker and beat are alive."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sync.models import Heartbeat
from sync.tasks import heartbeat

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthy_when_the_worker_heartbeat_is_recent():
    heartbeat()
    response = Client().get("/health/?format=json")
    assert response.status_code == 200, response.content


def test_503_without_a_worker_heartbeat():
    response = Client().get("/health/?format=json")
    assert response.status_code == 503
    assert "heartbeat" in response.content.decode().lower()


def test_503_when_the_heartbeat_is_old(settings):
    Heartbeat.objects.create(name="worker", seen_at=timezone.now() - timedelta(hours=1))
    assert Client().get("/health/?format=json").status_code == 503


def test_503_when_the_broker_does_not_answer(settings):
    heartbeat()
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert Client().get("/health/?format=json").status_code == 503
