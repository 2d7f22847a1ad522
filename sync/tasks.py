"""Celery tasks: each takes ids, calls a service or the connectors, and returns.

The code below the tasks never imports them: it asks for a task by name through
sync/jobs.py, which `job_send`/`job_after_commit` serve (registered in sync/apps.py).
"""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from scheduler.privacy import client_data_anonymise_expired
from sync import connectors, mail, outbox
from sync.caldav.service import caldav_connection_pull, caldav_connection_setup
from sync.calendars import ics_connection_sync
from sync.google.pull import google_connection_pull, google_connection_setup
from sync.google.watch import channels_renew_all
from sync.models import CalendarConnection, Heartbeat
from sync.secrets import secrets_reencrypt as reencrypt
from sync.waitlist import waitlist_offers_send
from sync.waitlist import waitlist_sweep as sweep

log = logging.getLogger(__name__)

WORKER_HEARTBEAT = "worker"


def after_commit(task, *args, **kwargs) -> None:
    """Ask a worker for `task` once the transaction commits. Never fails the caller: when
    the broker cannot be reached the work waits for beat's schedule (every task asked for
    this way is also run by beat, or is a "do it sooner" only)."""

    def send():
        try:
            task.apply_async(args=args, kwargs=kwargs, retry=False)
        except Exception:  # any broker trouble only delays
            log.warning("broker unreachable: %s waits for its schedule", task.name)

    transaction.on_commit(send)


def _task(name: str):
    task = globals().get(name)
    if not hasattr(task, "apply_async"):
        raise LookupError(f"sync.tasks has no task {name!r}")
    return task


def job_send(name: str, *args, **kwargs) -> None:
    """sync.jobs.send: the task `name` now (the caller handles a broker that is down)."""
    _task(name).apply_async(args=args, kwargs=kwargs, retry=False)


def job_after_commit(name: str, *args, **kwargs) -> None:
    """sync.jobs.after_commit: the task `name` once the transaction commits."""
    after_commit(_task(name), *args, **kwargs)


def worker_heartbeat_recent(*, now) -> datetime | None:
    """The last heartbeat if it is recent enough to show worker and beat alive, else None."""
    seen = Heartbeat.objects.filter(name=WORKER_HEARTBEAT).values_list("seen_at", flat=True).first()
    allowed = timedelta(seconds=3 * settings.HEARTBEAT_INTERVAL_SECONDS + 30)
    return seen if seen is not None and now - seen <= allowed else None


@shared_task(
    name="sync.tasks.heartbeat",
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_kwargs={"max_retries": 12, "countdown": 5},
)
def heartbeat() -> None:
    """Run by beat: shows that the schedule fires and a worker executes it.

    Beat sends one as it starts (config/celery_app.py). compose starts web's `migrate`,
    the worker and beat at once, so on a first deploy that one may come before the table
    exists: a database error is tried again every 5 s for a minute rather than leaving
    /health/ at 503 until the next interval."""
    Heartbeat.objects.update_or_create(name=WORKER_HEARTBEAT, defaults={"seen_at": timezone.now()})


# --- calendars, whatever their kind (sync/connectors.py) ------------------------------------


@shared_task(name="sync.tasks.calendars_read_due", ignore_result=True)
def calendars_read_due() -> None:
    """Run by beat every minute: each kind asks for a read of its connections that are due."""
    for connector in connectors.every():
        try:
            connector.read_due(now=timezone.now())
        except Exception:  # one kind's trouble must not stop the others' reads
            log.exception("finding the %s calendars due failed", connector.kind)


@shared_task(name="sync.tasks.ics_sync_due", ignore_result=True)
def ics_sync_due() -> None:
    """The name beat used before calendars_read_due read every kind; a message still
    queued under it does the same."""
    calendars_read_due()


@shared_task(name="sync.tasks.calendars_upkeep", ignore_result=True)
def calendars_upkeep() -> None:
    """Run by beat hourly: whatever each kind must renew (Google's watch channels)."""
    for connector in connectors.every():
        try:
            connector.upkeep(now=timezone.now())
        except Exception:
            log.exception("the upkeep of the %s calendars failed", connector.kind)


