"""Celery tasks: thin wrappers that take ids, call services and retry."""

from celery import shared_task
from django.utils import timezone

from sync.models import Heartbeat

WORKER_HEARTBEAT = "worker"


@shared_task(name="sync.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Run by beat: shows that the schedule fires and a worker executes it."""
    Heartbeat.objects.update_or_create(name=WORKER_HEARTBEAT, defaults={"seen_at": timezone.now()})
