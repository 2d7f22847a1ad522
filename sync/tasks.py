"""Celery tasks: thin wrappers that take ids, call services and retry."""

import logging
import smtplib
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from scheduler.models import Booking, Question
from scheduler.privacy import client_data_anonymise_expired
from sync import mail
from sync.calendars import ics_connection_sync, ics_connections_due
from sync.google import service as google
from sync.mail import unseal_manage_token
from sync.models import CalendarConnection, Heartbeat

WORKER_HEARTBEAT = "worker"
log = logging.getLogger(__name__)


def worker_heartbeat_recent(*, now) -> datetime | None:
    """The last heartbeat if it is recent enough to show worker and beat alive, else None."""
    seen = Heartbeat.objects.filter(name=WORKER_HEARTBEAT).values_list("seen_at", flat=True).first()
    allowed = timedelta(seconds=3 * settings.HEARTBEAT_INTERVAL_SECONDS + 30)
    return seen if seen is not None and now - seen <= allowed else None


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


MAIL_RETRY = {
    "autoretry_for": (OSError, smtplib.SMTPException),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 12,
}


@shared_task(name="sync.tasks.booking_mail", ignore_result=True, **MAIL_RETRY)
def booking_mail(
    booking_id: int, event: str, sealed_token: str | None = None, message: str = ""
) -> None:
    """E-mail the client (with the invitation) and the practitioner about one booking event."""
    booking = (
        Booking.objects.select_related("practitioner", "appointment_type")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        return
    if event == "created":
        token = unseal_manage_token(sealed_token) if sealed_token else None
        mail.booking_confirmation_send(booking, manage_token=token)
    elif event == "cancelled":
        mail.booking_cancelled_send(booking, message=message)
    else:
        mail.booking_rescheduled_send(booking)
    # Its own task: a retry of either message must not send the other one twice.
    practitioner_mail.delay(booking_id, event)


@shared_task(name="sync.tasks.practitioner_mail", ignore_result=True, **MAIL_RETRY)
def practitioner_mail(booking_id: int, event: str) -> None:
    booking = (
        Booking.objects.select_related("practitioner", "appointment_type")
        .filter(pk=booking_id)
        .first()
    )
    if booking is not None:
        mail.practitioner_notice_send(booking, event=event)


@shared_task(name="sync.tasks.question_mail", ignore_result=True, **MAIL_RETRY)
def question_mail(question_id: int) -> None:
    question = Question.objects.select_related("practitioner").filter(pk=question_id).first()
    if question is not None and question.emailed_at is None:
        mail.question_send(question, now=timezone.now())


@shared_task(name="sync.tasks.reminders_send", ignore_result=True)
def reminders_send() -> None:
    """Run by beat: a reminder the day before each appointment, once."""
    for session in mail.reminders_due(now=timezone.now()):
        try:
            mail.reminder_send(session, now=timezone.now())
        except (OSError, smtplib.SMTPException):
            # This one is tried again next hour; the others still go out now.
            log.warning("reminder for session %s failed", session.pk, exc_info=True)


@shared_task(name="sync.tasks.questions_resend", ignore_result=True)
def questions_resend() -> None:
    """Run by beat: questions whose e-mail never went out get another try."""
    for question_id in Question.objects.filter(emailed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        question_mail.delay(question_id)


@shared_task(name="sync.tasks.outbox_drain", ignore_result=True)
def outbox_drain(connection_id: int | None = None) -> None:
    """After a booking change (and every minute from beat): deliver due outbox items."""
    google.outbox_drain(now=timezone.now(), connection_id=connection_id)


@shared_task(name="sync.tasks.google_pull", ignore_result=True)
def google_pull(connection_id: int) -> None:
    connection = CalendarConnection.objects.filter(
        pk=connection_id, kind=CalendarConnection.Kind.GOOGLE
    ).first()
    if connection is not None:
        google.google_connection_pull(connection=connection, now=timezone.now())


@shared_task(name="sync.tasks.google_pull_due", ignore_result=True)
def google_pull_due() -> None:
    """Run by beat: the polling fallback behind push notifications."""
    cutoff = timezone.now() - timedelta(minutes=settings.GOOGLE_POLL_MINUTES)
    due = (
        CalendarConnection.objects.filter(kind=CalendarConnection.Kind.GOOGLE)
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=cutoff))
        .exclude(status=CalendarConnection.Status.RECONNECT_NEEDED)
    )
    for connection_id in due.values_list("pk", flat=True):
        google_pull.delay(connection_id)


@shared_task(name="sync.tasks.google_channels_renew", ignore_result=True)
def google_channels_renew() -> None:
    """Run by beat: keep a watch channel on every calendar that blocks time."""
    for connection in CalendarConnection.objects.filter(
        kind=CalendarConnection.Kind.GOOGLE, status=CalendarConnection.Status.OK
    ):
        google.channels_renew(connection=connection, now=timezone.now())


@shared_task(name="sync.tasks.google_setup", ignore_result=True)
def google_setup(connection_id: int) -> None:
    connection = CalendarConnection.objects.filter(pk=connection_id).first()
    if connection is not None:
        google.google_connection_setup(connection=connection, now=timezone.now())


@shared_task(name="sync.tasks.google_revoke", ignore_result=True, **MAIL_RETRY)
def google_revoke(encrypted_token: str) -> None:
    google.google_token_revoke(encrypted_token)


@shared_task(name="sync.tasks.privacy_retention", ignore_result=True)
def privacy_retention() -> None:
    """Run by beat daily: anonymise client data past the retention period."""
    client_data_anonymise_expired(
        now=timezone.now(), retention=timedelta(days=settings.RETENTION_DAYS)
    )