def _connection(connection_id: int, kind: str) -> CalendarConnection | None:
    return CalendarConnection.objects.filter(pk=connection_id, kind=kind).first()


@shared_task(name="sync.tasks.ics_sync", ignore_result=True)
def ics_sync(connection_id: int, force: bool = False) -> None:
    connection = _connection(connection_id, CalendarConnection.Kind.ICS)
    if connection is not None:
        ics_connection_sync(connection=connection, now=timezone.now(), force=force)


@shared_task(name="sync.tasks.google_pull", ignore_result=True)
def google_pull(connection_id: int) -> None:
    connection = _connection(connection_id, CalendarConnection.Kind.GOOGLE)
    if connection is not None:
        google_connection_pull(connection=connection, now=timezone.now())


@shared_task(name="sync.tasks.google_setup", ignore_result=True)
def google_setup(connection_id: int) -> None:
    connection = _connection(connection_id, CalendarConnection.Kind.GOOGLE)
    if connection is not None:
        google_connection_setup(connection=connection, now=timezone.now())


@shared_task(name="sync.tasks.google_channels_renew", ignore_result=True)
def google_channels_renew() -> None:
    """Keep a watch channel on every calendar that blocks time (calendars_upkeep runs the
    same hourly)."""
    channels_renew_all(now=timezone.now())


@shared_task(name="sync.tasks.caldav_setup", ignore_result=True)
def caldav_setup(connection_id: int) -> None:
    """After a CalDAV connection is added or its password changed: discover and pull."""
    connection = _connection(connection_id, CalendarConnection.Kind.CALDAV)
    if connection is not None:
        caldav_connection_setup(connection=connection, now=timezone.now())


@shared_task(name="sync.tasks.caldav_pull", ignore_result=True)
def caldav_pull(connection_id: int, force: bool = False) -> None:
    connection = _connection(connection_id, CalendarConnection.Kind.CALDAV)
    if connection is not None:
        caldav_connection_pull(connection=connection, now=timezone.now(), force=force)


# --- the outbox (sync/outbox.py) ------------------------------------------------------------


@shared_task(name="sync.tasks.outbox_deliver", ignore_result=True)
def outbox_deliver(ids: list[int]) -> None:
    """Asked for right after a change commits: deliver its outbox items now."""
    outbox.deliver_due(now=timezone.now(), ids=ids)


@shared_task(name="sync.tasks.outbox_drain", ignore_result=True)
def outbox_drain(connection_id: int | None = None) -> None:
    """Every minute from beat (and on "sync now"): deliver every due outbox item."""
    outbox.deliver_due(now=timezone.now(), connection_id=connection_id)


@shared_task(name="sync.tasks.reminders_send", ignore_result=True)
def reminders_send() -> None:
    """Run by beat: a reminder the day before each appointment, once."""
    for session in mail.reminders_due(now=timezone.now()):
        mail.reminder_queue(session, now=timezone.now())


# --- housekeeping ---------------------------------------------------------------------------


@shared_task(name="sync.tasks.privacy_retention", ignore_result=True)
def privacy_retention() -> None:
    """Run by beat daily: anonymise client data past the retention period."""
    client_data_anonymise_expired(
        now=timezone.now(), retention=timedelta(days=settings.RETENTION_DAYS)
    )


@shared_task(name="sync.tasks.secrets_reencrypt", ignore_result=True)
def secrets_reencrypt() -> None:
    """Run by beat weekly: every secret under the newest TOKEN_ENCRYPTION_KEYS key."""
    reencrypt()


# --- wait list ------------------------------------------------------------------------------


@shared_task(name="sync.tasks.waitlist_check", ignore_result=True)
def waitlist_check(practitioner_id: int) -> None:
    """Asked for when a booking frees time: offer it to the wait list now."""
    waitlist_offers_send(practitioner_id=practitioner_id, now=timezone.now())


@shared_task(name="sync.tasks.waitlist_sweep", ignore_result=True)
def waitlist_sweep() -> None:
    """Run by beat every WAITLIST_SWEEP_SECONDS: expire entries, offer what is free (also
    time freed by new hours or removed busy blocks), start the next waves."""
    sweep(now=timezone.now())
