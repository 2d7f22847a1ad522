"""Celery tasks: thin wrappers that take ids, call services and retry."""

from celery import shared_task
from django.utils import timezone

from sync.calendars import ics_connection_sync, ics_connections_due
from sync.models import CalendarConnection, Heartbeat

WORKER_HEARTBEAT = "worker"


@shared_task(name="sync.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Run by beat: shows that the schedule fires and a worker executes it."""
    Heartbeat.objects.update_or_create(name=WORKER_HEARTBEAT, defaults={"seen_at": timezone.now()})


@shared_task(name="sync.tasks.ics_sync_due", ignore_result=True)
def ics_sync_due() -> None:
    """Run by beat every minute: one sync task for each subscribed calendar that is due."""
    for connection_id in ics_connections_due(now=timezone.now()).values_list("pk", flat=True):
        ics_sync.delay(connection_id)


@shared_task(name="sync.tasks.ics_sync", ignore_result=True)
def ics_sync(connection_id: int, force: bool = False) -> None:
    connection = CalendarConnection.objects.filter(pk=connection_id).first()
    if connection is not None:
        ics_connection_sync(connection=connection, now=timezone.now(), force=force)
