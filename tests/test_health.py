"""GET /health/ answers 200 only when database, cache, broker, worker and beat are alive."""

from datetime import timedelta

import pytest
from django.db import ProgrammingError, connection
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


def test_a_heartbeat_before_migrate_finished_is_tried_again_not_lost(monkeypatch):
    """compose starts web's migrate, worker and beat at once: beat's first heartbeat may
    reach the worker before its table exists (the production stage of CI saw it)."""
    failures = []

    def not_migrated_yet(execute, sql, params, many, context):
        if "sync_heartbeat" in sql and len(failures) < 2:
            failures.append(sql)
            raise ProgrammingError('relation "sync_heartbeat" does not exist')
        return execute(sql, params, many, context)

    # As a worker runs it: Celery handles the error (the tests' eager mode would raise it);
    # eager, the retries come at once instead of after their countdown.
    monkeypatch.setitem(heartbeat.app.conf, "task_eager_propagates", False)
    with connection.execute_wrapper(not_migrated_yet):
        result = heartbeat.apply()
    assert result.state == "SUCCESS", result.traceback
    assert len(failures) == 2
    assert Heartbeat.objects.filter(name="worker").exists()
